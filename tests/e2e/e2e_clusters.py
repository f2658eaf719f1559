"""Clusters whose nodes run real containers, behind one small interface the e2e suite is written to.

``ClusterProvider`` is what a test needs from a cluster: create and delete it, load a locally built
image archive into its nodes, and a kubeconfig (kubectl exec and port-forward must work: the suite
reads the in-cluster engine's token and triggers runs through a port-forward). ``KindCluster``
implements it with kind and Docker; ``RealNodeCluster`` with a real node on this machine (the harness
control plane + kubelet + containerd + CNI + kube-proxy + a cluster DNS; see harness/node.py). Both are
registered in ``PROVIDERS``, so the same suite runs on both.

Select a provider with HATCHET_E2E_CLUSTER (kind or real-node); unset, kind is used where it can run,
else the real node where it can run. A provider that cannot run here says exactly what is missing, and
the suite is skipped with that message.
"""

from __future__ import annotations

import abc
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

from harness import binaries, kind, node
from harness.proc import run

REPO = Path(__file__).resolve().parents[2]
KIND_CONFIG = REPO / "kind-config.yaml"


class ClusterProvider(abc.ABC):
    """A Kubernetes cluster for the end-to-end suite."""

    name = ""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.kubeconfig = workdir / "kubeconfig"
        # What delete() found wrong: foreign state the provider planted in its runtime changed, or an
        # image was pulled (nothing may be).
        self.teardown_problems: list[str] = []

    @classmethod
    @abc.abstractmethod
    def missing(cls) -> str | None:
        """Why this provider cannot run on this machine (None: it can)."""

    @abc.abstractmethod
    def create(self) -> None:
        """Create the cluster and write its kubeconfig to ``self.kubeconfig``; return once nodes are Ready."""

    @abc.abstractmethod
    def delete(self) -> None:
        """Delete the cluster and everything it created on this machine."""

    @abc.abstractmethod
    def host_address(self) -> str:
        """An address of this machine that the cluster's pods reach."""

    @abc.abstractmethod
    def load_image(self, archive: Path) -> None:
        """Make an image archive (hack/build-images.sh output) available to every node's runtime."""

    def kubectl(self, *args: str, input: str | None = None, check: bool = True,
                timeout: float = 300) -> subprocess.CompletedProcess[str]:
        kubectl = binaries.kube_bin() / "kubectl"
        return run([str(kubectl), f"--kubeconfig={self.kubeconfig}", *args], input=input, check=check,
                   timeout=timeout)


