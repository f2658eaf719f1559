"""The HatchetWorker API, version v1alpha1: the single source of truth.

These pydantic models define what a user may write in a HatchetWorker and what the operator
reports back in its status. The CRD in ``crds/`` is generated from them (see ``crdgen``), so field
descriptions here are what ``kubectl explain`` prints, and the constraints here (ranges, patterns,
CEL rules in ``x-kubernetes-validations``) are what the apiserver enforces at apply time.

Defaults live here too, not in the CRD: the stored object stays exactly as the user wrote it (no
server-side defaulting surprises in GitOps diffs) and the operator applies the defaults when it
renders the Deployment. Every description states its default.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from pydantic.config import JsonDict, JsonValue

from hatchet_operator.api.autoscaling import SPEC_RULES as AUTOSCALING_RULES
from hatchet_operator.api.autoscaling import Autoscaling, AutoscalingStatus

GROUP = "hatchetkube.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "HatchetWorker"
PLURAL = "hatchetworkers"
SINGULAR = "hatchetworker"
SHORT_NAMES = ("hw", "hws")
CATEGORIES = ("hatchet",)

DEFAULT_TOKEN_SECRET = "hatchet-client-config"
DEFAULT_TOKEN_KEY = "HATCHET_CLIENT_TOKEN"
DEFAULT_CA_KEY = "ca.crt"
DEFAULT_HEALTH_PORT = 8001
DEFAULT_DRAIN_TIMEOUT_SECONDS = 300
DEFAULT_HEALTH_PATH = "/health"
"""The path every SDK serves; the startup probe of every profile (see render.PROBE_PROFILES)."""

# The preset-label key the operator adds to every worker (value: the HatchetWorker's name), so
# workers can be told apart per resource in the Hatchet dashboard and in label-based metrics.
OWNER_LABEL_KEY = "hatchetworker"
# The preset-label key the operator adds to the workers of an autoscaled HatchetWorker (value: the
# pod's name, expanded by the kubelet from HATCHET_KUBE_POD_NAME), so a scale-down can map the engine's
# idle workers to the pods to remove. Only autoscaled resources get it: adding it to every template
# would roll every existing fleet on an operator upgrade.
POD_LABEL_KEY = "hatchetworker-pod"
# With it, the HatchetWorker's namespace: names are unique only per namespace, and one tenant may
# serve HatchetWorkers of the same name in several namespaces. Only autoscaled resources get it, as above.
NAMESPACE_LABEL_KEY = "hatchetworker-namespace"

# Environment variables the operator always owns; user `env` entries may not use these names.
RESERVED_ENV = (
    "HATCHET_CLIENT_TOKEN",
    "HATCHET_CLIENT_TENANT_ID",
    "HATCHET_CLIENT_HOST_PORT",
    "HATCHET_CLIENT_SERVER_URL",
    "HATCHET_CLIENT_TLS_STRATEGY",
    "HATCHET_CLIENT_TLS_ROOT_CA_FILE",
    "HATCHET_CLIENT_TLS_CERT_FILE",
    "HATCHET_CLIENT_TLS_KEY_FILE",
    "HATCHET_CLIENT_TLS_SERVER_NAME",
    "HATCHET_CLIENT_NAMESPACE",
    "HATCHET_CLIENT_WORKER_HEALTHCHECK_ENABLED",
    "HATCHET_CLIENT_WORKER_HEALTHCHECK_PORT",
    "HATCHET_CLIENT_WORKER_HEALTHCHECK_BIND_ADDRESS",
    "HATCHET_CLIENT_WORKER_PRESET_LABELS",
    "HATCHET_CLIENT_WORKER_SLOTS",
    "HATCHET_CLIENT_WORKER_DURABLE_SLOTS",
    "HATCHET_CLIENT_WORKER_NAME",
    "HATCHET_CLIENT_WORKER_DRAIN_TIMEOUT_SECONDS",
    "HATCHET_KUBE_POD_NAME",
    "HATCHET_KUBE_POD_NAMESPACE",
    "HATCHET_KUBE_NODE_NAME",
)
# Whole families the operator owns: the TLS settings come from spec.hatchet.tls, and the gRPC message
# limits must stay at what the engine accepts (a worker raising them only fails later, mid-task).
RESERVED_ENV_PREFIXES = ("HATCHET_CLIENT_TLS_", "HATCHET_CLIENT_GRPC_MAX_")
# Volume names the operator adds to the pod; user `volumes` may not use them.
RESERVED_VOLUMES = ("hatchet-tmp", "hatchet-tls-ca", "hatchet-tls-client")
# Pod label keys the operator sets (the Deployment selector among them); `podLabels` may not use them.
RESERVED_POD_LABELS = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/component",
    "app.kubernetes.io/managed-by",
)

DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
SECRET_KEY = r"^[-._a-zA-Z0-9]+$"
WORKER_NAME = r"^[a-zA-Z0-9.\-_]+$"
# The Kubernetes resource.Quantity grammar, as the core API's OpenAPI spells it.
QUANTITY = (
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))"
    r"(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)
# Resource requests and limits: the same grammar without a sign (Kubernetes rejects negative ones).
NONNEGATIVE_QUANTITY = (
    r"^\+?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))"
    r"(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)
LABEL_KEY = r"^[a-zA-Z0-9]([-a-zA-Z0-9_./]{0,61}[a-zA-Z0-9])?$"
# A Kubernetes qualified name (label and annotation keys): an optional DNS-subdomain prefix and '/',
# then a name of at most 63 characters. Written with [.] instead of an escaped dot so the same text
# works inside a CEL string literal. The prefix's 253-character limit is checked separately.
QUALIFIED_NAME = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
# A Kubernetes label value: empty, or at most 63 characters starting and ending alphanumeric.
LABEL_VALUE = r"^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$"
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
# Bounds on map keys: with them the apiserver can estimate (and accept) the cost of the CEL rules.
MAX_KEY_LENGTH = 253 + 1 + 63
ENV_NAME = r"^[-._a-zA-Z][-._a-zA-Z0-9]*$"


def _cel(rule: str, message: str, field_path: str | None = None) -> JsonValue:
    out: JsonDict = {"rule": rule, "message": message}
    if field_path is not None:
        out["fieldPath"] = field_path
    return out


def _list(items: list[str]) -> str:
    return "[" + ", ".join(f"'{i}'" for i in items) + "]"


def _qualified_keys(what: str) -> JsonValue:
    """A CEL rule on a map: every key is a Kubernetes qualified name (label/annotation key grammar)."""
    return _cel(
        f"self.all(k, size(k) <= {MAX_KEY_LENGTH} && k.matches('{QUALIFIED_NAME}') && "
        "(!k.contains('/') || k.indexOf('/') <= 253))",
        f"{what} keys must be qualified names: an optional DNS subdomain prefix (at most 253 characters) "
        "and '/', then 1-63 characters of letters, digits, '-', '_' and '.', starting and ending with a "
        "letter or digit",
    )


class _Model(BaseModel):
    """Base: camelCase on the wire, snake_case in Python, unknown fields rejected."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


