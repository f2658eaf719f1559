"""Rendering a HatchetWorker into its Deployment: the env contract, probes, security, rollout, labels."""

from __future__ import annotations

import json
from typing import Any

import pytest
from opunit import make_worker

from hatchet_operator import render
from hatchet_operator.api import v1alpha1 as api


def _env(dep: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in _container(dep)["env"]}


def _container(dep: dict[str, Any]) -> dict[str, Any]:
    [c] = dep["spec"]["template"]["spec"]["containers"]
    return c  # type: ignore[no-any-return]


def test_minimal_worker_gets_the_full_contract() -> None:
    dep = render.render_deployment(make_worker())
    env = _env(dep)
    assert env["HATCHET_CLIENT_TOKEN"] == {
        "secretKeyRef": {"name": "hatchet-client-config", "key": "HATCHET_CLIENT_TOKEN"}
    }
    assert env["HATCHET_CLIENT_WORKER_HEALTHCHECK_ENABLED"] == "true"
    assert env["HATCHET_CLIENT_WORKER_HEALTHCHECK_PORT"] == "8001"
    assert env["HATCHET_CLIENT_WORKER_NAME"] == "w"
    assert json.loads(env["HATCHET_CLIENT_WORKER_PRESET_LABELS"]) == {"hatchetworker": "w"}
    assert env["HATCHET_CLIENT_WORKER_DRAIN_TIMEOUT_SECONDS"] == "300"
    assert env["HATCHET_KUBE_POD_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    # Unset optional settings are not injected: the SDK's own defaults apply.
    for absent in (
        "HATCHET_CLIENT_WORKER_SLOTS",
        "HATCHET_CLIENT_WORKER_DURABLE_SLOTS",
        "HATCHET_CLIENT_HOST_PORT",
        "HATCHET_CLIENT_SERVER_URL",
        "HATCHET_CLIENT_TLS_STRATEGY",
        "HATCHET_CLIENT_NAMESPACE",
        "HATCHET_CLIENT_TLS_ROOT_CA_FILE",
    ):
        assert absent not in env


def test_all_settings_are_injected() -> None:
    dep = render.render_deployment(
        make_worker(
            {
                "workerName": "gpu-workers",
                "slots": 7,
                "durableSlots": 70,
                "labels": {"model": "llama", "gpu": 1},
                "hatchet": {
                    "tokenSecretRef": {"name": "tok", "key": "t"},
                    "hostPort": "engine:7070",
                    "serverUrl": "https://hatchet.example",
                    "namespace": "team-a",
                    "tls": {"strategy": "tls", "caSecretRef": {"name": "ca"}, "serverName": "engine.local"},
                },
                "healthCheck": {"port": 9001},
                "drain": {"timeoutSeconds": 45},
            }
        )
    )
    env = _env(dep)
    assert env["HATCHET_CLIENT_TOKEN"] == {"secretKeyRef": {"name": "tok", "key": "t"}}
    assert env["HATCHET_CLIENT_HOST_PORT"] == "engine:7070"
    assert env["HATCHET_CLIENT_SERVER_URL"] == "https://hatchet.example"
    assert env["HATCHET_CLIENT_NAMESPACE"] == "team-a"
    assert env["HATCHET_CLIENT_TLS_STRATEGY"] == "tls"
    assert env["HATCHET_CLIENT_TLS_ROOT_CA_FILE"] == "/etc/hatchet/tls/ca/ca.crt"
    assert env["HATCHET_CLIENT_TLS_SERVER_NAME"] == "engine.local"
    assert env["HATCHET_CLIENT_WORKER_NAME"] == "gpu-workers"
    assert env["HATCHET_CLIENT_WORKER_SLOTS"] == "7"
    assert env["HATCHET_CLIENT_WORKER_DURABLE_SLOTS"] == "70"
    assert env["HATCHET_CLIENT_WORKER_HEALTHCHECK_PORT"] == "9001"
    assert env["HATCHET_CLIENT_WORKER_DRAIN_TIMEOUT_SECONDS"] == "45"
    labels = json.loads(env["HATCHET_CLIENT_WORKER_PRESET_LABELS"])
    assert labels == {"model": "llama", "gpu": 1, "hatchetworker": "w"}
    assert isinstance(labels["gpu"], int)  # integer labels stay integers for Hatchet's affinity
    pod = dep["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] == 45 + render.TEARDOWN_SECONDS
    assert {
        "name": "hatchet-tls-ca",
        "secret": {"secretName": "ca", "items": [{"key": "ca.crt", "path": "ca.crt"}]},
    } in pod["volumes"]
    assert {"name": "hatchet-tls-ca", "mountPath": "/etc/hatchet/tls/ca", "readOnly": True} in _container(dep)[
        "volumeMounts"
    ]


def test_mtls_mounts_the_client_certificate() -> None:
    dep = render.render_deployment(
        make_worker({"hatchet": {"tls": {"strategy": "mtls", "clientCertSecretRef": {"name": "client"}}}})
    )
    env = _env(dep)
    assert env["HATCHET_CLIENT_TLS_CERT_FILE"] == "/etc/hatchet/tls/client/tls.crt"
    assert env["HATCHET_CLIENT_TLS_KEY_FILE"] == "/etc/hatchet/tls/client/tls.key"
    vols = {v["name"]: v for v in dep["spec"]["template"]["spec"]["volumes"]}
    assert vols["hatchet-tls-client"] == {"name": "hatchet-tls-client", "secret": {"secretName": "client"}}


def test_user_env_comes_after_the_contract() -> None:
    dep = render.render_deployment(
        make_worker(
            {
                "env": [
                    {"name": "A", "value": "1"},
                    {"name": "B", "valueFrom": {"fieldRef": {"fieldPath": "x"}}},
                ]
            }
        )
    )
    names = [e["name"] for e in _container(dep)["env"]]
    assert names[-2:] == ["A", "B"]
    assert _container(dep)["env"][-1] == {"name": "B", "valueFrom": {"fieldRef": {"fieldPath": "x"}}}


def test_probes_default_to_this_sdks_endpoints_on_the_named_port() -> None:
    c = _container(render.render_deployment(make_worker()))
    assert c["ports"] == [{"name": "health", "containerPort": 8001, "protocol": "TCP"}]
    paths = {"livenessProbe": "/livez", "readinessProbe": "/readyz", "startupProbe": "/health"}
    for probe, path in paths.items():
        assert c[probe]["httpGet"] == {"path": path, "port": "health"}
    assert c["startupProbe"]["periodSeconds"] * c["startupProbe"]["failureThreshold"] == 120
    assert c["livenessProbe"]["periodSeconds"] == 15 and c["livenessProbe"]["failureThreshold"] == 3
    assert c["readinessProbe"]["periodSeconds"] == 10


def test_probe_tuning_overrides_only_what_is_set() -> None:
    c = _container(
        render.render_deployment(
            make_worker(
                {
                    "healthCheck": {
                        "livenessProbe": {"path": "/livez", "periodSeconds": 30},
                        "readinessProbe": {"path": "/readyz", "failureThreshold": 1},
                    }
                }
            )
        )
    )
    assert c["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert c["livenessProbe"]["periodSeconds"] == 30
    assert c["livenessProbe"]["failureThreshold"] == 3
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["readinessProbe"]["failureThreshold"] == 1
    assert c["startupProbe"]["httpGet"]["path"] == "/health"


def test_health_check_disabled_removes_port_probes_and_env() -> None:
    dep = render.render_deployment(make_worker({"healthCheck": {"enabled": False}}))
    c = _container(dep)
    assert "ports" not in c and "livenessProbe" not in c and "readinessProbe" not in c and "startupProbe" not in c
    assert "HATCHET_CLIENT_WORKER_HEALTHCHECK_ENABLED" not in _env(dep)


def test_secure_defaults_pass_restricted() -> None:
    dep = render.render_deployment(make_worker())
    pod = dep["spec"]["template"]["spec"]
    c = _container(dep)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert c["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
    }
    assert {"name": "hatchet-tmp", "emptyDir": {}} in pod["volumes"]
    assert {"name": "hatchet-tmp", "mountPath": "/tmp"} in c["volumeMounts"]


def test_security_contexts_can_be_replaced() -> None:
    dep = render.render_deployment(
        make_worker({"podSecurityContext": {"runAsUser": 1000}, "securityContext": {"readOnlyRootFilesystem": False}})
    )
    assert dep["spec"]["template"]["spec"]["securityContext"] == {"runAsUser": 1000}
    assert _container(dep)["securityContext"] == {"readOnlyRootFilesystem": False}


def test_user_tmp_mount_replaces_the_operator_tmp() -> None:
    dep = render.render_deployment(
        make_worker(
            {
                "volumes": [{"name": "scratch", "emptyDir": {"medium": "Memory"}}],
                "volumeMounts": [{"name": "scratch", "mountPath": "/tmp"}],
            }
        )
    )
    pod = dep["spec"]["template"]["spec"]
    assert [v["name"] for v in pod["volumes"]] == ["scratch"]
    assert _container(dep)["volumeMounts"] == [{"name": "scratch", "mountPath": "/tmp"}]


def test_rollout_never_lowers_capacity() -> None:
    spec = render.render_deployment(make_worker())["spec"]
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"},
    }


def test_replicas_are_left_to_an_autoscaler_when_unset() -> None:
    assert "replicas" not in render.render_deployment(make_worker())["spec"]
    assert render.render_deployment(make_worker({"replicas": 0}))["spec"]["replicas"] == 0
    assert render.render_deployment(make_worker({"replicas": 4}))["spec"]["replicas"] == 4


def test_labels_selector_and_owner() -> None:
    dep = render.render_deployment(make_worker({"podLabels": {"team": "a"}, "podAnnotations": {"x": "y"}}))
    assert dep["metadata"]["name"] == "w" and dep["metadata"]["namespace"] == "ns"
    assert dep["spec"]["selector"] == {
        "matchLabels": {"app.kubernetes.io/name": "hatchet-worker", "app.kubernetes.io/instance": "w"}
    }
    tmpl = dep["spec"]["template"]["metadata"]
    assert tmpl["labels"]["team"] == "a"
    assert tmpl["labels"]["app.kubernetes.io/managed-by"] == "hatchet-operator"
    assert tmpl["annotations"] == {"x": "y"}
    assert dep["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "hatchetkube.io/v1alpha1",
            "kind": "HatchetWorker",
            "name": "w",
            "uid": "u-1",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert render.selector_string("w") == "app.kubernetes.io/instance=w,app.kubernetes.io/name=hatchet-worker"


def test_offline_render_without_uid_has_no_owner_reference() -> None:
    assert "ownerReferences" not in render.render_deployment(make_worker(uid=None))["metadata"]


def test_pod_settings_pass_through() -> None:
    spec = {
        "command": ["python"],
        "args": ["worker.py"],
        "imagePullPolicy": "Always",
        "resources": {"requests": {"cpu": "250m", "memory": "1Gi"}, "limits": {"cpu": 2}},
        "envFrom": [{"configMapRef": {"name": "cfg"}}],
        "nodeSelector": {"pool": "gpu"},
        "tolerations": [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}],
        "affinity": {"nodeAffinity": {}},
        "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule"}],
        "serviceAccountName": "sa",
        "imagePullSecrets": [{"name": "pull"}],
        "priorityClassName": "high",
    }
    dep = render.render_deployment(make_worker(spec))
    pod = dep["spec"]["template"]["spec"]
    c = _container(dep)
    assert c["command"] == ["python"] and c["args"] == ["worker.py"] and c["imagePullPolicy"] == "Always"
    assert c["resources"] == {"requests": {"cpu": "250m", "memory": "1Gi"}, "limits": {"cpu": 2}}
    assert c["envFrom"] == [{"configMapRef": {"name": "cfg"}}]
    for key in (
        "nodeSelector",
        "tolerations",
        "affinity",
        "topologySpreadConstraints",
        "serviceAccountName",
        "imagePullSecrets",
        "priorityClassName",
    ):
        assert pod[key] == spec[key], key