class KindCluster(ClusterProvider):
    """kind: Kubernetes in Docker containers, from kind-config.yaml as users run it, with the node image
    built on this machine (``--image``; nothing is pulled) and the developer's Docker daemon or a private
    one (harness/kind.py)."""

    name = "kind"

    def __init__(self, workdir: Path, cluster_name: str | None = None) -> None:
        super().__init__(workdir)
        self.cluster_name = cluster_name or f"{kind.CLUSTER_PREFIX}{uuid.uuid4().hex[:6]}"
        self.build: kind.Build | None = None
        self.docker: kind.Docker | None = None
        self.foreign = ""

    @classmethod
    def missing(cls) -> str | None:
        problems = []
        if os.geteuid() != 0:
            problems.append("the node image is built here with debootstrap, which needs root")
        if shutil.which("go") is None:
            problems.append("kind and the node's binaries are built from Go modules: no `go` command")
        if kind.system_docker() is not None and (why := kind.private_missing()):
            problems.append(why)
        return "; ".join(problems) or None

    def _kind(self, *args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess[str]:
        assert self.build is not None and self.docker is not None
        return run([str(self.build.kind), *args], env=self.docker.env, timeout=timeout, check=check)

    def create(self) -> None:
        t0 = time.monotonic()
        self.build = kind.build()
        self.docker = kind.Docker(self.workdir, self.build.docker_root).start()
        try:
            self.docker.ensure_image(self.build.node_image, self.build.node_tar)
            self._plant_foreign()
            self._kind("create", "cluster", "--name", self.cluster_name, "--config", str(KIND_CONFIG),
                      "--image", self.build.node_image, "--kubeconfig", str(self.kubeconfig), "--wait", "180s")
        except BaseException:
            self.delete()
            raise
        self.create_seconds = time.monotonic() - t0

    def _plant_foreign(self) -> None:
        """A container of someone else's kind cluster (named "kind", kind's default), running in the same
        daemon: the tier must leave it alone."""
        assert self.docker is not None and self.build is not None
        self.foreign = f"kind-foreign-{uuid.uuid4().hex[:6]}"
        self.docker.docker("run", "-d", "--name", self.foreign, "--label", f"{kind.KIND_LABEL}=kind",
                           "--entrypoint", "/usr/bin/sleep", self.build.node_image, "86400")

    def delete(self) -> None:
        if self.docker is None:
            return
        if self.build is not None:
            self._check_no_pulls()
            self._kind("delete", "cluster", "--name", self.cluster_name, "--kubeconfig", str(self.kubeconfig),
                      timeout=300, check=False)
        if self.foreign:
            state = self.docker.docker("inspect", "--format", "{{.State.Running}}", self.foreign, check=False)
            if state.stdout.strip() != "true":
                self.teardown_problems.append(f"the foreign container {self.foreign} is gone or stopped: "
                                             f"{state.stdout.strip() or state.stderr.strip()}")
            self.docker.docker("rm", "-f", self.foreign, check=False)
            self.foreign = ""
        self.docker.stop()
        self.docker = None

    def _check_no_pulls(self) -> None:
        """Every image the cluster ran was preloaded or loaded: the CRI plugin logs each pull it tries."""
        assert self.docker is not None
        for name in self.docker.docker("ps", "--filter", f"label={kind.KIND_LABEL}={self.cluster_name}",
                                       "--format", "{{.Names}}", check=False).stdout.split():
            log = self.docker.docker("exec", name, "journalctl", "--no-pager", "-u", "containerd", check=False).stdout
            pulls = [line for line in log.splitlines() if "PullImage" in line]
            if pulls:
                self.teardown_problems.append(f"{name} pulled (or tried to): " + "\n".join(pulls[:5]))

    def host_address(self) -> str:
        assert self.docker is not None
        # kind's nodes sit on the Docker network "kind"; its gateway is this machine's end of the bridge.
        out = self.docker.docker("network", "inspect", "kind", "--format",
                                 "{{range .IPAM.Config}}{{.Gateway}} {{end}}").stdout
        return next(a for a in out.split() if ":" not in a)

    def load_image(self, archive: Path) -> None:
        self._kind("load", "image-archive", str(archive), "--name", self.cluster_name)


class RealNodeCluster(ClusterProvider):
    """A real node on this machine: the harness control plane (no simulated nodes) + kubelet, a private
    containerd (CRI) + runc, a CNI bridge, kube-proxy and a cluster DNS (tests/harness/node.py)."""

    name = "real-node"

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        self.control_plane: node.NodeControlPlane | None = None
        self.node: node.RealNode | None = None

    @classmethod
    def missing(cls) -> str | None:
        return node.missing()

    def create(self) -> None:
        t0 = time.monotonic()
        if not (binaries.kube_bin() / "kube-proxy").exists():
            run(["bash", str(REPO / "hack" / "build-kube.sh")], timeout=3600)
        # The pod sandbox image: nothing can be pulled, so it is built here like the others.
        cp = run(["bash", str(REPO / "hack" / "build-images.sh"), "pause"], timeout=600)
        # The CRI plugin normalizes the short name the way the import named the image.
        ref, archive, _ = cp.stdout.strip().splitlines()[-1].split()
        self.control_plane = node.NodeControlPlane(self.workdir / "kube")
        (self.workdir / "kube").mkdir(parents=True, exist_ok=True)
        try:
            self.control_plane.start()
            self.node = node.RealNode(self.workdir / "node", self.control_plane, Path(archive), ref).start()
        except BaseException:
            self.delete()
            raise
        self.kubeconfig.write_text(self.control_plane.kubeconfig.read_text())
        self.create_seconds = time.monotonic() - t0

    def delete(self) -> None:
        if self.node is not None:
            self.node.stop()
            self.node = None
        if self.control_plane is not None:
            self.control_plane.stop()
            self.control_plane = None

    def host_address(self) -> str:
        assert self.node is not None
        return self.node.gateway

    def load_image(self, archive: Path) -> None:
        assert self.node is not None
        self.node.load_image(archive)


PROVIDERS: dict[str, type[ClusterProvider]] = {"kind": KindCluster, "real-node": RealNodeCluster}


def selected() -> tuple[type[ClusterProvider] | None, str]:
    """The provider HATCHET_E2E_CLUSTER names, or None and why it cannot run here.

    Unset: kind where it can run, else the real node where it can run, else None with both reasons."""
    name = os.environ.get("HATCHET_E2E_CLUSTER")
    if name is None:
        reasons = []
        for candidate in ("kind", "real-node"):
            why = PROVIDERS[candidate].missing()
            if why is None:
                return PROVIDERS[candidate], ""
            reasons.append(f"{candidate}: {why}")
        return None, "e2e skipped: no cluster provider can run here (" + "; ".join(reasons) + ")"
    provider = PROVIDERS.get(name)
    if provider is None:
        return None, f"HATCHET_E2E_CLUSTER={name!r} names no cluster provider (known: {', '.join(sorted(PROVIDERS))})"
    why = provider.missing()
    if why:
        return None, f"e2e on {name} skipped: {why}"
    return provider, ""