class _OpenModel(BaseModel):
    """Base for Kubernetes core types passed through to the pod verbatim (only a few keys are typed).

    The apiserver validates the rest when the operator applies the Deployment; an invalid value shows
    up as a Degraded condition with the apiserver's message.
    """

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow", frozen=True)


Quantity = Annotated[
    Annotated[int, Field(ge=0)] | Annotated[str, Field(pattern=NONNEGATIVE_QUANTITY, max_length=64)],
    Field(description="A non-negative Kubernetes quantity, e.g. 500m, 1, 2Gi."),
]
LabelValue = Annotated[str, Field(max_length=63, pattern=LABEL_VALUE)]
# The engine stores integer worker labels as int32; a larger value would fail at registration.
LabelInt = Annotated[int, Field(ge=INT32_MIN, le=INT32_MAX)]
PreserveObject = Annotated[dict[str, Any], Field(json_schema_extra={"x-kubernetes-preserve-unknown-fields": True})]


class SecretKeySelector(_Model):
    """A key in a Secret in the HatchetWorker's namespace."""

    name: str = Field(description="Name of the Secret (same namespace).", pattern=DNS_SUBDOMAIN, max_length=253)
    key: str = Field(description="Key within the Secret.", pattern=SECRET_KEY, max_length=253)


