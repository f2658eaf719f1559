"""The chart against the real control plane: install, RBAC that is sufficient and no broader, upgrade,
uninstall.

The operator pod the chart creates lands on a kwok node and never runs. So each test runs the operator
as a local process with exactly the installed Deployment's arguments, authenticating as the chart's
ServiceAccount (a token from the TokenRequest API), never as admin: if the chart's RBAC missed a verb,
the operator would log 403s and the HatchetWorker would not become Ready.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from chartlib import CHART, CRD_NAME, WORKLOAD_RULES, container, lease_rules, values_args

from harness.helm import Helm
from harness.kube import ControlPlane
from harness.operator import operator_argv
from harness.proc import Proc, free_port, wait_for
from hatchet_operator import crdgen

FAST_LEASE = {"leaseDuration": 4, "renewDeadline": 3, "retryPeriod": 1}
# Rules every authenticated user has (system:basic-user, system:discovery): not the chart's doing.
BUILTIN = {
    "selfsubjectaccessreviews.authorization.k8s.io",
    "selfsubjectrulesreviews.authorization.k8s.io",
    "selfsubjectreviews.authentication.k8s.io",
}


def new_namespace(kube: ControlPlane, prefix: str) -> str:
    return kube.create_namespace(f"{prefix}-{uuid.uuid4().hex[:6]}")


def adopt_crd(kube: ControlPlane, release: str, namespace: str) -> None:
    """Hand an existing CRD (applied by other tests, or kept by an uninstalled release) to this release.

    The same step a user takes to move CRDs applied with kubectl under the chart (docs/install.md)."""
    if kube.kubectl("get", "crd", CRD_NAME, check=False).returncode != 0:
        return
    kube.kubectl("label", "crd", CRD_NAME, "app.kubernetes.io/managed-by=Helm", "--overwrite")
    kube.kubectl(
        "annotate", "crd", CRD_NAME, f"meta.helm.sh/release-name={release}",
        f"meta.helm.sh/release-namespace={namespace}", "--overwrite",
    )


def install(helm: Helm, kube: ControlPlane, release: str, namespace: str, values: dict[str, Any],
            chart: Path = CHART, verb: str = "install") -> subprocess.CompletedProcess[str]:
    if verb == "install" and values.get("crds", {}).get("install", True):
        adopt_crd(kube, release, namespace)
    return helm.run(verb, release, str(chart), "--namespace", namespace, "--wait", "--timeout", "120s",
                    *values_args(values))


def sa_kubeconfig(kube: ControlPlane, namespace: str, sa: str, path: Path) -> Path:
    """A kubeconfig that authenticates as the ServiceAccount with a short-lived bound token."""
    token = kube.kubectl("create", "token", sa, "-n", namespace, "--duration=1h").stdout.strip()
    cfg = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": kube.server, "certificate-authority": str(kube.ca_path)}}],
        "users": [{"name": sa, "user": {"token": token}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": sa}}],
        "current-context": "c",
    }
    path.write_text(json.dumps(cfg))
    return path


class LocalOperator:
    """`hatchet-operator` with the installed Deployment's arguments, as the chart's ServiceAccount."""

    def __init__(self, kube: ControlPlane, namespace: str, deployment: str, kubeconfig: Path, log: Path) -> None:
        live = json.loads(kube.kubectl("get", "deployment", deployment, "-n", namespace, "-o", "json").stdout)
        args = [a for a in container(live)["args"] if not a.startswith(("--metrics-port=", "--health-port="))]
        assert args[0] == "run"
        self.metrics_port, self.health_port = free_port(), free_port()
        argv = operator_argv(kubeconfig, self.metrics_port, self.health_port, args)
        env = {"PATH": "/usr/bin:/bin", "HOME": str(log.parent), "POD_NAME": "local-operator",
               "POD_NAMESPACE": namespace}
        self.proc = Proc("chart-operator", argv, log, env=env)

    def __enter__(self) -> LocalOperator:
        self.proc.start()
        wait_for(lambda: self._get(self.health_port, "/healthz")[0] == 200, 60, "operator /healthz",
                 procs=[self.proc])
        wait_for(lambda: self.metric("hatchet_operator_leader") == 1.0, 60, "operator to take the Lease",
                 procs=[self.proc])
        return self

    def __exit__(self, *_: object) -> None:
        self.proc.stop()

    def _get(self, port: int, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, ""

    def metric(self, name: str, **labels: str) -> float:
        total = 0.0
        for line in self._get(self.metrics_port, "/metrics")[1].splitlines():
            m = re.match(r"^" + re.escape(name) + r"(\{(?P<l>[^}]*)\})?\s+(?P<v>\S+)$", line)
            if m and all(f'{k}="{v}"' in (m.group("l") or "") for k, v in labels.items()):
                total += float(m.group("v"))
        return total

    def forbidden(self) -> list[str]:
        found = []
        for line in self.proc.log.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                record = None
            # Not the timestamp: its milliseconds can read ",403".
            if isinstance(record, dict):
                record.pop("time", None)
                body = json.dumps(record)
            else:
                body = line
            if re.search(r"\b403\b|forbidden", body, re.IGNORECASE):
                found.append(line[:300])
        return found


def worker(name: str, **spec: Any) -> str:
    body = {"image": "hatchet-kube/example-worker:0.1.0", "replicas": 2, "slots": 5, **spec}
    return json.dumps({"apiVersion": "hatchetkube.io/v1alpha1", "kind": "HatchetWorker",
                       "metadata": {"name": name}, "spec": body})


def token_secret() -> str:
    return json.dumps({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "hatchet-client-config"},
                       "stringData": {"HATCHET_CLIENT_TOKEN": "not-a-real-token"}})


def condition(kube: ControlPlane, ns: str, name: str, type_: str) -> dict[str, Any] | None:
    cp = kube.kubectl("get", "hatchetworker", name, "-n", ns, "-o", "json", check=False)
    if cp.returncode != 0:
        return None
    for c in json.loads(cp.stdout).get("status", {}).get("conditions", []):
        if c["type"] == type_:
            return c  # type: ignore[no-any-return]
    return None


def wait_ready(kube: ControlPlane, ns: str, name: str, op: LocalOperator) -> None:
    wait_for(lambda: (condition(kube, ns, name, "Ready") or {}).get("status") == "True", 90,
             f"HatchetWorker {ns}/{name} Ready", procs=[op.proc])


def can_i(kube: ControlPlane, user: str, verb: str, resource: str, ns: str | None) -> bool:
    args = ["auth", "can-i", verb, resource, f"--as={user}"] + (["-n", ns] if ns else [])
    cp = kube.kubectl(*args, check=False)
    assert cp.stdout.strip() in ("yes", "no"), cp.stdout + cp.stderr
    return cp.stdout.strip() == "yes"


def granted(kube: ControlPlane, user: str, ns: str) -> dict[tuple[str, str, str], set[str]]:
    """What `kubectl auth can-i --list` says the user may do in a namespace, minus every user's built-ins."""
    out = kube.kubectl("auth", "can-i", "--list", f"--as={user}", "-n", ns).stdout.splitlines()
    rules: dict[tuple[str, str, str], set[str]] = {}
    for line in out[1:]:
        if line.startswith(" "):  # a non-resource URL row (/healthz, /version, ...): every user's
            continue
        m = re.match(r"^(\S+)\s+(\[[^\]]*\])\s+(\[[^\]]*\])\s+(\[[^\]]*\])\s*$", line)
        assert m, f"unparsed can-i line: {line!r}"
        resource, urls, names, verbs = m.groups()
        if urls != "[]" or resource in BUILTIN:
            continue
        name, _, group = resource.partition(".")
        if "/" in resource:  # e.g. hatchetworkers.hatchetkube.io/status
            base, _, sub = resource.partition("/")
            name, _, group = base.partition(".")
            name = f"{name}/{sub}"
        for rn in names.strip("[]").split() or [""]:
            rules.setdefault((group, name, rn), set()).update(verbs.strip("[]").split())
    return rules


