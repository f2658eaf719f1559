"""kind for the e2e tier: the kind binary, its node image and a Docker daemon, all made on this machine.

``hack/build-kind.sh`` builds kind, a node image for the pinned Kubernetes release (imported into the
daemon here with the entrypoint and environment kind's nodes need) and unpacks Debian's Docker. The
daemon is the developer's own when one answers (``DOCKER_HOST`` or the default socket): kind then
creates and deletes only its own cluster there, the way it would on a laptop. Otherwise a private
``dockerd`` runs for the tier and is stopped after it:

- its socket, exec root (network namespaces, plugin state) and pid file under /run/hatchet-kube-docker,
  its images under the cache (the node image is imported once), its containers' cgroups under
  /hatchet-kube-docker;
- no ``docker0`` bridge and no iptables, ip6tables or ip_forward changes: nodes reach the host through
  their network's bridge, and ports are published by Docker's userland proxy, so the host's packet
  filter is never touched;
- an IPv4 address pool that no route on the host overlaps;
- runc through ``bin/runc-host-caps``, which asks only for capabilities this host can grant.

One private daemon runs per machine (a lock in the cache). A killed run may leave its daemon, or its
containers, behind: the next start stops that daemon (its pid file), kills what is left in its
containers' cgroups and its shims, starts afresh and deletes this tier's clusters and the networks the
daemon still holds.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from . import binaries
from .proc import Proc, host_lock, remove_cgroup_tree, run, wait_for

RUN_DIR = Path("/run/hatchet-kube-docker")
CGROUP_PARENT = "hatchet-kube-docker"
RUNC = Path(__file__).resolve().parent / "bin" / "runc-host-caps"
# Cluster names of this tier start with this; nothing else in a daemon is ever deleted.
CLUSTER_PREFIX = "hke-e2e-"
KIND_LABEL = "io.x-k8s.kind.cluster"
# Candidate /16s for the private daemon's networks, taken from a range that home and office networks
# rarely use; the first that no host route overlaps wins.
POOL_CANDIDATES = tuple(f"10.{n}.0.0/16" for n in range(211, 220))
ROUTE_TYPES = {"unicast", "local", "broadcast", "multicast", "anycast", "blackhole", "unreachable", "prohibit",
               "throw", "nat"}


@dataclass(frozen=True)
class Build:
    kind: Path
    node_tar: Path
    node_image: str
    docker_root: Path


def build() -> Build:
    cp = run(["bash", str(binaries.HACK / "build-kind.sh")], timeout=3600)
    kind, tar, ref, docker_root = cp.stdout.strip().splitlines()[-1].split()
    return Build(Path(kind), Path(tar), ref, Path(docker_root))


def free_pool(routes: Iterable[str], candidates: Iterable[str] = POOL_CANDIDATES) -> str:
    """The first candidate network that overlaps none of the host's routes (``ip -4 route`` lines)."""
    taken = []
    for line in routes:
        words = line.split()
        # `ip route show table all` puts the route type first for all but unicast routes.
        if words and words[0] in ROUTE_TYPES:
            words = words[1:]
        if words and words[0] != "default":
            with contextlib.suppress(ValueError):
                taken.append(ipaddress.ip_network(words[0], strict=False))
    for cand in candidates:
        net = ipaddress.ip_network(cand)
        if not any(net.overlaps(t) for t in taken):
            return cand
    raise RuntimeError(f"every candidate address pool overlaps a host route: {', '.join(candidates)}")


def system_docker() -> str | None:
    """Why no Docker daemon of the machine's own answers (None: one does)."""
    if shutil.which("docker") is None:
        return "no `docker` command"
    try:
        cp = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True,
                            text=True, timeout=30, env={**os.environ})
    except subprocess.TimeoutExpired:
        return "`docker info` did not answer in 30 s"
    if cp.returncode != 0:
        return (cp.stderr.strip().splitlines() or ["no answer"])[-1]
    return None


def private_missing() -> str | None:
    """Why a private Docker daemon cannot run here (None: it can)."""
    problems = []
    if os.geteuid() != 0:
        problems.append("a private Docker daemon needs root")
    for tool in ("containerd", "runc"):
        if shutil.which(tool) is None:
            problems.append(f"`{tool}` is missing (hack/ensure-deps.sh installs it)")
    unpacked = binaries.cache_dir() / "docker" / "pkg" / "usr" / "sbin" / "dockerd"
    if shutil.which("apt-get") is None and not unpacked.exists():
        problems.append("Docker's daemon is unpacked from Debian's docker.io package, and this is no Debian system")
    return "; ".join(problems) or None


