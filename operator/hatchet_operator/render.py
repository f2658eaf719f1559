"""Render a HatchetWorker into the Deployment that runs it (pure: no I/O, no clock).

The output is the *applied configuration* for server-side apply: exactly the fields the operator
owns, nothing defaulted by the apiserver. Anything not set here is left to other field managers (for
example ``spec.replicas`` when the HatchetWorker leaves it to an autoscaler).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hatchet_operator.api import v1alpha1 as api

FIELD_MANAGER = "hatchet-operator"
CONTAINER_NAME = "worker"
HEALTH_PORT_NAME = "health"
APP_NAME = "hatchet-worker"
TMP_VOLUME = "hatchet-tmp"
CA_VOLUME = "hatchet-tls-ca"
CA_DIR = "/etc/hatchet/tls/ca"
CLIENT_CERT_VOLUME = "hatchet-tls-client"
CLIENT_CERT_DIR = "/etc/hatchet/tls/client"
# Seconds added to the drain timeout for terminationGracePeriodSeconds: the SDK's shutdown margin
# (10 s after the drain: cancel, flush, listener stop, lifespan teardown; see docs/sdk.md) plus 5 s
# for signal delivery and process exit, so the kubelet's SIGKILL never lands inside the SDK's budget.
TEARDOWN_SECONDS = 15
DEFAULT_UID = 65532

LABEL_NAME = "app.kubernetes.io/name"
LABEL_INSTANCE = "app.kubernetes.io/instance"
LABEL_COMPONENT = "app.kubernetes.io/component"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_PART_OF = "app.kubernetes.io/part-of"
MANAGED_BY = "hatchet-operator"


class RenderError(Exception):
    """The HatchetWorker cannot be rendered; ``reason`` is a condition reason (CamelCase)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class RenderOptions:
    """Operator-wide inputs to rendering."""

    default_image: str | None = None
    """Image for HatchetWorkers that do not set spec.image (the --default-image flag)."""


@dataclass(frozen=True)
class ProbeDefaults:
    """Default path and tuning of one probe."""

    path: str
    period_seconds: int
    failure_threshold: int
    timeout_seconds: int = 5
    initial_delay_seconds: int = 0


@dataclass(frozen=True)
class ProbeSet:
    startup: ProbeDefaults
    liveness: ProbeDefaults
    readiness: ProbeDefaults


# Startup: up to 2 minutes (2 s x 60) for the first HEALTHY; both SDKs serve /health.
STARTUP = ProbeDefaults(api.DEFAULT_HEALTH_PATH, period_seconds=2, failure_threshold=60)
PROBE_PROFILES: dict[api.ProbeProfile, ProbeSet] = {
    # This project's SDK: /livez fails only for a zombie (listener dead or given up, IPC pump dead or
    # stuck), so ~45 s is enough; /readyz takes the pod out of Service endpoints during an outage.
    api.ProbeProfile.HATCHET_WORKER: ProbeSet(
        startup=STARTUP,
        liveness=ProbeDefaults("/livez", period_seconds=15, failure_threshold=3),
        readiness=ProbeDefaults("/readyz", period_seconds=10, failure_threshold=3),
    ),
    # The official SDK serves only /health, which turns 503 on the first failed heartbeat: an
    # engine outage looks like a sick worker. The liveness window (15 s x 20 = 5 minutes) is what
    # keeps a fleet from restarting itself during an outage shorter than that.
    api.ProbeProfile.OFFICIAL_SDK: ProbeSet(
        startup=STARTUP,
        liveness=ProbeDefaults(api.DEFAULT_HEALTH_PATH, period_seconds=15, failure_threshold=20),
        readiness=ProbeDefaults(api.DEFAULT_HEALTH_PATH, period_seconds=10, failure_threshold=3),
    ),
}


def selector_labels(name: str) -> dict[str, str]:
    """The Deployment's (immutable) pod selector."""
    return {LABEL_NAME: APP_NAME, LABEL_INSTANCE: name}


def object_labels(name: str) -> dict[str, str]:
    """Labels on the Deployment and its pods."""
    return {
        **selector_labels(name),
        LABEL_COMPONENT: "worker",
        LABEL_PART_OF: "hatchet",
        LABEL_MANAGED_BY: MANAGED_BY,
    }