def test_image_falls_back_to_the_operator_default_and_else_fails() -> None:
    worker = make_worker({"image": None})
    dep = render.render_deployment(worker, render.RenderOptions(default_image="fallback:2"))
    assert _container(dep)["image"] == "fallback:2"
    with pytest.raises(render.RenderError) as err:
        render.render_deployment(worker)
    assert err.value.reason == "ImageNotSet"


def test_render_is_deterministic() -> None:
    a = render.render_deployment(make_worker({"labels": {"b": 1, "a": "x"}}))
    b = render.render_deployment(make_worker({"labels": {"a": "x", "b": 1}}))
    assert json.dumps(a) == json.dumps(b)


def test_secret_references() -> None:
    w = make_worker(
        {
            "hatchet": {
                "tls": {
                    "strategy": "mtls",
                    "caSecretRef": {"name": "ca", "key": "bundle"},
                    "clientCertSecretRef": {"name": "cc"},
                }
            }
        }
    )
    assert render.secret_references(w) == [
        ("hatchet-client-config", "HATCHET_CLIENT_TOKEN"),
        ("ca", "bundle"),
        ("cc", "tls.crt"),
        ("cc", "tls.key"),
    ]


@pytest.mark.parametrize(
    "spec",
    [
        {"slots": 0},
        {"durableSlots": -1},
        {"replicas": -1},
        {"healthCheck": {"port": 0}},
        {"healthCheck": {"port": 65536}},
        {"workerName": "has space"},
        {"labels": {"a": 1.5}},
        {"hatchet": {"tls": {"strategy": "ssl"}}},
        {"drain": {"timeoutSeconds": -5}},
        {"unknownField": 1},
        {"resources": {"limits": {"cpu": "lots"}}},
        {"resources": {"limits": {"cpu": "-1"}}},
        {"resources": {"requests": {"memory": -1}}},
        {"labels": {"gpu": 2**31}},
        {"labels": {"gpu": -(2**31) - 1}},
        {"podLabels": {"team": "a b"}},
        {"nodeSelector": {"pool": "x" * 64}},
        {"automountServiceAccountToken": "yes"},
    ],
)
def test_models_reject_what_the_schema_rejects(spec: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        api.HatchetWorkerSpec.model_validate({"image": "i", **spec})


def test_no_service_account_token_unless_asked() -> None:
    pod = render.render_deployment(make_worker())["spec"]["template"]["spec"]
    # Explicitly false: a ServiceAccount's own automount setting must not bring the token back.
    assert pod["automountServiceAccountToken"] is False
    pod = render.render_deployment(make_worker({"automountServiceAccountToken": True}))["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is True


def test_zero_durable_slots_are_passed_to_the_sdk() -> None:
    # 0 is meaningful (no durable pool), so it must not be dropped like an unset value.
    assert (
        _env(render.render_deployment(make_worker({"durableSlots": 0})))["HATCHET_CLIENT_WORKER_DURABLE_SLOTS"] == "0"
    )


def _expand(value: str, env: dict[str, str]) -> str:
    """The kubelet's expansion of an env value: ``$$`` reads as ``$``, ``$(NAME)`` as NAME's value."""
    out, i = [], 0
    while i < len(value):
        if value.startswith("$$", i):
            out.append("$")
            i += 2
        elif value.startswith("$(", i) and ")" in value[i:]:
            end = value.index(")", i)
            name = value[i + 2 : end]
            out.append(env.get(name, value[i : end + 1]))
            i = end + 1
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def test_preset_labels_never_expand_a_users_value_and_name_the_pod_when_autoscaled() -> None:
    labels = {"note": "$(HATCHET_KUBE_POD_NAME)", "cost": "$$5", "gpu": 2}
    pod_env = {"HATCHET_KUBE_POD_NAME": "w-abc-123"}
    plain = _env(render.render_deployment(make_worker({"labels": labels})))["HATCHET_CLIENT_WORKER_PRESET_LABELS"]
    assert json.loads(_expand(plain, pod_env)) == {**labels, "hatchetworker": "w"}
    scaled = _env(render.render_deployment(make_worker({"labels": labels, "autoscaling": {"maxReplicas": 3}})))
    value = scaled["HATCHET_CLIENT_WORKER_PRESET_LABELS"]
    assert json.loads(_expand(value, pod_env)) == {
        **labels, "hatchetworker": "w", api.POD_LABEL_KEY: "w-abc-123", api.NAMESPACE_LABEL_KEY: "ns"}
