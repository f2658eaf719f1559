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
from pathlib import Path

from harness import binaries, node
from harness.proc import run

REPO = Path(__file__).resolve().parents[2]
KIND_CONFIG = REPO / "kind-config.yaml"


class ClusterProvider(abc.ABC):
    """A Kubernetes cluster for the end-to-end suite."""

    name = ""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.kubeconfig = workdir / "kubeconfig"

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
    def load_image(self, archive: Path) -> None:
        """Make an image archive (hack/build-images.sh output) available to every node's runtime."""

    def kubectl(self, *args: str, input: str | None = None, check: bool = True,
                timeout: float = 300) -> subprocess.CompletedProcess[str]:
        kubectl = binaries.kube_bin() / "kubectl"
        return run([str(kubectl), f"--kubeconfig={self.kubeconfig}", *args], input=input, check=check,
                   timeout=timeout)


class KindCluster(ClusterProvider):
    """kind: Kubernetes in Docker containers, from kind-config.yaml."""

    name = "kind"

    def __init__(self, workdir: Path, cluster_name: str = "hatchet-kube-e2e") -> None:
        super().__init__(workdir)
        self.cluster_name = cluster_name

    @classmethod
    def missing(cls) -> str | None:
        problems = []
        if shutil.which("kind") is None:
            problems.append("the `kind` command is not installed")
        if shutil.which("docker") is None:
            problems.append("the `docker` command is not installed")
        else:
            cp = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True,
                                text=True, timeout=30)
            if cp.returncode != 0:
                reason = (cp.stderr.strip().splitlines() or ["no answer"])[-1]
                problems.append(f"the Docker daemon is not reachable ({reason})")
        return "; ".join(problems) or None

    def create(self) -> None:
        run(["kind", "create", "cluster", "--name", self.cluster_name, "--config", str(KIND_CONFIG),
             "--kubeconfig", str(self.kubeconfig), "--wait", "180s"], timeout=600)

    def delete(self) -> None:
        run(["kind", "delete", "cluster", "--name", self.cluster_name], check=False, timeout=300)

    def load_image(self, archive: Path) -> None:
        run(["kind", "load", "image-archive", str(archive), "--name", self.cluster_name], timeout=600)


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