def selector_string(name: str) -> str:
    """The pod selector in label-selector syntax, for status.selector (HPA, KEDA, kubectl)."""
    return ",".join(f"{k}={v}" for k, v in sorted(selector_labels(name).items()))


def owner_labels(worker: api.HatchetWorker) -> dict[str, str]:
    """The worker labels that tell this HatchetWorker's workers at the engine (the autoscaler reads
    its workers by them)."""
    labels = {api.OWNER_LABEL_KEY: worker.metadata.name}
    if worker.spec.autoscaling is not None:
        labels[api.NAMESPACE_LABEL_KEY] = worker.metadata.namespace or ""
    return labels


def preset_labels(worker: api.HatchetWorker) -> str:
    """HATCHET_CLIENT_WORKER_PRESET_LABELS: the user's labels plus the owner label, as compact JSON.

    The kubelet expands ``$(VAR)`` in every env value, so each ``$`` of the labels is doubled (which it
    reads back as one): a label value can never pull another variable, such as the token, into the
    labels the engine stores. When autoscaled, the pod's name is added as ``$(HATCHET_KUBE_POD_NAME)``,
    the one reference meant to expand (that variable is defined earlier in the same list).
    """
    labels: dict[str, int | str] = {**(worker.spec.labels or {}), **owner_labels(worker)}
    text = json.dumps(labels, sort_keys=True, separators=(",", ":")).replace("$", "$$")
    if worker.spec.autoscaling is not None:
        text = f'{text[:-1]},"{api.POD_LABEL_KEY}":"$(HATCHET_KUBE_POD_NAME)"}}'
    return text


def _hatchet(worker: api.HatchetWorker) -> api.HatchetConnection:
    return worker.spec.hatchet or api.HatchetConnection()


def _health(worker: api.HatchetWorker) -> api.HealthCheck:
    return worker.spec.health_check or api.HealthCheck()


def drain_timeout(worker: api.HatchetWorker) -> int:
    return (worker.spec.drain or api.Drain()).timeout_seconds


