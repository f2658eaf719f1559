"""The kind tier's private Docker daemon: a run killed mid-way is cleaned up by the next, and a stop
leaves nothing of it on the host (process, socket and exec root, mounts, bridges, cgroups)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from harness import kind
from harness.proc import run


def _why_not() -> str | None:
    if kind.system_docker() is None:
        return "this machine's own Docker daemon answers, so the tier uses it and starts no private one"
    return kind.private_missing()


WHY = _why_not()
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900),
              pytest.mark.skipif(WHY is not None, reason=f"no private Docker daemon here: {WHY}")]


def _host_rules() -> str:
    """The host's whole packet filter, as iptables-save prints it without counters and comments."""
    out = []
    for cmd in ("iptables-save", "ip6tables-save"):
        text = run([cmd], check=False).stdout
        out += [line for line in text.splitlines() if not line.startswith("#")]
    return "\n".join(line.split(" [")[0] if line.startswith(":") else line for line in out)


def test_a_killed_runs_daemon_and_clusters_are_cleaned_up_by_the_next(tmp_path: Path) -> None:
    build = kind.build()
    rules_before = _host_rules()
    first = kind.Docker(tmp_path / "first", build.docker_root).start()
    assert first.proc is not None
    first.ensure_image(build.node_image, build.node_tar)
    # What a run of the tier holds when it is killed: a node of its cluster, running, and kind's network.
    first.docker("network", "create", "hke-killed")
    net_id = first.docker("network", "inspect", "--format", "{{.Id}}", "hke-killed").stdout.strip()
    first.docker("run", "-d", "--name", f"{kind.CLUSTER_PREFIX}killed-control-plane", "--net", "hke-killed",
                 "--label", f"{kind.KIND_LABEL}={kind.CLUSTER_PREFIX}killed", "--entrypoint", "/usr/bin/sleep",
                 build.node_image, "3600")
    bridge = f"br-{net_id[:12]}"
    assert run(["ip", "link", "show", bridge], check=False).returncode == 0

    # Killed: no teardown runs (SIGKILL to the daemon, as when the test process dies; the kernel then
    # drops the run's lock too).
    os.kill(first.proc.pid, signal.SIGKILL)
    assert first.proc.popen is not None and first.lock_fd is not None
    first.proc.popen.wait(30)
    os.close(first.lock_fd)

    second = kind.Docker(tmp_path / "second", build.docker_root).start()
    try:
        names = second.docker("ps", "-a", "--format", "{{.Names}}").stdout.split()
        assert f"{kind.CLUSTER_PREFIX}killed-control-plane" not in names, names
        assert "hke-killed" not in second.docker("network", "ls", "--format", "{{.Name}}").stdout.split()
        assert run(["ip", "link", "show", bridge], check=False).returncode != 0, f"{bridge} is still there"
    finally:
        second.stop()

    assert not kind.leftover_processes(), kind.leftover_processes()
    # The private daemon runs with --iptables=false etc.: the host's packet filter is exactly as before.
    assert _host_rules() == rules_before
    assert not kind.RUN_DIR.exists()
    assert str(kind.RUN_DIR) not in Path("/proc/self/mountinfo").read_text()
    cgroups = [p for p in Path("/sys/fs/cgroup").glob(f"*/{kind.CGROUP_PARENT}")]
    cgroups += [p for p in [Path("/sys/fs/cgroup") / kind.CGROUP_PARENT] if p.exists()]
    assert not cgroups, cgroups