class TokenSecretRef(_Model):
    """Where the Hatchet client token lives."""

    name: str = Field(
        default=DEFAULT_TOKEN_SECRET,
        description=f"Name of the Secret holding the token (same namespace). Default: {DEFAULT_TOKEN_SECRET}.",
        pattern=DNS_SUBDOMAIN,
        max_length=253,
    )
    key: str = Field(
        default=DEFAULT_TOKEN_KEY,
        description=f"Key of the token within the Secret. Default: {DEFAULT_TOKEN_KEY}.",
        pattern=SECRET_KEY,
        max_length=253,
    )


class CASecretRef(_Model):
    """A Secret holding a PEM CA bundle."""

    name: str = Field(description="Name of the Secret (same namespace).", pattern=DNS_SUBDOMAIN, max_length=253)
    key: str = Field(
        default=DEFAULT_CA_KEY,
        description=f"Key of the PEM CA bundle within the Secret. Default: {DEFAULT_CA_KEY}.",
        pattern=SECRET_KEY,
        max_length=253,
    )


class ClientCertSecretRef(_Model):
    """A kubernetes.io/tls Secret (keys tls.crt and tls.key) holding the client certificate for mTLS."""

    name: str = Field(description="Name of the Secret (same namespace).", pattern=DNS_SUBDOMAIN, max_length=253)


class TLSStrategy(StrEnum):
    """How the worker secures its gRPC connection to the Hatchet engine."""

    TLS = "tls"
    MTLS = "mtls"
    NONE = "none"