class Docker:
    """The daemon the tier's docker and kind commands talk to (``env``), started here if private."""

    def __init__(self, workdir: Path, docker_root: Path) -> None:
        self.workdir = workdir
        self.docker_root = docker_root
        self.private = system_docker() is not None
        self.proc: Proc | None = None
        self.lock_fd: int | None = None
        self.env = dict(os.environ)
        if self.private:
            bins = f"{docker_root / 'usr' / 'bin'}:{docker_root / 'usr' / 'sbin'}"
            self.env.update(DOCKER_HOST=f"unix://{RUN_DIR / 'docker.sock'}", PATH=f"{bins}:{self.env['PATH']}")
            # A developer's docker CLI config (contexts) must not redirect the tier's commands.
            self.env["DOCKER_CONTEXT"] = "default"

    def docker(self, *args: str, check: bool = True, timeout: float = 300,
               input: str | None = None) -> subprocess.CompletedProcess[str]:
        return run(["docker", *args], env=self.env, check=check, timeout=timeout, input=input)

    def answers(self) -> bool:
        return self.docker("info", "--format", "{{.ServerVersion}}", check=False, timeout=30).returncode == 0

    def start(self) -> Docker:
        if not self.private:
            return self
        # One private daemon per machine (its paths are fixed): a second run waits for the first.
        binaries.cache_dir().joinpath("locks").mkdir(parents=True, exist_ok=True)
        self.lock_fd = host_lock(binaries.cache_dir() / "locks" / "kind-docker.lock", "kind tier's Docker daemon")
        # A daemon left by a killed run: stopped first, so the one started here owns the paths.
        self._stop_leftover()
        RUN_DIR.mkdir(parents=True, exist_ok=True)
        data = binaries.cache_dir() / "docker" / "data"
        data.mkdir(parents=True, exist_ok=True)
        routes = run(["ip", "-4", "route", "show", "table", "all"], check=False).stdout.splitlines()
        argv = [str(self.docker_root / "usr" / "sbin" / "dockerd"),
                "--host", f"unix://{RUN_DIR / 'docker.sock'}", "--exec-root", str(RUN_DIR / "exec"),
                "--pidfile", str(RUN_DIR / "dockerd.pid"), "--data-root", str(data),
                "--iptables=false", "--ip6tables=false", "--ip-forward=false", "--ip-masq=false",
                "--bridge=none", "--cgroup-parent", f"/{CGROUP_PARENT}",
                "--exec-opt", "native.cgroupdriver=cgroupfs",
                "--default-address-pool", f"base={free_pool(routes)},size=24",
                "--add-runtime", f"host-caps={RUNC}", "--default-runtime", "host-caps"]
        self.proc = Proc("dockerd", argv, self.workdir / "dockerd.log", env=self.env).start()
        wait_for(self.answers, 60, "the private Docker daemon", interval=0.5, procs=[self.proc])
        # What a killed run left in the daemon's data: its clusters' containers and kind's network.
        self.remove_clusters()
        self.docker("network", "prune", "-f", check=False)
        return self

    def cluster_names(self) -> list[str]:
        out = self.docker("ps", "-a", "--filter", f"label={KIND_LABEL}", "--format",
                          f'{{{{.Label "{KIND_LABEL}"}}}}', check=False).stdout
        return sorted({n for n in out.split() if n.startswith(CLUSTER_PREFIX)})

    def remove_clusters(self) -> None:
        """Delete every cluster of this tier the daemon holds (a killed run's included), nothing else."""
        for name in self.cluster_names():
            ids = self.docker("ps", "-aq", "--filter", f"label={KIND_LABEL}={name}", check=False).stdout.split()
            if ids:
                self.docker("rm", "-f", "-v", *ids, check=False)

    def ensure_image(self, ref: str, tar: Path) -> None:
        if self.docker("image", "inspect", ref, check=False, timeout=60).returncode == 0:
            return
        # What kind's Dockerfile-built node images declare; `docker import` can set these two.
        self.docker("import", "--change", 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]',
                    "--change", "ENV container=docker", str(tar), ref, timeout=900)
        if self.private:
            # Node images of older inputs only fill the cache (about 650 MB each).
            repo = ref.rsplit(":", 1)[0]
            old = self.docker("images", repo, "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
            stale = [o for o in old if o != ref]
            if stale:
                self.docker("rmi", *stale, check=False)

    def stop(self) -> None:
        if not self.private:
            return
        if self.answers():
            self.remove_clusters()
            # kind's network ("kind") and its host bridge exist only for this daemon.
            self.docker("network", "prune", "-f", check=False)
        if self.proc is not None:
            self.proc.stop(timeout=60)
            self.proc = None
        self._stop_leftover()
        if self.lock_fd is not None:
            os.close(self.lock_fd)
            self.lock_fd = None

    def _stop_leftover(self) -> None:
        """Stop a daemon left by a killed run, then everything it leaves: mounts, its dir, cgroups."""
        pidfile = RUN_DIR / "dockerd.pid"
        with contextlib.suppress(FileNotFoundError, ValueError, ProcessLookupError):
            pid = int(pidfile.read_text())
            # Only ever our dockerd: a stale pid file's number may belong to another process by now.
            if str(RUN_DIR / "docker.sock") not in Path(f"/proc/{pid}/cmdline").read_text():
                raise ProcessLookupError(pid)
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
                time.sleep(0.2)
        # A daemon that died without stopping its containers leaves them and their shims running:
        # the containers' processes go with their cgroups, then the shims and any containerd.
        remove_cgroups(CGROUP_PARENT)
        for pid, _ in leftover_processes():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        mounts = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()
                  if line.split()[4].startswith(str(RUN_DIR) + "/")]
        for m in sorted(mounts, key=len, reverse=True):
            run(["umount", "-l", m], check=False)
        shutil.rmtree(RUN_DIR, ignore_errors=True)
        remove_cgroups(CGROUP_PARENT)


def remove_cgroups(parent: str) -> None:
    """The cgroup subtree ``parent`` in every hierarchy, with any process left in it."""
    base = Path("/sys/fs/cgroup")
    tops = [base / parent] if (base / "cgroup.controllers").exists() else [
        h / parent for h in base.iterdir() if (h / "cgroup.procs").exists()]
    for top in tops:
        remove_cgroup_tree(top)


def leftover_processes() -> list[tuple[int, str]]:
    """Processes of a private daemon's (pid, command line): its containerd, shims, dockerd itself."""
    out = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                if str(RUN_DIR) + "/" in cmd:
                    out.append((int(proc.name), cmd))
    return out