@pytest.fixture
def work(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def system_ns(kube: ControlPlane) -> Iterator[str]:
    ns = new_namespace(kube, "hk-system")
    # The operator's pod must pass the `restricted` Pod Security Standard, or `helm install --wait`
    # times out: the ReplicaSet controller cannot create a rejected pod.
    kube.kubectl("label", "namespace", ns, "pod-security.kubernetes.io/enforce=restricted")
    yield ns
    kube.kubectl("delete", "namespace", ns, "--wait=false", check=False)


def test_cluster_wide_install_reconciles_as_its_service_account(
    helm: Helm, kube: ControlPlane, system_ns: str, namespace: str, work: Path
) -> None:
    release, fullname = "hk", "hk-hatchet-operator"
    install(helm, kube, release, system_ns, {"leaderElection": FAST_LEASE})
    kube.wait_established(CRD_NAME)
    user = f"system:serviceaccount:{system_ns}:{fullname}"
    kubeconfig = sa_kubeconfig(kube, system_ns, fullname, work / "sa.kubeconfig")
    whoami = kube.kubectl("auth", "whoami", f"--kubeconfig={kubeconfig}", "-o", "json", check=True).stdout
    assert json.loads(whoami)["status"]["userInfo"]["username"] == user

    kube.kubectl("apply", "-n", namespace, "-f", "-", input=token_secret())
    kube.kubectl("apply", "-n", namespace, "-f", "-", input=worker("fleet"))
    with LocalOperator(kube, system_ns, fullname, kubeconfig, work / "operator.log") as op:
        wait_ready(kube, namespace, "fleet", op)
        deploy = json.loads(kube.kubectl("get", "deploy", "fleet", "-n", namespace, "-o", "json").stdout)
        assert deploy["metadata"]["ownerReferences"][0]["kind"] == "HatchetWorker"
        assert deploy["status"]["readyReplicas"] == 2
        # A missing Secret is reported: the secrets get permission is used, not just granted.
        kube.kubectl("apply", "-n", namespace, "-f", "-", input=worker(
            "no-secret", hatchet={"tokenSecretRef": {"name": "absent", "key": "HATCHET_CLIENT_TOKEN"}}))
        wait_for(lambda: (condition(kube, namespace, "no-secret", "Degraded") or {}).get("reason") == "SecretNotFound",
                 60, "Degraded SecretNotFound", procs=[op.proc])
        # ... and the events create permission: the Degraded transition is announced with a Warning Event.
        def warning_posted() -> bool:
            events = json.loads(kube.kubectl("get", "events", "-n", namespace, "-o", "json").stdout)["items"]
            return any(e["involvedObject"]["name"] == "no-secret" and e["reason"] == "SecretNotFound"
                       and e["type"] == "Warning" for e in events)

        wait_for(warning_posted, 30, "a SecretNotFound Warning Event", procs=[op.proc])
        assert op.metric("hatchet_operator_errors", kind="api") == 0
        assert op.forbidden() == []

    # Not broader than needed: exactly the chart's rules, and nothing a worker fleet could abuse.
    assert granted(kube, user, namespace) == WORKLOAD_RULES
    assert granted(kube, user, system_ns) == {**WORKLOAD_RULES, **lease_rules(fullname)}
    for verb, resource in [("create", "secrets"), ("list", "secrets"), ("watch", "secrets"),
                           ("delete", "pods"), ("create", "pods"),
                           ("delete", "deployments"), ("update", "deployments"), ("create", "hatchetworkers"),
                           ("delete", "hatchetworkers"), ("patch", "hatchetworkers"), ("get", "configmaps"),
                           ("create", "leases"), ("create", "rolebindings")]:
        assert not can_i(kube, user, verb, resource, namespace), f"{user} may {verb} {resource}"
    assert not can_i(kube, user, "get", "leases/someone-elses", system_ns)
    assert not can_i(kube, user, "list", "nodes", None)
    assert not can_i(kube, user, "create", "clusterrolebindings", None)
    assert not can_i(kube, user, "update", f"customresourcedefinitions/{CRD_NAME}", None)

    helm.run("uninstall", release, "--namespace", system_ns, "--wait")
    assert kube.kubectl("get", "clusterrole", fullname, check=False).returncode != 0
    assert kube.kubectl("get", "deploy,sa,svc,role,rolebinding", "-n", system_ns, "-l",
                        f"app.kubernetes.io/instance={release}", "-o", "name").stdout.strip() == ""
    # The CRD is kept (resource-policy keep), and with it the users' HatchetWorkers and their fleets.
    assert kube.kubectl("get", "crd", CRD_NAME, check=False).returncode == 0
    assert kube.kubectl("get", "hatchetworker", "fleet", "-n", namespace, check=False).returncode == 0


def test_namespaced_mode_needs_no_cluster_role(
    helm: Helm, kube: ControlPlane, system_ns: str, work: Path
) -> None:
    release, fullname = "hkns", "hkns-hatchet-operator"
    watched, other = new_namespace(kube, "hk-watched"), new_namespace(kube, "hk-other")
    try:
        # The CRD comes from elsewhere (a cluster-wide release, or kubectl apply of crds/).
        kube.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CHART / "files" / crdgen.CRD_FILE))
        kube.wait_established(CRD_NAME)
        install(helm, kube, release, system_ns,
                {"leaderElection": FAST_LEASE, "crds": {"install": False}, "watchNamespaces": [watched]})
        selector = f"app.kubernetes.io/instance={release}"
        assert kube.kubectl("get", "clusterroles,clusterrolebindings", "-l", selector, "-o", "name").stdout == ""
        user = f"system:serviceaccount:{system_ns}:{fullname}"
        for ns in (watched, other):
            kube.kubectl("apply", "-n", ns, "-f", "-", input=token_secret())
            kube.kubectl("apply", "-n", ns, "-f", "-", input=worker("fleet"))
        kubeconfig = sa_kubeconfig(kube, system_ns, fullname, work / "sa.kubeconfig")
        with LocalOperator(kube, system_ns, fullname, kubeconfig, work / "operator.log") as op:
            wait_ready(kube, watched, "fleet", op)
            assert op.forbidden() == []
            assert op.metric("hatchet_operator_errors", kind="api") == 0
        # The unwatched namespace was never touched.
        assert condition(kube, other, "fleet", "Ready") is None
        assert kube.kubectl("get", "deploy", "fleet", "-n", other, check=False).returncode != 0

        assert granted(kube, user, watched) == WORKLOAD_RULES
        assert granted(kube, user, system_ns) == lease_rules(fullname)
        assert granted(kube, user, other) == {}
        for verb, resource in [("list", "hatchetworkers"), ("list", "deployments"), ("list", "secrets")]:
            assert not can_i(kube, user, verb, resource, None), f"{user} may {verb} {resource} cluster-wide"
    finally:
        helm.run("uninstall", release, "--namespace", system_ns, "--wait", check=False)
        for ns in (watched, other):
            kube.kubectl("delete", "namespace", ns, "--wait=false", check=False)


