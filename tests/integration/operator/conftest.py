"""Fixtures for the operator's integration tests: the CRD installed in the real control plane and the
operator running as a real subprocess (`python -m hatchet_operator run`) against it."""

from __future__ import annotations

import contextlib
import json
import re
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.kube import ControlPlane
from harness.operator import operator_argv
from harness.proc import Proc, free_port, wait_for

REPO = Path(__file__).resolve().parents[3]
CRD = REPO / "crds" / "hatchetkube.io_hatchetworkers.yaml"
WRITE_VERBS = ("POST", "PUT", "PATCH", "APPLY", "DELETE", "DELETECOLLECTION")


class Operator:
    """One operator process with its own metrics/health ports and log."""

    def __init__(self, kube: ControlPlane, workdir: Path, name: str, *extra: str) -> None:
        self.kube = kube
        self.metrics_port = free_port()
        self.health_port = free_port()
        argv = [*operator_argv(kube.kubeconfig, self.metrics_port, self.health_port), *extra]
        self.proc = Proc(name, argv, workdir / f"{name}.log")

    def start(self) -> Operator:
        self.proc.start()
        wait_for(
            lambda: self.get("/healthz", self.health_port)[0] == 200,
            60,
            f"{self.proc.name} /healthz",
            procs=[self.proc],
        )
        return self

    def stop(self, sig: int | None = None) -> None:
        if sig is None:
            self.proc.stop()
        else:
            self.proc.stop(sig=sig)

    def get(self, path: str, port: int) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def metrics(self) -> str:
        return self.get("/metrics", self.metrics_port)[1]

    def metric(self, name: str, **labels: str) -> float:
        """Sum of the samples of one metric whose labels include ``labels``."""
        return sum_samples(self.metrics(), name, labels)

    def is_leader(self) -> bool:
        return self.metric("hatchet_operator_leader") == 1.0


def sum_samples(text: str, name: str, labels: dict[str, str] | None = None) -> float:
    total = 0.0
    pattern = re.compile(r"^" + re.escape(name) + r"(\{(?P<labels>[^}]*)\})?\s+(?P<value>\S+)$")
    for line in text.splitlines():
        m = pattern.match(line)
        if not m:
            continue
        got = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group("labels") or ""))
        if all(got.get(k) == v for k, v in (labels or {}).items()):
            total += float(m.group("value"))
    return total


def apiserver_writes(
    kube: ControlPlane, resource: str, subresource: str = "", verbs: tuple[str, ...] = WRITE_VERBS
) -> float:
    """Write requests the apiserver has served for one resource (all clients), from its own metrics."""
    text = kube.metrics()
    return sum(
        sum_samples(text, "apiserver_request_total", {"resource": resource, "subresource": subresource, "verb": verb})
        for verb in verbs
    )


def operator_writes(kube: ControlPlane) -> tuple[float, float]:
    """The apiserver's count of the operator's kinds of writes: server-side applies of Deployments
    (only the operator applies them) and patches of HatchetWorker status (only the operator writes it)."""
    return (
        apiserver_writes(kube, "deployments", verbs=("APPLY",)),
        apiserver_writes(kube, "hatchetworkers", "status", verbs=("PATCH", "PUT", "APPLY")),
    )


def wait_quiet(kube: ControlPlane, timeout: float = 120) -> None:
    """Wait until no namespace is terminating (other tests' clean-up writes would blur write counts)."""

    def quiet() -> bool:
        items = json.loads(kube.kubectl("get", "namespaces", "-o", "json").stdout)["items"]
        return not any(n["status"].get("phase") == "Terminating" for n in items)

    wait_for(quiet, timeout, "terminating namespaces to be gone")


@pytest.fixture(scope="session")
def crd(kube: ControlPlane) -> str:
    return install_crd(kube)


def install_crd(kube: ControlPlane) -> str:
    """Apply the committed CRD and wait until discovery serves it; returns its name."""
    kube.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRD))
    kube.wait_established("hatchetworkers.hatchetkube.io")
    # Discovery must list the new resource before kubectl or the operator can use it.
    wait_for(
        lambda: "hatchetworkers" in kube.kubectl("api-resources", "--api-group=hatchetkube.io").stdout,
        60,
        "hatchetworkers in discovery",
    )
    return "hatchetworkers.hatchetkube.io"


