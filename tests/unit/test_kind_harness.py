"""The kind tier's pure parts: the private daemon's address pool and runc-host-caps' spec edit."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

from harness.kind import RUNC, free_pool


def _runc_wrapper() -> ModuleType:
    loader = importlib.machinery.SourceFileLoader("runc_host_caps", str(RUNC))
    spec = importlib.util.spec_from_loader("runc_host_caps", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_pool_skips_every_candidate_a_host_route_overlaps() -> None:
    routes = ["default via 192.168.1.1 dev eth0", "10.211.0.0/16 dev br-a scope link",
              "10.212.4.0/24 dev br-b", "local 10.213.0.9 dev lo table local", "", "broadcast 127.255.255.255 dev lo"]
    assert free_pool(routes) == "10.214.0.0/16"
    # A route covering all candidates (a /8) leaves none: the error names the candidates.
    with pytest.raises(RuntimeError, match=r"10\.211\.0\.0/16"):
        free_pool(["10.0.0.0/8 dev tun0"])
    assert free_pool([]) == "10.211.0.0/16"


def _spec(caps: list[str]) -> dict[str, object]:
    return {"ociVersion": "1.0.2", "process": {"args": ["sh"], "capabilities": {
        k: list(caps) for k in ("bounding", "effective", "permitted")}}, "root": {"path": "rootfs"}}


def test_runc_wrapper_drops_only_what_the_host_cannot_grant(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mod = _runc_wrapper()
    # The bounding set of a host without CAP_SYS_RESOURCE (bit 24), as seen on nested sandboxes.
    monkeypatch.setattr(mod, "allowed", lambda: {f"CAP_{n}" for i, n in enumerate(mod.CAPS) if i != 24})
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "config.json").write_text(json.dumps(_spec(["CAP_SYS_ADMIN", "CAP_SYS_RESOURCE", "CAP_NET_ADMIN"])))
    execs: list[list[str]] = []
    monkeypatch.setattr(mod.os, "execv", lambda path, argv: execs.append([path, *argv]))
    mod.main(["--root", "/run/x", "create", "--bundle", str(bundle), "id1"])
    caps = json.loads((bundle / "config.json").read_text())["process"]["capabilities"]
    assert caps == {k: ["CAP_SYS_ADMIN", "CAP_NET_ADMIN"] for k in ("bounding", "effective", "permitted")}
    assert execs == [[mod.RUNC, mod.RUNC, "--root", "/run/x", "create", "--bundle", str(bundle), "id1"]]

    # `docker exec --privileged`: runc exec --process FILE, a bare process spec.
    proc = tmp_path / "process.json"
    proc.write_text(json.dumps(_spec(["CAP_SYS_RESOURCE", "CAP_KILL"])["process"]))
    mod.main(["exec", "--process", str(proc), "id1"])
    assert json.loads(proc.read_text())["capabilities"]["effective"] == ["CAP_KILL"]

    # Any other command passes through untouched, and a spec the host can grant is not rewritten.
    (bundle / "config.json").write_text(text := json.dumps(_spec(["CAP_KILL"]), indent=1))
    mod.main(["create", "--bundle", str(bundle), "id2"])
    mod.main(["delete", "--force", "id2"])
    assert (bundle / "config.json").read_text() == text
    assert execs[-1][2:] == ["delete", "--force", "id2"]


def test_runc_wrapper_reads_this_hosts_bounding_set() -> None:
    mod = _runc_wrapper()
    status = Path("/proc/self/status").read_text()
    bounding = int(next(line.split()[1] for line in status.splitlines() if line.startswith("CapBnd:")), 16)
    assert mod.allowed() == {f"CAP_{n}" for i, n in enumerate(mod.CAPS) if bounding >> i & 1}
    # The table is linux/capability.h's order: spot-check the bits the kind tier depends on.
    assert mod.CAPS.index("SYS_ADMIN") == 21 and mod.CAPS.index("SYS_RESOURCE") == 24
    assert mod.CAPS.index("CHECKPOINT_RESTORE") == 40
