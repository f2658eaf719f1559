"""Things on the host that the e2e tier did not create and must leave exactly as it found them.

A developer runs ``make test`` on a machine that may already run Kubernetes or containers. Before the
tier's cluster is created this plants what such a machine has and what a careless teardown would take:
``KUBE-*`` chains in the filter and nat tables, each with a rule and a jump to it from a built-in
chain; a Linux bridge whose name starts like the real node's, with an address in the pod range and a
rule on it; and a sandbox named like a CNI pod's network namespace, with a process running in it.
After the cluster is deleted, :meth:`ForeignHost.problems` lists whatever of it changed.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import uuid
from pathlib import Path

from harness.proc import run

NETNS_DIR = Path("/var/run/netns")


def can_plant() -> bool:
    return os.geteuid() == 0 and all(shutil.which(t) for t in ("iptables", "iptables-save", "ip"))


class ForeignHost:
    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:6]
        self.chain = f"KUBE-FOREIGN-{tag.upper()}"
        self.bridge = f"hke{tag[:4]}f"  # the real node's bridges are hke<4 digits>
        self.netns = f"cni-foreign-{tag}"
        self.source = "192.0.2.77/32"
        self.address = "10.88.254.1/24"
        self.sleeper: subprocess.Popen[bytes] | None = None
        self.expected: dict[str, list[str]] = {}

    def _rules(self, table: str) -> list[str]:
        out = run(["iptables-save", "-t", table], check=False).stdout
        return sorted(line for line in out.splitlines()
                      if self.chain in line or self.bridge in line or self.source in line)

    def plant(self) -> ForeignHost:
        ipt = ["iptables", "-w", "5"]
        for table, builtin in (("filter", "FORWARD"), ("nat", "POSTROUTING")):
            run([*ipt, "-t", table, "-N", self.chain])
            run([*ipt, "-t", table, "-A", self.chain, "-s", self.source, "-j", "RETURN"])
            run([*ipt, "-t", table, "-A", builtin, "-s", self.source, "-j", self.chain])
        run(["ip", "link", "add", self.bridge, "type", "bridge"])
        run(["ip", "addr", "add", self.address, "dev", self.bridge])
        run([*ipt, "-t", "filter", "-A", "FORWARD", "-i", self.bridge, "-j", "ACCEPT"])
        run(["ip", "netns", "add", self.netns])
        self.sleeper = subprocess.Popen(["ip", "netns", "exec", self.netns, "sleep", "86400"],
                                        start_new_session=True)
        self.expected = {t: self._rules(t) for t in ("filter", "nat")}
        return self

    def problems(self) -> list[str]:
        """What of the planted state is gone or changed."""
        found = []
        for table, rules in self.expected.items():
            now = self._rules(table)
            if now != rules:
                found.append(f"iptables {table}: expected {rules}, found {now}")
        addr = run(["ip", "-o", "addr", "show", "dev", self.bridge], check=False)
        if addr.returncode != 0 or self.address not in addr.stdout:
            found.append(f"bridge {self.bridge} with {self.address}: {addr.stdout or addr.stderr}".strip())
        if not (NETNS_DIR / self.netns).exists():
            found.append(f"network namespace {self.netns} is gone")
        if self.sleeper is None or self.sleeper.poll() is not None:
            found.append(f"the process in {self.netns} ended ({self.sleeper and self.sleeper.returncode})")
        return found

    def remove(self) -> None:
        if self.sleeper is not None and self.sleeper.poll() is None:
            os.killpg(self.sleeper.pid, signal.SIGKILL)
            self.sleeper.wait(10)
        ipt = ["iptables", "-w", "5"]
        run([*ipt, "-t", "filter", "-D", "FORWARD", "-i", self.bridge, "-j", "ACCEPT"], check=False)
        for table, builtin in (("filter", "FORWARD"), ("nat", "POSTROUTING")):
            run([*ipt, "-t", table, "-D", builtin, "-s", self.source, "-j", self.chain], check=False)
            run([*ipt, "-t", table, "-F", self.chain], check=False)
            run([*ipt, "-t", table, "-X", self.chain], check=False)
        run(["ip", "link", "delete", self.bridge], check=False)
        run(["ip", "netns", "delete", self.netns], check=False)