class TLS(_Model):
    """TLS settings for the connection to the Hatchet engine."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                _cel(
                    "!has(self.caSecretRef) || !has(self.strategy) || self.strategy != 'none'",
                    "caSecretRef cannot be used with strategy none",
                    ".caSecretRef",
                ),
                _cel(
                    "!has(self.strategy) || self.strategy != 'mtls' || has(self.clientCertSecretRef)",
                    "strategy mtls requires clientCertSecretRef",
                    ".clientCertSecretRef",
                ),
                _cel(
                    "!has(self.clientCertSecretRef) || (has(self.strategy) && self.strategy == 'mtls')",
                    "clientCertSecretRef requires strategy mtls",
                    ".clientCertSecretRef",
                ),
            ]
        }
    )

    strategy: TLSStrategy | None = Field(
        default=None,
        description="tls, mtls or none -> HATCHET_CLIENT_TLS_STRATEGY. Default: unset (the SDK's default, tls).",
    )
    ca_secret_ref: CASecretRef | None = Field(
        default=None,
        description="Secret with the CA bundle to trust; mounted read-only and passed as "
        "HATCHET_CLIENT_TLS_ROOT_CA_FILE. Not allowed with strategy none.",
    )
    client_cert_secret_ref: ClientCertSecretRef | None = Field(
        default=None,
        description="kubernetes.io/tls Secret with the client certificate and key; required with, "
        "and only allowed with, strategy mtls.",
    )
    server_name: str | None = Field(
        default=None,
        description="TLS server name to verify -> HATCHET_CLIENT_TLS_SERVER_NAME.",
        max_length=253,
        pattern=r"^[a-zA-Z0-9.\-]+$",
    )


class HatchetConnection(_Model):
    """How workers reach the Hatchet engine."""

    token_secret_ref: TokenSecretRef = Field(
        default_factory=TokenSecretRef,
        description=f"Secret key holding the client token -> HATCHET_CLIENT_TOKEN (secretKeyRef). Default: "
        f"Secret {DEFAULT_TOKEN_SECRET}, key {DEFAULT_TOKEN_KEY} (what Hatchet's Helm chart writes).",
    )
    host_port: str | None = Field(
        default=None,
        description="Engine gRPC address host:port -> HATCHET_CLIENT_HOST_PORT. Default: from the token.",
        pattern=r"^[a-zA-Z0-9.\-\[\]:]+:[0-9]{1,5}$",
        max_length=300,
    )
    server_url: str | None = Field(
        default=None,
        description="Engine REST URL -> HATCHET_CLIENT_SERVER_URL. Default: from the token.",
        pattern=r"^https?://[^\s]+$",
        max_length=2048,
    )
    tls: TLS | None = Field(default=None, description="TLS settings. Default: the SDK's defaults.")
    namespace: str | None = Field(
        default=None,
        description="Hatchet namespace (a prefix for workflow names) -> HATCHET_CLIENT_NAMESPACE.",
        pattern=r"^[a-zA-Z0-9_\-]*$",
        max_length=63,
    )


class ProbeProfile(StrEnum):
    """Which SDK the image runs, hence which endpoints the default probes use."""

    HATCHET_WORKER = "hatchet-worker"
    OFFICIAL_SDK = "official-sdk"


class Probe(_Model):
    """Tuning for one probe. All probes are HTTP GETs on the named container port `health`."""

    path: str | None = Field(
        default=None,
        description="HTTP path. Default: the probe profile's path (see healthCheck.probeProfile).",
        pattern=r"^/[^\s]*$",
        max_length=1024,
    )
    initial_delay_seconds: int | None = Field(
        default=None, ge=0, le=3600, description="Seconds before the first probe."
    )
    period_seconds: int | None = Field(default=None, ge=1, le=3600, description="Seconds between probes.")
    timeout_seconds: int | None = Field(default=None, ge=1, le=3600, description="Seconds before a probe times out.")
    failure_threshold: int | None = Field(
        default=None, ge=1, le=1000, description="Consecutive failures that count as failed."
    )


class HealthCheck(_Model):
    """The worker's health-check HTTP server and the probes wired to it."""

    enabled: bool = Field(
        default=True,
        description="Turn on the SDK's health server (HATCHET_CLIENT_WORKER_HEALTHCHECK_ENABLED=true), "
        "expose the port and add liveness/readiness/startup probes. Default: true.",
    )
    port: int = Field(
        default=DEFAULT_HEALTH_PORT,
        ge=1,
        le=65535,
        description=f"Health server port -> HATCHET_CLIENT_WORKER_HEALTHCHECK_PORT and the container port "
        f"named `health`. Default: {DEFAULT_HEALTH_PORT}.",
    )
    probe_profile: ProbeProfile = Field(
        default=ProbeProfile.HATCHET_WORKER,
        description="The SDK the image runs, which picks the probes' default paths and windows. "
        "hatchet-worker (this project's SDK): liveness GET /livez (fails only for a zombie process, "
        "never for an engine outage), readiness GET /readyz, startup GET /health. official-sdk (the "
        "official Hatchet Python SDK, which serves only /health, 503 whenever a heartbeat to the engine "
        "fails): all three probes GET /health, liveness with 20 failures (5 minutes) so an engine "
        "outage shorter than that restarts no worker. The tuning fields below override single values. "
        "Default: hatchet-worker.",
    )
    liveness_probe: Probe | None = Field(
        default=None,
        description="Liveness probe tuning. Default: every 15s, timeout 5s, 3 failures (official-sdk: 20).",
    )
    readiness_probe: Probe | None = Field(
        default=None,
        description="Readiness probe tuning. Default: every 10s, timeout 5s, 3 failures.",
    )
    startup_probe: Probe | None = Field(
        default=None,
        description="Startup probe tuning. Default: GET /health every 2s, timeout 5s, 60 failures (2 minutes).",
    )


class Drain(_Model):
    """Graceful shutdown on SIGTERM (rolling updates, scale-in, node drains)."""

    timeout_seconds: int = Field(
        default=DEFAULT_DRAIN_TIMEOUT_SECONDS,
        ge=0,
        le=86400,
        description="Seconds a stopping worker may spend finishing in-flight tasks -> "
        "HATCHET_CLIENT_WORKER_DRAIN_TIMEOUT_SECONDS; terminationGracePeriodSeconds is this plus 15s for "
        f"teardown. Default: {DEFAULT_DRAIN_TIMEOUT_SECONDS}.",
    )


