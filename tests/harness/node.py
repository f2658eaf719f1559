"""A real Kubernetes node on this machine: kubelet + a private containerd (CRI) + runc + CNI bridge,
kube-proxy, and a small cluster DNS, joined to a harness control plane.

What it creates, all of it private to one instance and removed by ``stop()`` (also after a failed start):

- a Linux bridge ``hke<id>`` with a /24 pod subnet from 10.88.0.0/16; its gateway address is the node
  address (kubelet, DNS and the apiserver relay bind there, everything else binds 127.0.0.1);
- containerd with its CRI plugin (own root, state, socket and CNI config; the sandbox image is the
  locally built ``pause`` image, so nothing is ever pulled);
- kubelet (cgroupfs driver under its own cgroup root, own root dir and pod log dir; anonymous
  requests from the apiserver allowed, which is how exec, logs and port-forward reach it);
- kube-proxy in iptables mode (Services), with the ``kubernetes`` Service pointed at a relay on the
  gateway address that forwards to the apiserver on 127.0.0.1;
- a cluster DNS on the gateway address that answers ``<service>.<namespace>.svc.cluster.local`` with the
  Service's ClusterIP, read from the apiserver (A records only; other names are NXDOMAIN: there is no
  upstream resolver here).

kube-proxy's rules are host-wide, so one real node runs at a time on a machine (a host lock).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import binaries, hostnet, pki
from .kube import ControlPlane, write_kubeconfig
from .proc import Proc, free_port, host_lock, remove_cgroup_tree, run, wait_for

ROOT = binaries.ROOT
CNI_BIN = Path("/usr/lib/cni")
CGROUP_V1 = Path("/sys/fs/cgroup")
HOST_LOCK = Path("/tmp/hatchet-kube-real-node.lock")
HOST_STATE = Path("/tmp/hatchet-kube-real-node.json")  # what to clean up if a run is killed
SERVICE_CIDR = "10.0.0.0/24"  # harness.kube's --service-cluster-ip-range
NODE_NAME = "hatchet-e2e-node"
SYSCTL = Path("/proc/sys")
SAVED_SYSCTLS = ("net/ipv4/ip_forward", "vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic",
                 "kernel/panic_on_oops", "kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes")
TOOLS = {
    "containerd": "containerd",
    "ctr": "containerd",
    "runc": "runc",
    "iptables": "iptables",
    "iptables-restore": "iptables",
    "conntrack": "conntrack",
    "ip": "iproute2",
}


def missing() -> str | None:
    """Why a real node cannot run on this machine (None: it can)."""
    problems = []
    if os.geteuid() != 0:
        problems.append("it needs root (containerd, kubelet, iptables, network namespaces)")
    for tool, pkg in TOOLS.items():
        if shutil.which(tool) is None:
            problems.append(f"`{tool}` is missing (Debian package {pkg}; hack/ensure-deps.sh installs it)")
    for plugin in ("bridge", "host-local", "loopback", "portmap"):
        if not (CNI_BIN / plugin).exists():
            problems.append(f"the CNI plugin {plugin} is missing (Debian package containernetworking-plugins)")
            break
    if not Path("/usr/bin/catatonit").exists():
        problems.append("catatonit (the pod sandbox process) is missing (Debian package catatonit)")
    if not (Path("/sys/fs/cgroup/cgroup.controllers").exists() or (CGROUP_V1 / "memory" / "cgroup.procs").exists()):
        problems.append("no usable cgroup hierarchy is mounted under /sys/fs/cgroup")
    # A killed run of ours leaves kube-proxy's chains behind; the next start removes them (its state file).
    if os.geteuid() == 0 and not HOST_STATE.exists() and (proxy := hostnet.host_proxy()):
        problems.append(f"this host already runs a kube-proxy, whose chains the real node's would rewrite: {proxy}")
    return "; ".join(problems) or None


class NodeControlPlane(ControlPlane):
    """harness.kube's control plane without simulated nodes, and with an apiserver that reaches the
    kubelet by the node's InternalIP (the node's host name resolves nowhere)."""

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir, nodes=0)

    def _proc(self, name: str, argv: list[str]) -> Proc:
        if name == "kube-apiserver":
            argv = [*argv, "--kubelet-preferred-address-types=InternalIP,Hostname"]
        return super()._proc(name, argv)


class RealNode:
    def __init__(self, workdir: Path, kube: ControlPlane, pause_archive: Path, pause_ref: str) -> None:
        self.workdir = workdir
        self.kube = kube
        self.pause_archive = pause_archive
        self.pause_ref = pause_ref
        self.bin_dir = kube.bin_dir
        self.logs = workdir / "logs"
        self.id = f"{os.getpid() % 10000:04d}"
        self.bridge = f"hke{self.id}"
        self.procs: list[Proc] = []
        self.cgroup_root = f"/hatchet-e2e-{self.id}"
        self.socket = workdir / "containerd" / "containerd.sock"
        self._lock_fd: int | None = None
        self._iptables_before: hostnet.Snapshot | None = None
        self._sysctls: dict[str, str] = {}
        self._bridge_created = False
        self.subnet: ipaddress.IPv4Network | None = None

    # ---- lifecycle -------------------------------------------------------------------------------
    def start(self) -> RealNode:
        t0 = time.monotonic()
        self._lock()
        try:
            self._sweep()
            self._network()
            self._containerd()
            self.load_image(self.pause_archive)
            self._services()
            self._kubelet()
            self._kube_proxy()
            wait_for(self._ready, 120, "the real node to be Ready", interval=0.5, procs=self.procs)
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - t0
        return self

    def stop(self) -> None:
        """Remove every pod, process, mount, network namespace, iptables rule, bridge and cgroup."""
        kubelet = next((p for p in self.procs if p.name == "kubelet"), None)
        if kubelet is not None and kubelet.alive():
            self._drain_pods()
        for p in reversed(self.procs):
            if p.name != "containerd":
                p.stop()
        self._kill_containers()
        for p in reversed(self.procs):
            p.stop()
        self.procs.clear()
        self._clean_host()
        self._unlock()

    def _clean_host(self) -> None:
        """Everything on the host outside the processes: what a killed run leaves for the next one."""
        self._kill_shims()
        self._unmount_under(self.workdir)  # the pods' network namespaces are mounted under it too
        if self._iptables_before is not None:
            hostnet.restore(self._iptables_before, self.bridge, self.subnet)
            self._iptables_before = None
        if self._bridge_created:
            run(["ip", "link", "delete", self.bridge], check=False)
            self._bridge_created = False
        self._remove_cgroups()
        for key, value in self._sysctls.items():
            with contextlib.suppress(OSError):
                (SYSCTL / key).write_text(value)
        self._sysctls = {}
        HOST_STATE.unlink(missing_ok=True)

    def _save_state(self) -> None:
        """What _clean_host needs, for the next run when this one is killed before its teardown."""
        HOST_STATE.write_text(json.dumps({
            "workdir": str(self.workdir), "bin_dir": str(self.bin_dir), "bridge": self.bridge,
            "subnet": str(self.subnet), "cgroup_root": self.cgroup_root, "socket": str(self.socket),
            "iptables_before": hostnet.to_json(self._iptables_before or {}), "sysctls": self._sysctls,
        }))

    @classmethod
    def _sweep(cls) -> None:
        """Under the host lock: clean up after an earlier run that was killed before its teardown."""
        try:
            state = json.loads(HOST_STATE.read_text())
        except (OSError, ValueError):
            return
        n = cls.__new__(cls)
        n.workdir, n.bin_dir = Path(state["workdir"]), Path(state["bin_dir"])
        n.bridge, n.subnet = state["bridge"], ipaddress.IPv4Network(state["subnet"])
        n.cgroup_root, n.socket = state["cgroup_root"], Path(state["socket"])
        # A state file without a snapshot (written before there was one) leaves iptables alone.
        n._iptables_before = hostnet.from_json(state["iptables_before"]) if "iptables_before" in state else None
        n._sysctls = dict(state["sysctls"])
        n._bridge_created = True
        n._clean_host()

    # ---- images ----------------------------------------------------------------------------------
    def ctr(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return run(["ctr", "--address", str(self.socket), "--namespace", "k8s.io", *args], check=check,
                   timeout=timeout)

    def load_image(self, archive: Path) -> None:
        # Imported (and unpacked into the overlayfs snapshotter) in the CRI plugin's namespace.
        self.ctr("images", "import", str(archive))

    # ---- pieces ----------------------------------------------------------------------------------
    def _lock(self) -> None:
        self._lock_fd = host_lock(HOST_LOCK, "real node")

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _network(self) -> None:
        used = [ipaddress.ip_network(a["local"] + "/" + str(a["prefixlen"]), strict=False)
                for link in json.loads(run(["ip", "-j", "addr"]).stdout) for a in link.get("addr_info", [])
                if a.get("family") == "inet"]
        free = [n for n in (ipaddress.IPv4Network(f"10.88.{i}.0/24") for i in range(1, 255))
                if not any(n.overlaps(u) for u in used)]
        subnet = self.subnet = random.choice(free)
        self.gateway = str(subnet.network_address + 1)
        run(["ip", "link", "add", self.bridge, "type", "bridge"])
        self._bridge_created = True
        run(["ip", "addr", "add", f"{self.gateway}/{subnet.prefixlen}", "dev", self.bridge])
        run(["ip", "link", "set", self.bridge, "up"])
        # The kubelet sets a few kernel defaults of its own (overcommit, panic): put them all back afterwards.
        self._sysctls = {k: (SYSCTL / k).read_text() for k in SAVED_SYSCTLS if (SYSCTL / k).exists()}
        (SYSCTL / "net/ipv4/ip_forward").write_text("1")
        self._iptables_before = hostnet.snapshot()  # before the kubelet and kube-proxy add theirs
        self._save_state()

    def _containerd(self) -> None:
        d = self.workdir / "containerd"
        cni_conf = d / "net.d"
        cni_conf.mkdir(parents=True, exist_ok=True)
        conflist = {
            "cniVersion": "1.0.0",
            "name": f"hatchet-e2e-{self.id}",
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": self.bridge,
                    "isGateway": True,
                    "ipMasq": False,
                    "hairpinMode": True,
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{"subnet": str(self.subnet), "gateway": self.gateway}]],
                        "routes": [{"dst": "0.0.0.0/0"}],
                        "dataDir": str(d / "ipam"),
                    },
                },
                {"type": "portmap", "capabilities": {"portMappings": True}},
            ],
        }
        (cni_conf / "10-bridge.conflist").write_text(json.dumps(conflist, indent=2))
        cri = 'plugins."io.containerd.grpc.v1.cri"'
        config = d / "config.toml"
        config.write_text(
            "version = 2\n"
            f'root = "{d / "root"}"\nstate = "{d / "state"}"\n'
            f'[grpc]\n  address = "{self.socket}"\n'
            f'[ttrpc]\n  address = "{self.socket}.ttrpc"\n'
            '[metrics]\n  address = ""\n'
            f"[{cri}]\n"
            f'  sandbox_image = "{self.pause_ref}"\n'
            '  stream_server_address = "127.0.0.1"\n  stream_server_port = "0"\n'
            "  enable_selinux = false\n"
            # Pod network namespaces under our state directory, not the host's /var/run/netns: the
            # teardown then finds its own there and can never take another runtime's.
            "  netns_mounts_under_state_dir = true\n"
            # No CAP_SYS_RESOURCE here (as in many sandboxes): never ask for a lower OOM score than ours.
            f"  restrict_oom_score_adj = {str(self._no_sys_resource()).lower()}\n"
            f"[{cri}.containerd]\n"
            '  snapshotter = "overlayfs"\n  default_runtime_name = "runc"\n'
            f"[{cri}.containerd.runtimes.runc]\n"
            '  runtime_type = "io.containerd.runc.v2"\n'
            f"[{cri}.containerd.runtimes.runc.options]\n"
            "  SystemdCgroup = false\n"
            f'  Root = "{d / "runc"}"\n'
            f"[{cri}.cni]\n"
            f'  bin_dir = "{CNI_BIN}"\n  conf_dir = "{cni_conf}"\n  max_conf_num = 1\n'
        )
        p = self._proc("containerd", ["containerd", "--config", str(config)])
        wait_for(lambda: self.ctr("version", check=False).returncode == 0, 60, "containerd", procs=[p])

    @staticmethod
    def _no_sys_resource() -> bool:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("CapEff:"):
                return not (int(line.split()[1], 16) >> 24) & 1  # CAP_SYS_RESOURCE
        return True

    def _services(self) -> None:
        """The cluster DNS and the apiserver relay (one small Python process on the gateway address)."""
        self.relay_port = free_port()
        kc = self.kube
        argv = [
            sys.executable, "-c",
            f"import sys; sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r}); "
            "from harness.node import serve; serve(sys.argv[1:])",
            self.gateway, str(self.relay_port), str(kc.port), kc.server, str(kc.ca_path),
            str(kc.pki_dir / "admin.crt"), str(kc.pki_dir / "admin.key"),
        ]
        p = self._proc("node-services", argv)
        wait_for(lambda: _tcp_open(self.gateway, self.relay_port), 30, "the DNS and apiserver relay", procs=[p])
        # The apiserver runs with --endpoint-reconciler-type=none: point `kubernetes` at the relay.
        slice_ = {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": "kubernetes",
                "namespace": "default",
                "labels": {"kubernetes.io/service-name": "kubernetes",
                           "endpointslice.kubernetes.io/managed-by": "hatchet-kube-e2e"},
            },
            "addressType": "IPv4",
            "endpoints": [{"addresses": [self.gateway], "conditions": {"ready": True}}],
            "ports": [{"name": "https", "port": self.relay_port, "protocol": "TCP"}],
        }
        self.kube.kubectl("apply", "-f", "-", input=json.dumps(slice_))

    def _node_kubeconfig(self, name: str, cn: str, orgs: tuple[str, ...]) -> Path:
        ca = _load_ca(self.kube.pki_dir)
        cert, key = ca.issue(name, cn, orgs=orgs)
        return write_kubeconfig(self.workdir / f"{name}.kubeconfig", self.kube.server, ca.cert_path, cert, key, name)

    def _kubelet(self) -> None:
        d = self.workdir / "kubelet"
        d.mkdir(parents=True, exist_ok=True)
        self._make_cgroup_root()
        resolv = d / "resolv.conf"
        resolv.write_text(f"nameserver {self.gateway}\n")
        self.kubelet_port = free_port()
        config = {
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "kind": "KubeletConfiguration",
            "address": self.gateway,
            "port": self.kubelet_port,
            "readOnlyPort": 0,
            "healthzBindAddress": "127.0.0.1",
            "healthzPort": free_port(),
            "authentication": {"anonymous": {"enabled": True}, "webhook": {"enabled": False},
                               "x509": {"clientCAFile": str(self.kube.ca_path)}},
            "authorization": {"mode": "AlwaysAllow"},
            "cgroupDriver": "cgroupfs",
            "cgroupRoot": self.cgroup_root,
            "failSwapOn": False,
            "failCgroupV1": False,
            "containerRuntimeEndpoint": f"unix://{self.socket}",
            "clusterDNS": [self.gateway],
            "clusterDomain": "cluster.local",
            "resolvConf": str(resolv),
            "podLogsDir": str(d / "pod-logs"),
            "imageGCHighThresholdPercent": 100,
            "evictionHard": {"memory.available": "100Mi", "nodefs.available": "2%", "imagefs.available": "2%"},
            "serializeImagePulls": False,
            "registerNode": True,
            "maxPods": 30,
        }
        cfg = d / "config.json"
        cfg.write_text(json.dumps(config, indent=2))
        kubeconfig = self._node_kubeconfig("kubelet", f"system:node:{NODE_NAME}", ("system:nodes",))
        self._proc("kubelet", [
            str(self.bin_dir / "kubelet"),
            f"--config={cfg}",
            f"--kubeconfig={kubeconfig}",
            f"--root-dir={d / 'root'}",
            f"--cert-dir={d / 'pki'}",
            f"--hostname-override={NODE_NAME}",
            f"--node-ip={self.gateway}",
            "--v=2",
        ])

    def _kube_proxy(self) -> None:
        d = self.workdir / "kube-proxy"
        d.mkdir(parents=True, exist_ok=True)
        kubeconfig = self._node_kubeconfig("kube-proxy", "system:kube-proxy", ())
        config = {
            "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
            "kind": "KubeProxyConfiguration",
            "clientConnection": {"kubeconfig": str(kubeconfig)},
            "mode": "iptables",
            "bindAddress": "127.0.0.1",
            "healthzBindAddress": f"127.0.0.1:{free_port()}",
            "metricsBindAddress": f"127.0.0.1:{free_port()}",
            "hostnameOverride": NODE_NAME,
            "clusterCIDR": str(self.subnet),
            "nodePortAddresses": [f"{self.gateway}/32"],
            "iptables": {"localhostNodePorts": False, "masqueradeAll": False},
            # Leave the host's conntrack sysctls alone (0: do not set).
            "conntrack": {"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s"},
        }
        cfg = d / "config.json"
        cfg.write_text(json.dumps(config, indent=2))
        self._proc("kube-proxy", [str(self.bin_dir / "kube-proxy"), f"--config={cfg}", "--v=2"])

    def _ready(self) -> bool:
        cp = self.kube.kubectl("get", "node", NODE_NAME, "-o", "json", check=False)
        if cp.returncode != 0:
            return False
        conds = json.loads(cp.stdout).get("status", {}).get("conditions", [])
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conds)

    def _proc(self, name: str, argv: list[str]) -> Proc:
        p = Proc(name, argv, self.logs / f"{name}.log").start()
        self.procs.append(p)
        return p

    # ---- cgroups ---------------------------------------------------------------------------------
    def _hierarchies(self, unified: bool = False) -> list[Path]:
        """The cgroup hierarchies (v1 controllers; with unified=True also the hybrid mode's cgroup2 one)."""
        if Path("/sys/fs/cgroup/cgroup.controllers").exists():
            return [CGROUP_V1]
        return [h for h in sorted(CGROUP_V1.iterdir()) if h.is_dir() and (h / "cgroup.procs").exists()
                and (unified or h.name != "unified")]

    def _make_cgroup_root(self) -> None:
        # The kubelet refuses a cgroup root that does not exist in every hierarchy.
        for h in self._hierarchies():
            path = h / self.cgroup_root.lstrip("/")
            path.mkdir(exist_ok=True)
            for f in ("cpuset.cpus", "cpuset.mems"):  # an empty cpuset takes no tasks
                if (path / f).exists() and not (path / f).read_text().strip():
                    (path / f).write_text((h / f).read_text())

    def _remove_cgroups(self) -> None:
        for h in self._hierarchies(unified=True):
            remove_cgroup_tree(h / self.cgroup_root.lstrip("/"), attempts=20)

    # ---- teardown helpers ------------------------------------------------------------------------
    def _drain_pods(self) -> None:
        """Delete every pod while the kubelet still runs, so CNI DEL runs for each sandbox (bounded)."""
        # Controllers first (orphaning), or they would replace the pods deleted next.
        self.kube.kubectl("delete", "deployments,replicasets,statefulsets,daemonsets,jobs", "--all",
                          "--all-namespaces", "--cascade=orphan", "--wait=false", check=False, timeout=60)
        self.kube.kubectl("delete", "pods", "--all", "--all-namespaces", "--grace-period=5", "--wait=false",
                          check=False, timeout=60)
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline and self._running_tasks():
            time.sleep(1)
        # Then the kubelet stops each sandbox: CNI DEL runs and containerd removes its network namespace.
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and self._sandbox_netns():
            time.sleep(0.2)

    def _running_tasks(self) -> list[str]:
        out = self.ctr("tasks", "ls", check=False, timeout=30).stdout.splitlines()[1:]
        return [line.split()[0] for line in out if line.split()[-1:] == ["RUNNING"]]

    def _kill_containers(self) -> None:
        if any(p.name == "containerd" and p.alive() for p in self.procs):
            tasks = self.ctr("tasks", "ls", "-q", check=False, timeout=30).stdout.split()
            for t in tasks:
                self.ctr("tasks", "kill", "-s", "SIGKILL", t, check=False, timeout=30)
            for t in tasks:
                self.ctr("tasks", "delete", "-f", t, check=False, timeout=30)

    def _kill_shims(self) -> None:
        """Shims run in process groups of their own and outlive containerd: end ours (by their -address)."""
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if argv and argv[0].endswith(b"containerd-shim-runc-v2") and str(self.socket).encode() in argv:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), 9)

    def _sandbox_netns(self) -> list[str]:
        """The pod network namespaces of this node that still exist (containerd mounts them under its
        state directory: ``netns_mounts_under_state_dir``)."""
        netns = self.workdir / "containerd" / "state" / "io.containerd.grpc.v1.cri" / "netns"
        return sorted(os.listdir(netns)) if netns.is_dir() else []

    @staticmethod
    def _unmount_under(top: Path) -> None:
        prefix = str(top.resolve())
        points = []
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            mp = line.split()[4].replace("\\040", " ")
            if mp == prefix or mp.startswith(prefix + "/"):
                points.append(mp)
        for mp in sorted(set(points), key=len, reverse=True):
            run(["umount", "-l", mp], check=False)


