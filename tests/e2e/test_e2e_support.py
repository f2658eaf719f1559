"""The parts of the e2e suite that run on any machine: provider selection and its skip messages, and
kind-config.yaml itself."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml
from e2e_clusters import KIND_CONFIG, PROVIDERS, KindCluster, selected


def _docker_daemon_up() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0


def test_kind_provider_says_exactly_what_is_missing() -> None:
    why = KindCluster.missing()
    kind, docker = shutil.which("kind") is not None, shutil.which("docker") is not None
    daemon = _docker_daemon_up()
    assert (why is None) == (kind and daemon)
    if not kind:
        assert "`kind` command is not installed" in (why or "")
    if not docker:
        assert "`docker` command is not installed" in (why or "")
    elif not daemon:
        assert "Docker daemon is not reachable" in (why or "")


def test_provider_selection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HATCHET_E2E_CLUSTER", "no-such-cluster")
    provider, why = selected()
    assert provider is None and "no-such-cluster" in why and "kind" in why
    monkeypatch.setenv("HATCHET_E2E_CLUSTER", "kind")
    provider, why = selected()
    if KindCluster.missing() is None:
        assert provider is KindCluster and why == ""
    else:
        assert provider is None and why.startswith("e2e on kind skipped: ")
    assert set(PROVIDERS) >= {"kind"}


def test_kind_config_pins_the_node_image_by_digest() -> None:
    cfg = yaml.safe_load(KIND_CONFIG.read_text())
    assert cfg["kind"] == "Cluster" and cfg["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    images = [n["image"] for n in cfg["nodes"]]
    assert images and all(re.fullmatch(r"kindest/node:v1\.(\d+)\.\d+@sha256:[0-9a-f]{64}", i) for i in images)
    minor = int(re.match(r"kindest/node:v1\.(\d+)", images[0]).group(1))  # type: ignore[union-attr]
    chart = yaml.safe_load((KIND_CONFIG.parent / "charts" / "hatchet-operator" / "Chart.yaml").read_text())
    assert minor >= int(re.search(r">=1\.(\d+)", chart["kubeVersion"]).group(1))  # type: ignore[union-attr]