class ResourceRequirements(_Model):
    """Compute resources of the worker container."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                # The values are int-or-string, hence string(); the pattern has already vetted them,
                # isQuantity keeps a rejected value from turning into an evaluation error here.
                _cel(
                    "!has(self.limits) || !has(self.requests) || self.requests.all(r, !(r in self.limits) || "
                    "!isQuantity(string(self.requests[r])) || !isQuantity(string(self.limits[r])) || "
                    "quantity(string(self.requests[r])).compareTo(quantity(string(self.limits[r]))) <= 0)",
                    "every request must be less than or equal to its limit",
                    ".requests",
                )
            ]
        }
    )

    limits: dict[str, Quantity] | None = Field(
        default=None, max_length=16, description="Maximum resources, e.g. {cpu: '1', memory: 1Gi}."
    )
    requests: dict[str, Quantity] | None = Field(
        default=None,
        max_length=16,
        description="Requested resources, e.g. {cpu: 250m, memory: 256Mi}; each at most its limit.",
    )


class EnvVar(_Model):
    """An environment variable of the worker container (core/v1 EnvVar)."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                _cel("!(has(self.value) && has(self.valueFrom))", "value and valueFrom are mutually exclusive")
            ]
        }
    )

    name: str = Field(description="Variable name.", pattern=ENV_NAME, max_length=256)
    value: str | None = Field(default=None, description="Literal value.")
    value_from: PreserveObject | None = Field(
        default=None,
        description="Source of the value (secretKeyRef, configMapKeyRef, fieldRef, resourceFieldRef), as in core/v1.",
    )


class LocalObjectReference(_Model):
    """A reference to an object in the same namespace."""

    name: str = Field(description="Name of the referent.", pattern=DNS_SUBDOMAIN, max_length=253)


class Volume(_OpenModel):
    """A pod volume (core/v1 Volume): `name` plus exactly one volume source."""

    name: str = Field(description="Volume name (DNS label).", pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63)


class VolumeMount(_OpenModel):
    """A volume mount of the worker container (core/v1 VolumeMount)."""

    name: str = Field(description="Name of a volume in `volumes`.", max_length=63)
    mount_path: str = Field(description="Absolute path in the container.", pattern=r"^/", max_length=4096)


_SPEC_RULES: list[JsonValue] = [
    _cel(
        f"!has(self.env) || self.env.all(e, !(e.name in {_list(list(RESERVED_ENV))}) && "
        + " && ".join(f"!e.name.startsWith('{p}')" for p in RESERVED_ENV_PREFIXES)
        + ")",
        "env may not set variables the operator manages (nor any HATCHET_CLIENT_TLS_* or "
        "HATCHET_CLIENT_GRPC_MAX_*); use the HatchetWorker fields "
        "(hatchet, slots, durableSlots, labels, workerName, healthCheck, drain) instead",
        ".env",
    ),
    _cel(
        f"!has(self.volumes) || self.volumes.all(v, !(v.name in {_list(list(RESERVED_VOLUMES))}))",
        "volume names hatchet-tmp, hatchet-tls-ca and hatchet-tls-client are reserved for the operator",
        ".volumes",
    ),
    _cel(
        f"!has(self.podLabels) || self.podLabels.all(k, !(k in {_list(list(RESERVED_POD_LABELS))}))",
        "podLabels may not set the labels the operator manages (app.kubernetes.io/name, instance, component, "
        "managed-by)",
        ".podLabels",
    ),
    _cel(
        "!has(self.volumeMounts) || self.volumeMounts.all(m, has(self.volumes) && "
        "self.volumes.exists(v, v.name == m.name))",
        "every volumeMounts[].name must name an entry of volumes",
        ".volumeMounts",
    ),
    *AUTOSCALING_RULES,
]


