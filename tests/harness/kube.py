"""A real Kubernetes control plane on 127.0.0.1: etcd, kube-apiserver, kube-controller-manager,
kube-scheduler, and kwok driving simulated nodes (pods on them become Running and Ready).

Wired the way envtest and local-up-cluster wire it: a throwaway CA, a serving certificate, client
certificates per component (RBAC is on, so each component acts as its real identity), and a
service-account signing key. Every component logs to a file under `workdir`.
"""

from __future__ import annotations

import contextlib
import json
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

from . import binaries, pki
from .proc import Proc, free_port, run, wait_for

NODE_ANNOTATION = "kwok.x-k8s.io/node"


def write_kubeconfig(path: Path, server: str, ca: Path, cert: Path, key: Path, user: str) -> Path:
    cfg = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "harness", "cluster": {"server": server, "certificate-authority": str(ca)}}],
        "users": [{"name": user, "user": {"client-certificate": str(cert), "client-key": str(key)}}],
        "contexts": [{"name": "harness", "context": {"cluster": "harness", "user": user}}],
        "current-context": "harness",
    }
    path.write_text(json.dumps(cfg, indent=2))  # JSON is YAML: every client reads it
    return path


# Opt-in audit policy: every write (not reads), with the request body for Leases so a holder
# change can be read back; RequestReceived is dropped (ResponseComplete carries both timestamps).
AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived"],
    "rules": [
        {"level": "None", "verbs": ["get", "list", "watch"]},
        {"level": "Request", "resources": [{"group": "coordination.k8s.io", "resources": ["leases"]}]},
        {"level": "Metadata"},
    ],
}