def old_chart(tmp: Path) -> Path:
    """A copy of the chart as an older release: its CRD lacks spec.durableSlots and its appVersion differs."""
    chart = tmp / "hatchet-operator"
    shutil.copytree(CHART, chart)
    crd_file = chart / "files" / crdgen.CRD_FILE
    crd = yaml.safe_load(crd_file.read_text())
    del crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["durableSlots"]
    crd_file.write_text(yaml.safe_dump(crd, sort_keys=False))
    return chart


def test_upgrade_updates_the_crd_and_settings_then_uninstall_keeps_the_crd(
    helm: Helm, kube: ControlPlane, system_ns: str, namespace: str, work: Path
) -> None:
    release, fullname = "hkup", "hkup-hatchet-operator"
    install(helm, kube, release, system_ns, {"leaderElection": FAST_LEASE}, chart=old_chart(work))
    kube.wait_established(CRD_NAME)

    def durable_slots_kept() -> bool:
        cp = kube.kubectl("apply", "-n", namespace, "-f", "-", input=worker("probe", durableSlots=7), check=False)
        if cp.returncode != 0:
            assert 'unknown field "spec.durableSlots"' in cp.stderr, cp.stderr
            return False
        got = json.loads(kube.kubectl("get", "hatchetworker", "probe", "-n", namespace, "-o", "json").stdout)
        return bool(got["spec"].get("durableSlots") == 7)

    # The old schema rejects the field: the check below can fail.
    assert not durable_slots_kept()

    install(helm, kube, release, system_ns, {"leaderElection": FAST_LEASE, "logging": {"level": "DEBUG"},
                                             "replicaCount": 2, "podDisruptionBudget": {"enabled": True}},
            verb="upgrade")
    # helm upgrade applied the new CRD schema (a chart crds/ folder would have been left alone) ...
    wait_for(durable_slots_kept, 30, "the upgraded CRD to keep spec.durableSlots")
    # ... and the changed value reached the operator's Deployment, rolled out on the kwok node.
    live = json.loads(kube.kubectl("get", "deploy", fullname, "-n", system_ns, "-o", "json").stdout)
    assert "--log-level=DEBUG" in container(live)["args"]
    assert live["status"].get("updatedReplicas") == 2 and live["status"].get("readyReplicas") == 2
    assert live["metadata"]["generation"] == 2

    # The budget selects exactly the operator's pods (the disruption controller counts them).
    def pdb_counts() -> bool:
        pdb = json.loads(kube.kubectl("get", "pdb", fullname, "-n", system_ns, "-o", "json").stdout)
        return pdb.get("status", {}).get("expectedPods") == 2 and pdb["status"].get("disruptionsAllowed") == 1

    wait_for(pdb_counts, 60, "the PodDisruptionBudget to count the two operator pods")
    history = json.loads(helm.run("history", release, "--namespace", system_ns, "-o", "json").stdout)
    assert [h["status"] for h in history] == ["superseded", "deployed"]

    helm.run("uninstall", release, "--namespace", system_ns, "--wait")
    assert helm.run("status", release, "--namespace", system_ns, check=False).returncode != 0
    assert kube.kubectl("get", "deploy", fullname, "-n", system_ns, check=False).returncode != 0
    assert kube.kubectl("get", "clusterrolebinding", fullname, check=False).returncode != 0
    assert kube.kubectl("get", "crd", CRD_NAME, check=False).returncode == 0