class HatchetWorkerSpec(_Model):
    """Desired state of a fleet of Hatchet workers, run as one Deployment."""

    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": _SPEC_RULES})

    image: str | None = Field(
        default=None,
        min_length=1,
        max_length=1024,
        description="Worker container image. Default: the operator's --default-image; if neither is set "
        "the resource is Degraded with reason ImageNotSet.",
    )
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] | None = Field(
        default=None, description="Always, IfNotPresent or Never. Default: Kubernetes' default for the tag."
    )
    command: list[Annotated[str, Field(max_length=4096)]] | None = Field(
        default=None, max_length=64, description="Entrypoint override. Default: the image's ENTRYPOINT."
    )
    args: list[Annotated[str, Field(max_length=4096)]] | None = Field(
        default=None, max_length=256, description="Arguments. Default: the image's CMD."
    )
    replicas: int | None = Field(
        default=None,
        ge=0,
        le=10000,
        description="Number of worker pods; the scale subresource reads and writes it (kubectl scale, HPA, "
        "KEDA). Omit it to let an autoscaler own the Deployment's replicas.",
    )
    autoscaling: Autoscaling | None = Field(
        default=None,
        description="Scale with the queued and running work of this HatchetWorker's tasks (see docs/autoscaling.md); "
        "not together with replicas. Default: unset (no autoscaling).",
    )
    worker_name: str | None = Field(
        default=None,
        pattern=WORKER_NAME,
        max_length=128,
        description="Hatchet worker name -> HATCHET_CLIENT_WORKER_NAME. Default: metadata.name.",
    )
    slots: int | None = Field(
        default=None,
        ge=1,
        le=100000,
        description="Concurrent (non-durable) task slots per worker -> HATCHET_CLIENT_WORKER_SLOTS. "
        "Default: unset (the value in the worker's code).",
    )
    durable_slots: int | None = Field(
        default=None,
        ge=0,
        le=100000,
        description="Durable task slots per worker -> HATCHET_CLIENT_WORKER_DURABLE_SLOTS; 0 means no "
        "durable slot pool (a worker that registers a durable task then refuses to start). "
        "Default: unset (the value in the worker's code).",
    )
    labels: dict[str, LabelInt | Annotated[str, Field(max_length=256)]] | None = Field(
        default=None,
        max_length=32,
        description="Worker labels for Hatchet's label affinity (string or 32-bit integer values), merged with "
        f"`{OWNER_LABEL_KEY}: <metadata.name>` (and, with `autoscaling`, `{NAMESPACE_LABEL_KEY}: "
        f"<metadata.namespace>` and `{POD_LABEL_KEY}: <pod name>`) into "
        "HATCHET_CLIENT_WORKER_PRESET_LABELS (JSON).",
        json_schema_extra={
            "x-kubernetes-validations": [
                _cel(
                    "self.all(k, size(k) <= 63 && k.matches('^[a-zA-Z0-9]([-a-zA-Z0-9_./]*[a-zA-Z0-9])?$'))",
                    "label keys must be 1-63 characters of letters, digits, '-', '_', '.', '/', starting and "
                    "ending with a letter or digit",
                ),
                _cel(f"!('{OWNER_LABEL_KEY}' in self)", f"label key '{OWNER_LABEL_KEY}' is set by the operator"),
                _cel(f"!('{POD_LABEL_KEY}' in self)", f"label key '{POD_LABEL_KEY}' is set by the operator"),
                _cel(f"!('{NAMESPACE_LABEL_KEY}' in self)",
                     f"label key '{NAMESPACE_LABEL_KEY}' is set by the operator"),
            ]
        },
    )
    hatchet: HatchetConnection | None = Field(
        default=None, description="Connection to the Hatchet engine. Default: token from the default Secret."
    )
    health_check: HealthCheck | None = Field(
        default=None,
        description="Health server and probes. Default: enabled on port 8001, probe profile hatchet-worker "
        "(liveness /livez, readiness /readyz, startup /health).",
    )
    drain: Drain | None = Field(default=None, description="Graceful shutdown. Default: 300s drain.")
    resources: ResourceRequirements | None = Field(default=None, description="Container resources.")
    env: list[EnvVar] | None = Field(
        default=None,
        max_length=256,
        description="Extra environment variables (appended after the operator's).",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    env_from: list[PreserveObject] | None = Field(
        default=None,
        max_length=64,
        description="Extra env sources (core/v1 EnvFromSource: configMapRef, secretRef).",
    )
    node_selector: dict[str, LabelValue] | None = Field(
        default=None,
        max_length=64,
        description="Pod node selector (label keys and values).",
        json_schema_extra={"x-kubernetes-validations": [_qualified_keys("nodeSelector")]},
    )
    tolerations: list[PreserveObject] | None = Field(
        default=None, max_length=64, description="Pod tolerations (core/v1 Toleration)."
    )
    affinity: PreserveObject | None = Field(default=None, description="Pod affinity (core/v1 Affinity).")
    topology_spread_constraints: list[PreserveObject] | None = Field(
        default=None,
        max_length=16,
        description="Pod topology spread constraints (core/v1 TopologySpreadConstraint). Use the labels "
        "app.kubernetes.io/instance=<name>, app.kubernetes.io/name=hatchet-worker in labelSelector.",
    )
    service_account_name: str | None = Field(
        default=None,
        pattern=DNS_SUBDOMAIN,
        max_length=253,
        description="Pod service account. Default: default.",
    )
    automount_service_account_token: bool | None = Field(
        default=None,
        strict=True,  # as the schema: "yes" or "1" is not a boolean
        description="Mount the service account's API token into the worker pods. Default: false (workers "
        "do not talk to the Kubernetes API; a token they never use is only something to steal).",
    )
    image_pull_secrets: list[LocalObjectReference] | None = Field(
        default=None, max_length=16, description="Secrets for pulling the image."
    )
    volumes: list[Volume] | None = Field(
        default=None,
        max_length=64,
        description="Extra pod volumes (core/v1 Volume).",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    volume_mounts: list[VolumeMount] | None = Field(
        default=None,
        max_length=64,
        description="Extra mounts in the worker container. A mount at /tmp replaces the operator's writable /tmp.",
    )
    pod_annotations: dict[str, Annotated[str, Field(max_length=65536)]] | None = Field(
        default=None,
        max_length=64,
        description="Extra pod annotations.",
        json_schema_extra={"x-kubernetes-validations": [_qualified_keys("podAnnotations")]},
    )
    pod_labels: dict[str, LabelValue] | None = Field(
        default=None,
        max_length=64,
        description="Extra pod labels (the operator's own labels cannot be overridden).",
        json_schema_extra={"x-kubernetes-validations": [_qualified_keys("podLabels")]},
    )
    priority_class_name: str | None = Field(
        default=None, pattern=DNS_SUBDOMAIN, max_length=253, description="Pod priority class."
    )
    pod_security_context: PreserveObject | None = Field(
        default=None,
        description="Replaces the default pod securityContext (runAsNonRoot, "
        "runAsUser/runAsGroup/fsGroup 65532, seccompProfile RuntimeDefault), which passes the restricted "
        "Pod Security Standard.",
    )
    security_context: PreserveObject | None = Field(
        default=None,
        description="Replaces the default container securityContext (allowPrivilegeEscalation false, "
        "drop ALL capabilities, readOnlyRootFilesystem true, runAsNonRoot true).",
    )


class ConditionStatus(StrEnum):
    """Status of a condition."""

    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Condition(_Model):
    """One observation about the resource, in the Kubernetes metav1.Condition shape."""

    type: str = Field(description="Ready, Progressing, Degraded, Reconciling or Stalled.", max_length=316)
    status: ConditionStatus = Field(description="True, False or Unknown.")
    reason: str = Field(description="A CamelCase reason, stable API for tools.", max_length=1024)
    message: str = Field(default="", description="Human-readable details.", max_length=32768)
    last_transition_time: str = Field(description="When status last changed (RFC 3339).", max_length=64)
    observed_generation: int | None = Field(
        default=None, ge=0, description="metadata.generation this was computed for."
    )


class HatchetWorkerStatus(_Model):
    """Observed state, written by the operator."""

    observed_generation: int | None = Field(default=None, description="The metadata.generation last reconciled.")
    replicas: int | None = Field(default=None, description="Worker pods (from the Deployment); the scale subresource.")
    ready_replicas: int | None = Field(default=None, description="Ready worker pods.")
    updated_replicas: int | None = Field(default=None, description="Pods running the current template.")
    available_replicas: int | None = Field(default=None, description="Available worker pods.")
    selector: str | None = Field(
        default=None,
        description="Label selector of the worker pods (for the scale subresource, HPA and KEDA).",
    )
    deployment: str | None = Field(default=None, description="Name of the managed Deployment.")
    autoscaling: AutoscalingStatus | None = Field(
        default=None, description="The autoscaler's last decision and its inputs (with spec.autoscaling)."
    )
    conditions: list[Condition] | None = Field(
        default=None,
        description="Ready, Progressing and Degraded, plus the kstatus pair Reconciling and Stalled; with "
        "autoscaling, ScalingActive (False while the engine cannot be read: the count is held).",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )


class ObjectMeta(BaseModel):
    """The parts of metadata the operator reads (the rest is ignored)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str
    namespace: str | None = None
    uid: str | None = None
    generation: int | None = None
    deletionTimestamp: str | None = None


class HatchetWorker(BaseModel):
    """A whole HatchetWorker object as read from the apiserver or a manifest."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    api_version: str = Field(default=API_VERSION, alias="apiVersion")
    kind: str = KIND
    metadata: ObjectMeta
    spec: HatchetWorkerSpec
    status: HatchetWorkerStatus | None = None