def worker_env(worker: api.HatchetWorker) -> list[dict[str, Any]]:
    """The container environment: the operator's contract first, then the user's ``env``."""
    spec = worker.spec
    conn = _hatchet(worker)
    tls = conn.tls or api.TLS()
    health = _health(worker)
    env: list[dict[str, Any]] = [
        {"name": "HATCHET_KUBE_POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {
            "name": "HATCHET_KUBE_POD_NAMESPACE",
            "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}},
        },
        {"name": "HATCHET_KUBE_NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
        {
            "name": "HATCHET_CLIENT_TOKEN",
            "valueFrom": {"secretKeyRef": {"name": conn.token_secret_ref.name, "key": conn.token_secret_ref.key}},
        },
    ]

    def add(name: str, value: str | int | None) -> None:
        if value is not None:
            env.append({"name": name, "value": str(value)})

    add("HATCHET_CLIENT_HOST_PORT", conn.host_port)
    add("HATCHET_CLIENT_SERVER_URL", conn.server_url)
    add("HATCHET_CLIENT_TLS_STRATEGY", tls.strategy.value if tls.strategy else None)
    add("HATCHET_CLIENT_TLS_ROOT_CA_FILE", f"{CA_DIR}/ca.crt" if tls.ca_secret_ref else None)
    add("HATCHET_CLIENT_TLS_CERT_FILE", f"{CLIENT_CERT_DIR}/tls.crt" if tls.client_cert_secret_ref else None)
    add("HATCHET_CLIENT_TLS_KEY_FILE", f"{CLIENT_CERT_DIR}/tls.key" if tls.client_cert_secret_ref else None)
    add("HATCHET_CLIENT_TLS_SERVER_NAME", tls.server_name)
    add("HATCHET_CLIENT_NAMESPACE", conn.namespace)
    if health.enabled:
        add("HATCHET_CLIENT_WORKER_HEALTHCHECK_ENABLED", "true")
        add("HATCHET_CLIENT_WORKER_HEALTHCHECK_PORT", health.port)
    add("HATCHET_CLIENT_WORKER_NAME", spec.worker_name or worker.metadata.name)
    add("HATCHET_CLIENT_WORKER_SLOTS", spec.slots)
    add("HATCHET_CLIENT_WORKER_DURABLE_SLOTS", spec.durable_slots)
    add("HATCHET_CLIENT_WORKER_PRESET_LABELS", preset_labels(worker))
    add("HATCHET_CLIENT_WORKER_DRAIN_TIMEOUT_SECONDS", drain_timeout(worker))
    for var in spec.env or ():
        env.append(var.model_dump(by_alias=True, exclude_none=True))
    return env


def _probe(tuning: api.Probe | None, defaults: ProbeDefaults) -> dict[str, Any]:
    t = tuning or api.Probe()

    def pick(value: int | None, default: int) -> int:
        return default if value is None else value

    out: dict[str, Any] = {"httpGet": {"path": t.path or defaults.path, "port": HEALTH_PORT_NAME}}
    # The apiserver drops a zero initialDelaySeconds (omitempty); leave it out so the live object matches.
    delay = pick(t.initial_delay_seconds, defaults.initial_delay_seconds)
    if delay:
        out["initialDelaySeconds"] = delay
    out["periodSeconds"] = pick(t.period_seconds, defaults.period_seconds)
    out["timeoutSeconds"] = pick(t.timeout_seconds, defaults.timeout_seconds)
    out["failureThreshold"] = pick(t.failure_threshold, defaults.failure_threshold)
    return out


def default_pod_security_context() -> dict[str, Any]:
    """Passes the `restricted` Pod Security Standard."""
    return {
        "runAsNonRoot": True,
        "runAsUser": DEFAULT_UID,
        "runAsGroup": DEFAULT_UID,
        "fsGroup": DEFAULT_UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def default_container_security_context() -> dict[str, Any]:
    """Passes the `restricted` Pod Security Standard; the root filesystem is read-only (/tmp is writable)."""
    return {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
    }


def _put(target: dict[str, Any], key: str, value: Any) -> None:
    if value is not None and value != [] and value != {}:
        target[key] = value


def _dump_list(items: list[Any] | None) -> list[Any] | None:
    if items is None:
        return None
    return [i.model_dump(by_alias=True, exclude_none=True) if hasattr(i, "model_dump") else i for i in items]


def _volumes(worker: api.HatchetWorker, user_tmp: bool) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    tls = _hatchet(worker).tls or api.TLS()
    volumes: list[dict[str, Any]] = []
    mounts: list[dict[str, Any]] = []
    if not user_tmp:
        volumes.append({"name": TMP_VOLUME, "emptyDir": {}})
        mounts.append({"name": TMP_VOLUME, "mountPath": "/tmp"})
    if tls.ca_secret_ref:
        volumes.append(
            {
                "name": CA_VOLUME,
                "secret": {
                    "secretName": tls.ca_secret_ref.name,
                    "items": [{"key": tls.ca_secret_ref.key, "path": "ca.crt"}],
                },
            }
        )
        mounts.append({"name": CA_VOLUME, "mountPath": CA_DIR, "readOnly": True})
    if tls.client_cert_secret_ref:
        volumes.append({"name": CLIENT_CERT_VOLUME, "secret": {"secretName": tls.client_cert_secret_ref.name}})
        mounts.append({"name": CLIENT_CERT_VOLUME, "mountPath": CLIENT_CERT_DIR, "readOnly": True})
    volumes.extend(_dump_list(worker.spec.volumes) or [])
    mounts.extend(_dump_list(worker.spec.volume_mounts) or [])
    return volumes, mounts


def container(worker: api.HatchetWorker, image: str) -> dict[str, Any]:
    """The single worker container."""
    spec = worker.spec
    health = _health(worker)
    user_tmp = any(m.mount_path.rstrip("/") == "/tmp" for m in spec.volume_mounts or ())
    _, mounts = _volumes(worker, user_tmp)
    out: dict[str, Any] = {"name": CONTAINER_NAME, "image": image}
    _put(out, "imagePullPolicy", spec.image_pull_policy)
    _put(out, "command", spec.command)
    _put(out, "args", spec.args)
    out["env"] = worker_env(worker)
    _put(out, "envFrom", spec.env_from)
    if health.enabled:
        out["ports"] = [{"name": HEALTH_PORT_NAME, "containerPort": health.port, "protocol": "TCP"}]
        profile = PROBE_PROFILES[health.probe_profile]
        out["startupProbe"] = _probe(health.startup_probe, profile.startup)
        out["livenessProbe"] = _probe(health.liveness_probe, profile.liveness)
        out["readinessProbe"] = _probe(health.readiness_probe, profile.readiness)
    if spec.resources is not None:
        _put(out, "resources", spec.resources.model_dump(by_alias=True, exclude_none=True))
    out["securityContext"] = (
        spec.security_context if spec.security_context is not None else default_container_security_context()
    )
    _put(out, "volumeMounts", mounts)
    return out


def pod_spec(worker: api.HatchetWorker, image: str) -> dict[str, Any]:
    """The pod template's spec."""
    spec = worker.spec
    user_tmp = any(m.mount_path.rstrip("/") == "/tmp" for m in spec.volume_mounts or ())
    volumes, _ = _volumes(worker, user_tmp)
    out: dict[str, Any] = {"containers": [container(worker, image)]}
    out["securityContext"] = (
        spec.pod_security_context if spec.pod_security_context is not None else default_pod_security_context()
    )
    out["terminationGracePeriodSeconds"] = drain_timeout(worker) + TEARDOWN_SECONDS
    _put(out, "serviceAccountName", spec.service_account_name)
    # Always explicit: the pod's value wins over the ServiceAccount's, so no token is mounted unless asked.
    out["automountServiceAccountToken"] = bool(spec.automount_service_account_token)
    _put(out, "imagePullSecrets", _dump_list(spec.image_pull_secrets))
    _put(out, "nodeSelector", spec.node_selector)
    _put(out, "tolerations", spec.tolerations)
    _put(out, "affinity", spec.affinity)
    _put(out, "topologySpreadConstraints", spec.topology_spread_constraints)
    _put(out, "priorityClassName", spec.priority_class_name)
    _put(out, "volumes", volumes)
    return out


def owner_reference(worker: api.HatchetWorker) -> dict[str, Any]:
    """The controller ownerReference that makes deleting the HatchetWorker cascade."""
    return {
        "apiVersion": api.API_VERSION,
        "kind": api.KIND,
        "name": worker.metadata.name,
        "uid": worker.metadata.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def resolve_image(worker: api.HatchetWorker, options: RenderOptions) -> str:
    image = worker.spec.image or options.default_image
    if not image:
        raise RenderError("ImageNotSet", "spec.image is not set and the operator has no --default-image")
    return image


def render_deployment(worker: api.HatchetWorker, options: RenderOptions | None = None) -> dict[str, Any]:
    """The Deployment for one HatchetWorker, as a server-side-apply configuration."""
    options = options or RenderOptions()
    image = resolve_image(worker, options)
    name = worker.metadata.name
    metadata: dict[str, Any] = {"name": name}
    _put(metadata, "namespace", worker.metadata.namespace)
    metadata["labels"] = object_labels(name)
    if worker.metadata.uid:
        metadata["ownerReferences"] = [owner_reference(worker)]
    template_meta: dict[str, Any] = {"labels": {**(worker.spec.pod_labels or {}), **object_labels(name)}}
    _put(template_meta, "annotations", worker.spec.pod_annotations)
    spec: dict[str, Any] = {}
    _put(spec, "replicas", worker.spec.replicas)
    spec["selector"] = {"matchLabels": selector_labels(name)}
    spec["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}}
    spec["template"] = {"metadata": template_meta, "spec": pod_spec(worker, image)}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata, "spec": spec}


def secret_references(worker: api.HatchetWorker) -> list[tuple[str, str | None]]:
    """(Secret name, key or None) pairs the pods need; a missing one makes the resource Degraded."""
    conn = _hatchet(worker)
    refs: list[tuple[str, str | None]] = [(conn.token_secret_ref.name, conn.token_secret_ref.key)]
    tls = conn.tls or api.TLS()
    if tls.ca_secret_ref:
        refs.append((tls.ca_secret_ref.name, tls.ca_secret_ref.key))
    if tls.client_cert_secret_ref:
        refs.append((tls.client_cert_secret_ref.name, "tls.crt"))
        refs.append((tls.client_cert_secret_ref.name, "tls.key"))
    return refs
