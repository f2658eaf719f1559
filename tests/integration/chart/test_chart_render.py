"""The chart, rendered and linted by real helm with several value sets (no cluster needed).

Covers: the objects each mode renders, least-privilege RBAC (exact rules, no wildcards, no delete),
secure pod defaults, the CRD being the generated one, and bad values failing with a clear message.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from chartlib import (
    CHART,
    CRD_NAME,
    KUBE_VERSION,
    REPO,
    WORKLOAD_RULES,
    container,
    kinds,
    lease_rules,
    of_kind,
    one,
    render,
    rules_map,
    template,
)

from harness.helm import Helm
from hatchet_operator import crdgen
from hatchet_operator import render as operator_render
from hatchet_operator.api import v1alpha1

NS = "hk-system"
FULLNAME = "hk-hatchet-operator"
SERVICE_MONITOR_API = ("--api-versions", "monitoring.coreos.com/v1/ServiceMonitor")


@pytest.fixture(scope="module")
def helm(tmp_path_factory: pytest.TempPathFactory) -> Helm:
    """helm without a cluster: lint and template only."""
    return Helm(tmp_path_factory.mktemp("helm-offline"))


# ---- the CRD: one source ------------------------------------------------------------------------


def test_chart_crd_file_is_the_generated_crd() -> None:
    generated = subprocess.run(
        [sys.executable, "-m", "hatchet_operator", "crd"], capture_output=True, text=True, check=True
    ).stdout
    chart_copy = (CHART / "files" / crdgen.CRD_FILE).read_text()
    committed = (REPO / "crds" / crdgen.CRD_FILE).read_text()
    assert chart_copy == generated, "charts/hatchet-operator/files is stale: run hack/sync-chart-crd.sh"
    assert committed == generated, "crds/ is stale: run `hatchet-operator crd > crds/...`"


def test_rendered_crd_equals_the_generated_one_plus_helm_metadata(helm: Helm) -> None:
    crd = one(render(helm), "CustomResourceDefinition")
    expected = json.loads(json.dumps(crdgen.crd()))
    assert crd["spec"] == expected["spec"]
    assert crd["metadata"]["name"] == CRD_NAME
    assert crd["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}
    for k, v in expected["metadata"]["labels"].items():
        assert crd["metadata"]["labels"][k] == v
    no_keep = one(render(helm, {"crds": {"keep": False}}), "CustomResourceDefinition")
    assert "helm.sh/resource-policy" not in (no_keep["metadata"].get("annotations") or {})
    assert not of_kind(render(helm, {"crds": {"install": False}}), "CustomResourceDefinition")


# ---- lint -----------------------------------------------------------------------------------------

LINT_SETS: dict[str, dict[str, Any]] = {
    "default": {},
    "namespaced": {"watchNamespaces": ["team-a", "team-b"]},
    "ha-pdb": {"replicaCount": 2, "podDisruptionBudget": {"enabled": True}},
    "minimal-privilege": {"secretCheck": {"enabled": False}, "crds": {"install": False}},
    "single-no-leader": {"leaderElection": {"enabled": False}, "metrics": {"service": {"enabled": False}}},
}


@pytest.mark.parametrize("name", sorted(LINT_SETS))
def test_lint_strict(helm: Helm, name: str, tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump(LINT_SETS[name]))
    out = helm.run("lint", "--strict", "--kube-version", KUBE_VERSION, str(CHART), "-f", str(values))
    assert "0 chart(s) failed" in out.stdout


# ---- what each mode renders -------------------------------------------------------------------------


def test_default_cluster_wide(helm: Helm) -> None:
    objs = render(helm)
    assert kinds(objs) == [
        ("ClusterRole", "", FULLNAME),
        ("ClusterRole", "", f"{FULLNAME}-edit"),
        ("ClusterRole", "", f"{FULLNAME}-view"),
        ("ClusterRoleBinding", "", FULLNAME),
        ("CustomResourceDefinition", "", CRD_NAME),
        ("Deployment", NS, FULLNAME),
        ("Role", NS, f"{FULLNAME}-leader-election"),
        ("RoleBinding", NS, f"{FULLNAME}-leader-election"),
        ("Service", NS, f"{FULLNAME}-metrics"),
        ("ServiceAccount", NS, FULLNAME),
    ]
    assert rules_map(one(objs, "ClusterRole", FULLNAME)["rules"]) == WORKLOAD_RULES
    assert rules_map(one(objs, "Role")["rules"]) == lease_rules(FULLNAME)
    binding = one(objs, "ClusterRoleBinding")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": FULLNAME, "namespace": NS}]
    assert binding["roleRef"]["name"] == FULLNAME

    deploy = one(objs, "Deployment")
    c = container(deploy)
    assert c["image"] == "hatchet-kube/operator:0.1.0"
    assert c["args"][0] == "run"
    assert not [a for a in c["args"] if a.startswith("--namespace")]
    assert f"--leader-election-namespace={NS}" in c["args"]
    assert f"--leader-election-id={FULLNAME}" in c["args"]
    assert "--log-format=json" in c["args"]
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
    assert {p["name"]: p["containerPort"] for p in c["ports"]} == {"metrics": 8080, "health": 8081}
    assert c["resources"]["requests"] and c["resources"]["limits"]["memory"]
    # Secure defaults: the `restricted` Pod Security Standard.
    pod = deploy["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert c["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert pod["serviceAccountName"] == FULLNAME
    assert deploy["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    svc = one(objs, "Service")
    assert svc["spec"]["selector"] == deploy["spec"]["selector"]["matchLabels"]
    assert svc["spec"]["ports"][0]["targetPort"] == "metrics"


def test_no_rule_is_broader_than_needed_in_any_mode(helm: Helm) -> None:
    for values in ({}, {"watchNamespaces": ["a", "b"]}, {"replicaCount": 3}):
        objs = render(helm, values)
        operator_roles = [o for o in of_kind(objs, "ClusterRole") if o["metadata"]["name"] not in AGGREGATED]
        for obj in operator_roles + of_kind(objs, "Role"):
            for rule in obj["rules"]:
                assert "*" not in rule["verbs"] and "*" not in rule["resources"] and "*" not in rule["apiGroups"]
                assert not {"delete", "deletecollection", "escalate", "bind", "impersonate"} & set(rule["verbs"])
                if "secrets" in rule["resources"]:
                    assert set(rule["verbs"]) == {"get"}  # the named Secrets only: no list/watch


def test_namespaced_mode_has_no_cluster_role(helm: Helm) -> None:
    objs = render(helm, {"watchNamespaces": ["team-a", "team-b"]})
    assert not of_kind(objs, "ClusterRole") and not of_kind(objs, "ClusterRoleBinding")
    roles = {(o["metadata"]["namespace"], o["metadata"]["name"]): o for o in of_kind(objs, "Role")}
    assert set(roles) == {("team-a", FULLNAME), ("team-b", FULLNAME), (NS, f"{FULLNAME}-leader-election")}
    assert rules_map(roles[("team-a", FULLNAME)]["rules"]) == WORKLOAD_RULES
    bindings = {(o["metadata"]["namespace"], o["metadata"]["name"]): o for o in of_kind(objs, "RoleBinding")}
    assert set(bindings) == set(roles)
    assert bindings[("team-b", FULLNAME)]["subjects"] == [{"kind": "ServiceAccount", "name": FULLNAME, "namespace": NS}]
    args = container(one(objs, "Deployment"))["args"]
    assert [a for a in args if a.startswith("--namespace")] == ["--namespace=team-a", "--namespace=team-b"]


def test_secret_check_off_drops_the_secret_permission(helm: Helm) -> None:
    objs = render(helm, {"secretCheck": {"enabled": False}})
    rules = rules_map(one(objs, "ClusterRole", FULLNAME)["rules"])
    assert ("", "secrets", "") not in rules
    assert rules == {k: v for k, v in WORKLOAD_RULES.items() if k[1] != "secrets"}
    assert "--no-secret-check" in container(one(objs, "Deployment"))["args"]


def test_service_monitor(helm: Helm) -> None:
    values = {"metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prom"}, "interval": "15s"}}}
    objs = render(helm, values, *SERVICE_MONITOR_API)
    sm = one(objs, "ServiceMonitor")
    svc = one(objs, "Service")
    assert sm["metadata"]["labels"]["release"] == "prom"
    assert all(svc["metadata"]["labels"][k] == v for k, v in sm["spec"]["selector"]["matchLabels"].items())
    endpoint = {"port": "metrics", "path": "/metrics", "interval": "15s", "scrapeTimeout": "10s"}
    assert sm["spec"]["endpoints"] == [endpoint]
    assert sm["spec"]["namespaceSelector"] == {"matchNames": [NS]}
    assert not of_kind(render(helm), "ServiceMonitor")
    # Without the prometheus-operator API the install fails up front, saying why.
    cp = template(helm, values, check=False)
    assert cp.returncode != 0 and "monitoring.coreos.com/v1 ServiceMonitor API" in cp.stderr


def test_pdb_and_replicas(helm: Helm) -> None:
    objs = render(helm, {"replicaCount": 2, "podDisruptionBudget": {"enabled": True}})
    pdb = one(objs, "PodDisruptionBudget")
    deploy = one(objs, "Deployment")
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"] == deploy["spec"]["selector"]
    assert deploy["spec"]["replicas"] == 2
    assert not of_kind(render(helm), "PodDisruptionBudget")


def test_leader_election_settings(helm: Helm) -> None:
    values = {"leaderElection": {"leaseName": "my-lease", "leaseDuration": 30, "renewDeadline": 20, "retryPeriod": 4}}
    objs = render(helm, values)
    args = container(one(objs, "Deployment"))["args"]
    for a in ("--leader-election-id=my-lease", "--lease-duration=30", "--renew-deadline=20", "--retry-period=4"):
        assert a in args
    assert rules_map(one(objs, "Role")["rules"]) == lease_rules("my-lease")

    off = render(helm, {"leaderElection": {"enabled": False}})
    deploy = one(off, "Deployment")
    assert "--no-leader-election" in container(deploy)["args"]
    assert deploy["spec"]["strategy"] == {"type": "Recreate"}
    assert not of_kind(off, "Role") and not of_kind(off, "RoleBinding")


def test_image_log_and_misc_settings(helm: Helm) -> None:
    digest = "sha256:" + "a" * 64
    objs = render(
        helm,
        {
            "image": {"repository": "mirror.internal/hk/operator", "digest": digest, "pullPolicy": "Always"},
            "imagePullSecrets": [{"name": "pull"}],
            "logging": {"level": "DEBUG", "format": "text"},
            "defaultWorkerImage": "acme/worker:1",
            "serviceAccount": {"name": "custom-sa", "annotations": {"a": "b"}},
            "extraArgs": ["--request-timeout=12"],
        },
    )
    deploy = one(objs, "Deployment")
    c = container(deploy)
    assert c["image"] == f"mirror.internal/hk/operator@{digest}" and c["imagePullPolicy"] == "Always"
    assert deploy["spec"]["template"]["spec"]["imagePullSecrets"] == [{"name": "pull"}]
    assert deploy["spec"]["template"]["spec"]["serviceAccountName"] == "custom-sa"
    for a in ("--log-level=DEBUG", "--log-format=text", "--default-image=acme/worker:1", "--request-timeout=12"):
        assert a in c["args"]
    assert one(objs, "ServiceAccount")["metadata"]["name"] == "custom-sa"
    assert one(objs, "ClusterRoleBinding")["subjects"][0]["name"] == "custom-sa"


# ---- bad values are rejected with a message naming the problem ----------------------------------------

BAD_VALUES: list[tuple[dict[str, Any], str]] = [
    ({"replicaCount": "two"}, "/replicaCount"),
    ({"logging": {"level": "verbose"}}, "/logging/level"),
    ({"logging": {"format": "xml"}}, "/logging/format"),
    ({"watchNamespaces": ["Team_A"]}, "/watchNamespaces/0"),
    ({"image": {"pullPolicy": "Sometimes"}}, "/image/pullPolicy"),
    ({"image": {"digest": "latest"}}, "/image/digest"),
    ({"metrics": {"port": 70000}}, "/metrics/port"),
    ({"leaderElection": {"leaseDuration": 0}}, "/leaderElection/leaseDuration"),
    ({"replicas": 2}, "additional properties 'replicas' not allowed"),
    ({"rbac": {"create": "yes"}}, "/rbac/create"),
    ({"extraArgs": ["-v"]}, "/extraArgs/0"),
    ({"replicaCount": 2, "leaderElection": {"enabled": False}}, "needs leaderElection.enabled=true"),
    ({"leaderElection": {"leaseDuration": 5, "renewDeadline": 10}}, "renewDeadline must be less than"),
    ({"podDisruptionBudget": {"enabled": True}}, "needs replicaCount >= 2"),
    ({"replicaCount": 2, "podDisruptionBudget": {"enabled": True, "minAvailable": 2}}, "minAvailable must be less"),
    ({"metrics": {"port": 8081}}, "metrics.port and health.port must differ"),
    ({"watchNamespaces": ["a", "a"]}, "more than once"),
]


@pytest.mark.parametrize(("values", "message"), BAD_VALUES, ids=[m for _, m in BAD_VALUES])
def test_bad_values_are_rejected(helm: Helm, values: dict[str, Any], message: str) -> None:
    cp = template(helm, values, check=False)
    assert cp.returncode != 0, f"accepted bad values {values}"
    assert message in cp.stderr, cp.stderr


def test_every_value_is_documented() -> None:
    """Each leaf key in values.yaml has a comment right above it, or sits inside a block whose key has a
    `# --` comment (probe timings, resources, security contexts: Kubernetes documents those fields)."""
    lines = (CHART / "values.yaml").read_text().splitlines()
    keys = [
        (i, len(line) - len(line.lstrip()), line.strip())
        for i, line in enumerate(lines)
        if line.strip() and not line.strip().startswith(("#", "-")) and ":" in line
    ]
    undocumented = []
    for n, (i, indent, text) in enumerate(keys):
        is_parent = n + 1 < len(keys) and keys[n + 1][1] > indent and text.endswith(":")
        if is_parent or lines[i - 1].strip().startswith("#"):
            continue
        ancestors = [k for k in keys[:n] if k[1] < indent]
        documented_block = False
        level = indent
        for j, a_indent, _ in reversed(ancestors):
            if a_indent < level:
                level = a_indent
                if _doc_comment_above(lines, j):
                    documented_block = True
                    break
        if not documented_block:
            undocumented.append(text)
    assert not undocumented, f"values.yaml keys without a comment: {undocumented}"
    schema = json.loads((CHART / "values.schema.json").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert set(schema["properties"]) == set(values), "values.schema.json and values.yaml list different keys"


def _doc_comment_above(lines: list[str], i: int) -> bool:
    """True when the comment block right above line i starts with `# --` (a value's description)."""
    j = i - 1
    while j >= 0 and lines[j].strip().startswith("#"):
        if lines[j].strip().startswith("# --"):
            return True
        j -= 1
    return False


# ---- the rendered arguments mean what the values say, to the operator's own CLI parser ------------------


@pytest.mark.parametrize(
    ("values", "expect"),
    [
        ({}, {"namespaces": (), "check_secrets": True, "leader": True}),
        ({"watchNamespaces": ["a", "b"], "secretCheck": {"enabled": False}},
         {"namespaces": ("a", "b"), "check_secrets": False, "leader": True}),
        ({"leaderElection": {"enabled": False}, "defaultWorkerImage": "acme/w:1"},
         {"namespaces": (), "check_secrets": True, "leader": False, "default_image": "acme/w:1"}),
    ],
)
def test_rendered_args_parse_into_the_intended_settings(
    helm: Helm, values: dict[str, Any], expect: dict[str, Any]
) -> None:
    from hatchet_operator import cli

    args = container(one(render(helm, values), "Deployment"))["args"]
    parsed = cli._parser().parse_args(args)  # exits (fails the test) on an argument the operator lacks
    settings = cli.settings_from(parsed)
    assert settings.namespaces == expect["namespaces"]
    assert settings.check_secrets is expect["check_secrets"]
    assert settings.leader.enabled is expect["leader"]
    assert settings.default_image == expect.get("default_image")
    assert (settings.metrics_port, settings.health_port) == (8080, 8081)
    if expect["leader"]:
        assert (settings.leader.namespace, settings.leader.name) == (NS, FULLNAME)
        assert (settings.leader.lease_duration, settings.leader.renew_deadline, settings.leader.retry_period) == (
            15.0, 10.0, 2.0)
    assert parsed.log_level == "INFO" and parsed.log_format == "json"


AGGREGATED = (f"{FULLNAME}-view", f"{FULLNAME}-edit")
AGG = "rbac.authorization.k8s.io/aggregate-to-"


def test_aggregated_roles_extend_the_builtin_view_edit_admin_with_hatchetworkers_only(helm: Helm) -> None:
    objs = render(helm)
    view, edit = one(objs, "ClusterRole", AGGREGATED[0]), one(objs, "ClusterRole", AGGREGATED[1])
    labels = {n: {k.removeprefix(AGG) for k, v in o["metadata"]["labels"].items() if k.startswith(AGG) and v == "true"}
              for n, o in (("view", view), ("edit", edit))}
    assert labels == {"view": {"view", "edit", "admin"}, "edit": {"edit", "admin"}}
    assert rules_map(view["rules"]) == {
        ("hatchetkube.io", r, ""): {"get", "list", "watch"}
        for r in ("hatchetworkers", "hatchetworkers/status", "hatchetworkers/scale")
    }
    edit_rules = rules_map(edit["rules"])
    assert {k[0] for k in edit_rules} == {"hatchetkube.io"}  # nothing beyond the HatchetWorker API
    assert "update" not in edit_rules.get(("hatchetkube.io", "hatchetworkers/status", ""), set())
    # Opt-out, and none in namespaced mode (nothing cluster-scoped there).
    off = render(helm, {"rbac": {"aggregateToBuiltinRoles": False}})
    assert [o["metadata"]["name"] for o in of_kind(off, "ClusterRole")] == [FULLNAME]
    assert of_kind(render(helm, {"watchNamespaces": ["a"]}), "ClusterRole") == []


POD_MONITOR_API = ("--api-versions", "monitoring.coreos.com/v1/PodMonitor")


def test_worker_pod_monitor_selects_the_pods_and_port_the_operator_renders(helm: Helm) -> None:
    values = {"workerPodMonitor": {"enabled": True, "labels": {"release": "prom"}, "interval": "15s"}}
    pm = one(render(helm, values, *POD_MONITOR_API), "PodMonitor")
    assert pm["metadata"]["labels"]["release"] == "prom" and pm["metadata"]["namespace"] == NS
    assert pm["spec"]["namespaceSelector"] == {"any": True}
    # What the operator actually puts on a worker pod: the selector matches its labels, the
    # endpoint names its health port (where the SDK serves /metrics).
    worker = v1alpha1.HatchetWorker.model_validate(
        {"apiVersion": v1alpha1.API_VERSION, "kind": v1alpha1.KIND, "metadata": {"name": "w", "namespace": "team-a"},
         "spec": {"image": "example/worker:1"}})
    pod_template = operator_render.render_deployment(worker)["spec"]["template"]
    pod_labels = pod_template["metadata"]["labels"]
    assert all(pod_labels.get(k) == v for k, v in pm["spec"]["selector"]["matchLabels"].items()), pod_labels
    [port] = pod_template["spec"]["containers"][0]["ports"]
    assert pm["spec"]["podMetricsEndpoints"] == [
        {"port": port["name"], "path": "/metrics", "interval": "15s", "scrapeTimeout": "10s"}]
    # Scoped to the watched namespaces when the operator is.
    scoped = one(render(helm, {**values, "watchNamespaces": ["team-a", "team-b"]}, *POD_MONITOR_API), "PodMonitor")
    assert scoped["spec"]["namespaceSelector"] == {"matchNames": ["team-a", "team-b"]}
    assert not of_kind(render(helm, {}, *POD_MONITOR_API), "PodMonitor")
    cp = template(helm, values, check=False)
    assert cp.returncode != 0 and "monitoring.coreos.com/v1 PodMonitor API" in cp.stderr
