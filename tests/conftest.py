"""Session-scoped fixtures that start the real peers (see tests/harness/README.md)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import proc
from harness.hatchet import HatchetEngine
from harness.helm import Helm
from harness.kube import ControlPlane

PEER_FIXTURES = {"kube", "namespace", "hatchet", "helm"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if PEER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.failed and PEER_FIXTURES & set(getattr(item, "fixturenames", ())):
        for p in proc.REGISTRY:
            report.sections.append((f"log tail: {p.name} ({p.log})", p.tail(30)))


@pytest.fixture(scope="session")
def kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    cp = ControlPlane(tmp_path_factory.mktemp("kube"))
    try:
        cp.start()
        yield cp
    finally:
        cp.stop()


@pytest.fixture
def namespace(kube: ControlPlane, request: pytest.FixtureRequest) -> Iterator[str]:
    # A DNS-1123 label: parametrized test names carry "[", "." and other characters it forbids.
    base = re.sub(r"[^a-z0-9-]+", "-", request.node.name.lower())[:40].strip("-")
    name = kube.create_namespace(f"{base}-{uuid.uuid4().hex[:6]}".strip("-"))
    yield name
    kube.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture(scope="session")
def hatchet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HatchetEngine]:
    engine = HatchetEngine(tmp_path_factory.mktemp("hatchet"))
    try:
        engine.start()
        yield engine
    finally:
        engine.stop()


@pytest.fixture(scope="session")
def helm(kube: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Helm:
    return Helm(Path(tmp_path_factory.mktemp("helm")), kube.kubeconfig)