@contextlib.contextmanager
def lone_operator(kube: ControlPlane, tmp_path_factory: pytest.TempPathFactory, *extra: str) -> Iterator[Operator]:
    """An operator without leader election, with its own flags (a module's ``operator`` fixture
    when the shared one's settings do not fit), stopped on leaving."""
    op = Operator(kube, tmp_path_factory.mktemp("operator"), "hatchet-operator", "--no-leader-election", *extra)
    try:
        yield op.start()
    finally:
        op.stop()


@pytest.fixture(scope="module")
def operator(kube: ControlPlane, crd: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Operator]:
    """One operator for a whole test module, watching all namespaces, with fast leader election."""
    op = Operator(
        kube,
        tmp_path_factory.mktemp("operator"),
        "hatchet-operator",
        "--leader-election-id=hatchet-operator-shared",
        "--lease-duration=4",
        "--renew-deadline=3",
        "--retry-period=1",
    )
    try:
        op.start()
        wait_for(op.is_leader, 30, "the operator to lead", procs=[op.proc])
        yield op
    finally:
        op.stop()


@pytest.fixture
def ns(kube: ControlPlane) -> Iterator[str]:
    """A fresh namespace (names safe for parametrized tests)."""
    name = kube.create_namespace(f"op-{uuid.uuid4().hex[:10]}")
    yield name
    kube.kubectl("delete", "namespace", name, "--wait=false", check=False)


class Cluster:
    """kubectl helpers for one namespace."""

    def __init__(self, kube: ControlPlane, namespace: str) -> None:
        self.kube = kube
        self.ns = namespace

    def k(self, *args: str, input: str | None = None, check: bool = True) -> Any:
        return self.kube.kubectl("-n", self.ns, *args, input=input, check=check)

    def apply(self, obj: dict[str, Any] | str) -> Any:
        text = obj if isinstance(obj, str) else json.dumps(obj)
        return self.k("apply", "-f", "-", input=text)

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        cp = self.k("get", kind, name, "-o", "json", check=False)
        if cp.returncode != 0:
            if "NotFound" in cp.stderr:
                return None
            raise RuntimeError(cp.stderr)
        return json.loads(cp.stdout)  # type: ignore[no-any-return]

    def list(self, kind: str, selector: str | None = None) -> list[dict[str, Any]]:
        args = ["get", kind, "-o", "json"] + ([f"-l={selector}"] if selector else [])
        return json.loads(self.k(*args).stdout)["items"]  # type: ignore[no-any-return]

    def secret(self, name: str = "hatchet-client-config", data: dict[str, str] | None = None) -> None:
        data = data if data is not None else {"HATCHET_CLIENT_TOKEN": "dG9rZW4="}
        self.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "data": data})

    def condition(self, name: str, type_: str) -> dict[str, Any] | None:
        obj = self.get("hatchetworker", name)
        for c in ((obj or {}).get("status") or {}).get("conditions", []):
            if c["type"] == type_:
                return c  # type: ignore[no-any-return]
        return None

    def wait_condition(
        self,
        name: str,
        type_: str,
        status: str,
        reason: str | None = None,
        timeout: float = 60,
        procs: tuple[Proc, ...] = (),
    ) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            c = self.condition(name, type_)
            if c and c["status"] == status and (reason is None or c["reason"] == reason):
                return c
            return None

        return wait_for(check, timeout, f"{name} {type_}={status} {reason or ''}", procs=procs)

    def events(self, name: str) -> list[dict[str, Any]]:
        return [
            e
            for e in self.list("events")
            if e["involvedObject"].get("kind") == "HatchetWorker" and e["involvedObject"].get("name") == name
        ]


@pytest.fixture
def cluster(kube: ControlPlane, ns: str) -> Cluster:
    return Cluster(kube, ns)


def worker_manifest(name: str, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"image": "hatchet-kube/worker:test", "replicas": 2, "slots": 5}
    body.update(spec)
    return {"apiVersion": "hatchetkube.io/v1alpha1", "kind": "HatchetWorker", "metadata": {"name": name}, "spec": body}


def env_of(deployment: dict[str, Any]) -> dict[str, Any]:
    [c] = deployment["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c["env"]}


Waiter = Callable[..., Any]
