"""The parts of the e2e suite that run on any machine: provider selection and its skip messages, and
kind-config.yaml itself."""

from __future__ import annotations

import os
import re
import shutil
import struct

import pytest
import yaml

from harness import kind
from harness.node import dns_answer

from .e2e_clusters import KIND_CONFIG, PROVIDERS, KindCluster, RealNodeCluster, selected


def test_kind_provider_says_exactly_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    # Here: root, Go, and a Docker daemon (the machine's own, or a private one this tier starts).
    if os.geteuid() == 0 and shutil.which("go") and kind.private_missing() is None:
        assert KindCluster.missing() is None
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setattr(kind, "system_docker", lambda: "Cannot connect to the Docker daemon")
    real_which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda t: None if t in ("go", "runc") else real_which(t))
    why = KindCluster.missing() or ""
    assert "needs root" in why and "no `go` command" in why
    assert "a private Docker daemon needs root" in why and "`runc` is missing" in why
    # A daemon of the machine's own is used as it is: no private daemon, so none of its needs apply.
    monkeypatch.setattr(kind, "system_docker", lambda: None)
    assert "private" not in (KindCluster.missing() or "") and "runc" not in (KindCluster.missing() or "")


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
    assert set(PROVIDERS) >= {"kind", "real-node"}


def test_default_provider_is_kind_else_the_real_node(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HATCHET_E2E_CLUSTER", raising=False)
    provider, why = selected()
    kind_why, node_why = KindCluster.missing(), RealNodeCluster.missing()
    if kind_why is None:
        assert provider is KindCluster and why == ""
    elif node_why is None:
        assert provider is RealNodeCluster and why == ""
    else:
        assert provider is None and f"kind: {kind_why}" in why and f"real-node: {node_why}" in why


def test_kind_config_pins_the_node_image_by_digest() -> None:
    cfg = yaml.safe_load(KIND_CONFIG.read_text())
    assert cfg["kind"] == "Cluster" and cfg["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    images = [n["image"] for n in cfg["nodes"]]
    assert images and all(re.fullmatch(r"kindest/node:v1\.(\d+)\.\d+@sha256:[0-9a-f]{64}", i) for i in images)
    minor = int(re.match(r"kindest/node:v1\.(\d+)", images[0]).group(1))  # type: ignore[union-attr]
    chart = yaml.safe_load((KIND_CONFIG.parent / "charts" / "hatchet-operator" / "Chart.yaml").read_text())
    assert minor >= int(re.search(r">=1\.(\d+)", chart["kubeVersion"]).group(1))  # type: ignore[union-attr]


def test_real_node_provider_is_registered_and_says_what_is_missing() -> None:
    assert PROVIDERS["real-node"] is RealNodeCluster
    why = RealNodeCluster.missing()
    if os.geteuid() != 0:
        assert why is not None and "needs root" in why
    for tool in ("containerd", "runc", "iptables", "conntrack"):
        if shutil.which(tool) is None:
            assert f"`{tool}` is missing" in (why or "")


def _query(name: str, qtype: int) -> bytes:
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split("."))
    return struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + labels + b"\0" + struct.pack("!HH", qtype, 1)


def test_cluster_dns_answers_service_names_only() -> None:
    services = {("hatchet", "hatchet-engine"): "10.0.0.42"}

    def lookup(svc: str, ns: str) -> str | None:
        return services.get((ns, svc))

    a = dns_answer(_query("Hatchet-Engine.hatchet.svc.cluster.local", 1), lookup)
    assert a is not None
    qid, flags, _, ancount = struct.unpack("!HHHH", a[:8])
    assert qid == 0x1234 and flags & 0x000F == 0 and flags & 0x8000 and ancount == 1
    assert a.endswith(bytes([10, 0, 0, 42]))
    # AAAA for a Service: the name exists, with no records of that type.
    aaaa = dns_answer(_query("hatchet-engine.hatchet.svc.cluster.local", 28), lookup)
    assert aaaa is not None and struct.unpack("!HHHH", aaaa[:8])[1] & 0x000F == 0
    assert struct.unpack("!HHHH", aaaa[:8])[3] == 0
    for name in ("nope.hatchet.svc.cluster.local", "hatchet-engine.hatchet.svc.cluster.local.hatchet.svc.cluster.local",
                 "example.org", "a_b.hatchet.svc.cluster.local"):
        nx = dns_answer(_query(name, 1), lookup)
        assert nx is not None and struct.unpack("!HH", nx[:4])[1] & 0x000F == 3, name
    assert dns_answer(b"\0" * 5, lookup) is None