def _load_ca(directory: Path) -> pki.CA:
    """The control plane's CA, read back from its files (to issue the node's client certificates)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    ca = pki.CA.__new__(pki.CA)
    ca.dir = directory
    ca.cert_path = directory / "ca.crt"
    ca.key_path = directory / "ca.key"
    ca.cert = x509.load_pem_x509_certificate(ca.cert_path.read_bytes())
    ca.key = serialization.load_pem_private_key(ca.key_path.read_bytes(), password=None)  # type: ignore[assignment]
    return ca


def _tcp_open(host: str, port: int) -> bool:
    import socket

    with socket.create_connection((host, port), timeout=2):
        return True


# ---- the node-services process: cluster DNS + apiserver relay --------------------------------------
def dns_answer(query: bytes, cluster_ip: Callable[[str, str], str | None]) -> bytes | None:
    """The reply to one DNS query: an A record for <service>.<namespace>.svc.cluster.local (the Service's
    ClusterIP), no records for its other types, NXDOMAIN for every other name; None for a malformed query."""
    import struct

    if len(query) < 17:
        return None
    qid, flags, qdcount = struct.unpack("!HHH", query[:6])
    if qdcount != 1 or flags & 0x8000:
        return None
    labels, i = [], 12
    while i < len(query) and query[i] != 0:
        n = query[i]
        if n > 63:
            return None
        labels.append(query[i + 1:i + 1 + n].decode(errors="replace").lower())
        i += 1 + n
    if i + 5 > len(query):
        return None
    qtype, _ = struct.unpack("!HH", query[i + 1:i + 5])
    question = query[12:i + 5]
    rcode, answers = 3, b""  # NXDOMAIN
    dns1123 = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")
    if len(labels) == 5 and labels[2:] == ["svc", "cluster", "local"] and all(
            dns1123.fullmatch(label) for label in labels[:2]):
        ip = cluster_ip(labels[0], labels[1])
        if ip is not None:
            rcode = 0
            if qtype in (1, 255):  # A, ANY
                answers = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 5, 4) + ipaddress.IPv4Address(ip).packed
    # QR, AA, RD copied, RA.
    header = struct.pack("!HHHHHH", qid, 0x8000 | 0x0400 | (flags & 0x0100) | 0x0080 | rcode, 1,
                         1 if answers else 0, 0, 0)
    return header + question + answers


def serve(args: list[str]) -> None:
    """Run until killed: DNS on <gateway>:53/udp, TCP relay <gateway>:<relay> -> 127.0.0.1:<apiserver>."""
    import asyncio
    import ssl
    import urllib.request

    gateway, relay_port, api_port, server, ca, cert, key = args
    ctx = ssl.create_default_context(cafile=ca)
    ctx.load_cert_chain(cert, key)
    cache: dict[tuple[str, str], tuple[float, str | None]] = {}

    def cluster_ip(svc: str, ns: str) -> str | None:
        hit = cache.get((ns, svc))
        if hit and time.monotonic() - hit[0] < 2:
            return hit[1]
        ip: str | None = None
        try:
            with urllib.request.urlopen(f"{server}/api/v1/namespaces/{ns}/services/{svc}", context=ctx,
                                        timeout=3) as r:
                ip = json.load(r)["spec"].get("clusterIP")
                if ip in (None, "", "None"):
                    ip = None
        except Exception:
            ip = None
        cache[(ns, svc)] = (time.monotonic(), ip)
        return ip

    def answer(query: bytes) -> bytes | None:
        return dns_answer(query, cluster_ip)

    tasks: set[asyncio.Task[None]] = set()

    class DNS(asyncio.DatagramProtocol):
        def connection_made(self, transport: Any) -> None:
            self.transport = transport

        def datagram_received(self, data: bytes, addr: Any) -> None:
            loop = asyncio.get_running_loop()

            async def reply() -> None:
                try:
                    out = await loop.run_in_executor(None, answer, data)
                except Exception:
                    out = None
                if out is not None:
                    self.transport.sendto(out, addr)

            task = loop.create_task(reply())
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            ur, uw = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", int(api_port)), 5)
        except (OSError, TimeoutError):
            writer.close()
            return
        await asyncio.gather(pipe(reader, uw), pipe(ur, writer))

    async def main() -> None:
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(DNS, local_addr=(gateway, 53))
        srv = await asyncio.start_server(relay, gateway, int(relay_port))
        print(f"DNS on {gateway}:53/udp, apiserver relay on {gateway}:{relay_port}", flush=True)
        async with srv:
            await srv.serve_forever()

    asyncio.run(main())