def test_bad_values_fail_at_install(helm: Helm, system_ns: str) -> None:
    cp = helm.run("install", "bad", str(CHART), "--namespace", system_ns, "--set", "logging.level=LOUD", check=False)
    assert cp.returncode != 0
    assert "/logging/level" in cp.stderr and "value must be one of" in cp.stderr
    assert helm.run("status", "bad", "--namespace", system_ns, check=False).returncode != 0


def can_sub(kube: ControlPlane, user: str, verb: str, subresource: str, ns: str) -> bool:
    """can-i on a HatchetWorker subresource (``hatchetworkers/x`` would mean the object named x)."""
    cp = kube.kubectl("auth", "can-i", verb, "hatchetworkers", f"--subresource={subresource}", f"--as={user}",
                      "-n", ns, check=False)
    assert cp.stdout.strip() in ("yes", "no"), cp.stdout + cp.stderr
    return cp.stdout.strip() == "yes"


def test_builtin_view_and_edit_roles_cover_hatchetworkers(helm: Helm, kube: ControlPlane, system_ns: str) -> None:
    release = "hkagg"
    team = new_namespace(kube, "hk-team")
    try:
        install(helm, kube, release, system_ns, {"leaderElection": FAST_LEASE})
        # Users bound only to the built-in roles: the apiserver's aggregation controller does the rest.
        kube.kubectl("create", "rolebinding", "viewer", "-n", team, "--clusterrole=view", "--user=vera")
        kube.kubectl("create", "rolebinding", "editor", "-n", team, "--clusterrole=edit", "--user=ed")
        kube.kubectl("create", "rolebinding", "boss", "-n", team, "--clusterrole=admin", "--user=ada")

        def aggregated() -> bool:
            return can_i(kube, "vera", "list", "hatchetworkers", team) and can_i(
                kube, "ed", "create", "hatchetworkers", team
            )

        wait_for(aggregated, 60, "HatchetWorker rules aggregated into view/edit")
        for verb in ("get", "list", "watch"):
            assert can_i(kube, "vera", verb, "hatchetworkers", team)
            assert can_sub(kube, "vera", verb, "status", team)
        for verb in ("create", "patch", "update", "delete"):
            assert not can_i(kube, "vera", verb, "hatchetworkers", team), f"view may {verb}"
        for user in ("ed", "ada"):
            for verb in ("get", "list", "create", "patch", "update", "delete"):
                assert can_i(kube, user, verb, "hatchetworkers", team), f"{user} may not {verb}"
            assert can_sub(kube, user, "patch", "scale", team)
            # Status belongs to the operator.
            assert not can_sub(kube, user, "patch", "status", team)
        # Only in the namespace of the binding.
        assert not can_i(kube, "ed", "create", "hatchetworkers", system_ns)
        # Used, not just granted: the editor creates one and the viewer reads it.
        manifest = worker("by-editor")
        kube.kubectl("apply", "-n", team, "--as=ed", "-f", "-", input=manifest)
        kube.kubectl("get", "hatchetworker", "by-editor", "-n", team, "--as=vera")
        denied = kube.kubectl("delete", "hatchetworker", "by-editor", "-n", team, "--as=vera", check=False)
        assert denied.returncode != 0 and "forbidden" in denied.stderr.lower()
    finally:
        helm.run("uninstall", release, "--namespace", system_ns, "--wait", check=False)
        kube.kubectl("delete", "namespace", team, "--wait=false", check=False)
    # The aggregated roles go with the release, and with them the users' HatchetWorker access.
    wait_for(lambda: not can_i(kube, "ed", "create", "hatchetworkers", team) or
             kube.kubectl("get", "ns", team, check=False).returncode != 0, 60, "aggregated rules removed")