class ControlPlane:
    def __init__(self, workdir: Path, nodes: int = 2, audit: bool = False) -> None:
        """``audit``: kube-apiserver writes an audit log (``AUDIT_POLICY``, JSON lines) to ``audit_log``."""
        self.workdir = workdir
        self.nodes = nodes
        self.audit_log: Path | None = workdir / "audit.log" if audit else None
        self.bin_dir = binaries.kube_bin()
        self.version = "v" + binaries.versions()["KUBERNETES_VERSION"]
        self.procs: list[Proc] = []
        self.logs = workdir / "logs"
        self.pki_dir = workdir / "pki"
        self.port = free_port()
        self.server = f"https://127.0.0.1:{self.port}"
        self.kubeconfig = workdir / "admin.kubeconfig"

    # ---- lifecycle -----------------------------------------------------------------------------
    def start(self) -> ControlPlane:
        t0 = time.monotonic()
        self.pki_dir.mkdir(parents=True, exist_ok=True)
        ca = self._ca = pki.CA(self.pki_dir)
        self.ca_path = ca.cert_path
        serving = ca.issue(
            "apiserver",
            "kube-apiserver",
            server=True,
            dns=("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"),
            ips=("127.0.0.1", "10.0.0.1"),
        )
        sa_key, sa_pub = pki.service_account_key(self.pki_dir)
        admin = ca.issue("admin", "admin", orgs=("system:masters",))
        write_kubeconfig(self.kubeconfig, self.server, ca.cert_path, *admin, "admin")
        kcm_cfg = write_kubeconfig(
            self.workdir / "kcm.kubeconfig",
            self.server,
            ca.cert_path,
            *ca.issue("kcm", "system:kube-controller-manager"),
            "kcm",
        )
        sched_cfg = write_kubeconfig(
            self.workdir / "scheduler.kubeconfig",
            self.server,
            ca.cert_path,
            *ca.issue("scheduler", "system:kube-scheduler"),
            "scheduler",
        )

        etcd_port, etcd_peer = free_port(), free_port()
        etcd = self._proc(
            "etcd",
            [
                str(self.bin_dir / "etcd"),
                f"--data-dir={self.workdir / 'etcd'}",
                f"--listen-client-urls=http://127.0.0.1:{etcd_port}",
                f"--advertise-client-urls=http://127.0.0.1:{etcd_port}",
                f"--listen-peer-urls=http://127.0.0.1:{etcd_peer}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{etcd_peer}",
                f"--initial-cluster=default=http://127.0.0.1:{etcd_peer}",
                "--listen-metrics-urls=",
                "--unsafe-no-fsync=true",
                "--log-level=warn",
            ],
        )
        wait_for(lambda: _http_ok(f"http://127.0.0.1:{etcd_port}/health"), 60, "etcd /health", procs=[etcd])

        audit_flags: list[str] = []
        if self.audit_log is not None:
            policy = self.workdir / "audit-policy.json"
            policy.write_text(json.dumps(AUDIT_POLICY))
            audit_flags = [
                f"--audit-policy-file={policy}",
                f"--audit-log-path={self.audit_log}",
                "--audit-log-format=json",
                "--audit-log-mode=blocking",
                "--audit-log-maxbackup=0",
            ]
        apiserver = self._proc(
            "kube-apiserver",
            [
                str(self.bin_dir / "kube-apiserver"),
                f"--etcd-servers=http://127.0.0.1:{etcd_port}",
                f"--secure-port={self.port}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--tls-cert-file={serving[0]}",
                f"--tls-private-key-file={serving[1]}",
                f"--client-ca-file={ca.cert_path}",
                "--service-cluster-ip-range=10.0.0.0/24",
                "--allow-privileged=true",
                "--authorization-mode=Node,RBAC",
                f"--service-account-issuer={self.server}",
                f"--service-account-key-file={sa_pub}",
                f"--service-account-signing-key-file={sa_key}",
                "--endpoint-reconciler-type=none",
                "--v=1",
                *audit_flags,
            ],
        )
        wait_for(lambda: self._get("/readyz") == "ok", 120, "kube-apiserver /readyz", procs=[etcd, apiserver])
        self._proc(
            "kube-controller-manager",
            [
                str(self.bin_dir / "kube-controller-manager"),
                f"--kubeconfig={kcm_cfg}",
                f"--authentication-kubeconfig={kcm_cfg}",
                f"--authorization-kubeconfig={kcm_cfg}",
                f"--root-ca-file={ca.cert_path}",
                f"--service-account-private-key-file={sa_key}",
                "--use-service-account-credentials=true",
                f"--cluster-signing-cert-file={ca.cert_path}",
                f"--cluster-signing-key-file={ca.key_path}",
                "--leader-elect=false",
                f"--secure-port={free_port()}",
                "--bind-address=127.0.0.1",
                "--controllers=*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller",
                "--v=1",
            ],
        )
        self._proc(
            "kube-scheduler",
            [
                str(self.bin_dir / "kube-scheduler"),
                f"--kubeconfig={sched_cfg}",
                f"--authentication-kubeconfig={sched_cfg}",
                f"--authorization-kubeconfig={sched_cfg}",
                "--leader-elect=false",
                f"--secure-port={free_port()}",
                "--bind-address=127.0.0.1",
                "--v=1",
            ],
        )
        self._proc(
            "kwok",
            [
                str(binaries.kwok()),
                f"--kubeconfig={self.kubeconfig}",
                f"--manage-nodes-with-annotation-selector={NODE_ANNOTATION}=fake",
                f"--config={self._kwok_config()}",
                f"--server-address=127.0.0.1:{free_port()}",
                "--cidr=10.244.0.0/16",
                "--node-ip=127.0.0.1",
                f"--node-port={free_port()}",
            ],
        )
        self._create_nodes()
        # The token controller must have created the `default` ServiceAccount before pods can be made.
        wait_for(
            lambda: self.kubectl("get", "serviceaccount", "default", "-n", "default", check=False).returncode == 0,
            60,
            "the default ServiceAccount",
            procs=self.procs,
        )
        wait_for(self._nodes_ready, 60, "kwok nodes Ready", procs=self.procs)
        self.start_seconds = time.monotonic() - t0
        return self

    def stop(self) -> None:
        for p in reversed(self.procs):
            p.stop()

    def _proc(self, name: str, argv: list[str]) -> Proc:
        p = Proc(name, argv, self.logs / f"{name}.log").start()
        self.procs.append(p)
        return p

    def _kwok_config(self) -> Path:
        stages = binaries.kwok_stages()
        # A config file replaces kwok's built-in option defaults, so the ones it needs are spelled out.
        docs = [
            "apiVersion: config.kwok.x-k8s.io/v1alpha1\nkind: KwokConfiguration\noptions:\n"
            "  nodePlayStageParallelism: 4\n  podPlayStageParallelism: 8\n  nodeLeaseParallelism: 4\n"
            "  podsOnNodeSyncParallelism: 4\n  nodeLeaseDurationSeconds: 40\n"
        ]
        for rel in ("node/fast", "node/heartbeat-with-lease", "pod/fast"):
            for f in sorted((stages / rel).glob("*.yaml")):
                if f.name != "kustomization.yaml":
                    docs.append(f.read_text())
        path = self.workdir / "kwok.yaml"
        path.write_text("\n---\n".join(d.strip() for d in docs) + "\n")
        return path

    def _create_nodes(self) -> None:
        for i in range(self.nodes):
            node: dict[str, Any] = {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": f"kwok-node-{i}",
                    "annotations": {NODE_ANNOTATION: "fake"},
                    "labels": {
                        "kubernetes.io/hostname": f"kwok-node-{i}",
                        "kubernetes.io/os": "linux",
                        "kubernetes.io/arch": "amd64",
                        "type": "kwok",
                    },
                },
                "status": {
                    "allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110"},
                    "capacity": {"cpu": "32", "memory": "256Gi", "pods": "110"},
                },
            }
            self.kubectl("apply", "-f", "-", input=json.dumps(node))

    def _nodes_ready(self) -> bool:
        out = self.kubectl("get", "nodes", "-o", "json").stdout
        items = json.loads(out)["items"]
        ready = [
            n
            for n in items
            for c in n.get("status", {}).get("conditions", [])
            if c["type"] == "Ready" and c["status"] == "True"
        ]
        return len(ready) >= self.nodes

    # ---- clients -------------------------------------------------------------------------------
    def user_kubeconfig(
        self, user: str, orgs: tuple[str, ...] = ("system:masters",), server: str | None = None
    ) -> Path:
        """A kubeconfig with its own client certificate (user ``user``: how the apiserver and its audit
        log name this client), optionally for another address in front of the apiserver (a proxy)."""
        cert, key = self._ca.issue(f"user-{user}", user, orgs=orgs)
        return write_kubeconfig(
            self.workdir / f"{user}.kubeconfig", server or self.server, self.ca_path, cert, key, user
        )

    def audit_events(self) -> list[dict[str, Any]]:
        """The audit log so far (needs ``audit=True``), one dict per event."""
        assert self.audit_log is not None, "started without audit=True"
        if not self.audit_log.exists():
            return []
        out = []
        for line in self.audit_log.read_text().splitlines():
            with contextlib.suppress(ValueError):  # a line being written right now
                out.append(json.loads(line))
        return out

    def _ssl(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.ca_path))
        ctx.load_cert_chain(str(self.pki_dir / "admin.crt"), str(self.pki_dir / "admin.key"))
        return ctx

    def _get(self, path: str) -> str:
        with urllib.request.urlopen(self.server + path, context=self._ssl(), timeout=5) as r:
            return str(r.read().decode())

    def get_json(self, path: str) -> Any:
        """GET a raw API path as the admin user."""
        return json.loads(self._get(path))

    def metrics(self) -> str:
        """The apiserver's Prometheus metrics (for counting requests by verb and resource)."""
        return self._get("/metrics")

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        return run(
            [str(self.bin_dir / "kubectl"), f"--kubeconfig={self.kubeconfig}", *args],
            input=input,
            check=check,
            timeout=timeout,
        )

    def wait_established(self, crd: str, timeout: float = 60) -> None:
        """Wait until the CRD ``crd`` is Established. Polled here rather than with ``kubectl wait``:
        that exits at once with an accessor error when it reads the CRD before it has any conditions."""
        jsonpath = '{.status.conditions[?(@.type=="Established")].status}'

        def established() -> bool:
            out = self.kubectl("get", "crd", crd, "-o", f"jsonpath={jsonpath}", check=False)
            return out.returncode == 0 and out.stdout.strip() == "True"

        wait_for(established, timeout, f"CRD {crd} Established", interval=0.2)

    def api_client(self) -> Any:
        """A kubernetes.client.ApiClient for the admin user."""
        from kubernetes import client, config

        cfg = client.Configuration()
        config.load_kube_config(config_file=str(self.kubeconfig), client_configuration=cfg)
        return client.ApiClient(cfg)

    def create_namespace(self, name: str, labels: dict[str, str] | None = None) -> str:
        ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels or {}}}
        self.kubectl("apply", "-f", "-", input=json.dumps(ns))
        wait_for(
            lambda: self.kubectl("get", "serviceaccount", "default", "-n", name, check=False).returncode == 0,
            60,
            f"the default ServiceAccount in {name}",
            procs=self.procs,
        )
        return name


def _http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as r:
        return bool(r.status == 200)

