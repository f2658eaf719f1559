"""The host's packet filter as a real node found it, and a cleanup that removes only what the node added.

The real node's kubelet and kube-proxy write rules into the host's own iptables (they run in the
host's network namespace, so tests reach pods by their IPs). kube-proxy's ``--cleanup`` is not used to
undo that: it removes every kube-proxy chain on the host, a developer's own cluster's included, and
so did the earlier "delete every ``KUBE-*`` chain" sweep. Instead a snapshot is taken before the node
starts, and the cleanup removes only the chains that appeared since and the new rules that are the
node's (they name a ``KUBE-`` chain, the node's bridge, or an address of its pod subnet).

A host whose iptables (or nftables) already hold kube-proxy's chains is refused before anything
starts: two kube-proxies on one packet filter rewrite each other's chains, which no cleanup undoes.
"""

from __future__ import annotations

import ipaddress
import itertools
import shlex
import shutil
from collections import Counter
from dataclasses import dataclass, field

from .proc import run

COMMANDS = ("iptables", "ip6tables")
TABLES = ("filter", "nat", "mangle")
PROXY_CHAINS = frozenset({"KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ",
                          "KUBE-EXTERNAL-SERVICES", "KUBE-PROXY-FIREWALL", "KUBE-FORWARD"})
"""Chains only kube-proxy (iptables mode) creates: their presence means a kube-proxy runs on this host."""
OWN_CHAIN_PREFIXES = ("KUBE-", "CNI-")
BUILTIN_CHAINS = frozenset({"INPUT", "OUTPUT", "FORWARD", "PREROUTING", "POSTROUTING"})
"""Always there before the node: never flushed or deleted, whatever a snapshot says."""


@dataclass
class Table:
    """One table of one command's ``-save`` output: its user chains and its rules, as printed."""

    chains: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)


def parse(save_output: str) -> Table:
    """The chains (``:NAME``, built-in ones included) and rules (``-A ...``) of an ``iptables-save -t``."""
    table = Table()
    for line in save_output.splitlines():
        if line.startswith(":"):
            table.chains.append(line[1:].split()[0])
        elif line.startswith("-A "):
            table.rules.append(line[3:])
    return table


Snapshot = dict[str, dict[str, Table]]
"""Command -> table -> Table."""


def snapshot() -> Snapshot:
    """The host's tables now (only the commands this host has)."""
    out: Snapshot = {}
    for cmd in COMMANDS:
        if shutil.which(f"{cmd}-save") is None:
            continue
        for t in TABLES:
            saved = run([f"{cmd}-save", "-t", t], check=False)
            if saved.returncode == 0:  # a table that cannot be read is left out, so never restored
                out.setdefault(cmd, {})[t] = parse(saved.stdout)
    return out


def to_json(snap: Snapshot) -> dict[str, dict[str, dict[str, list[str]]]]:
    return {cmd: {t: {"chains": tab.chains, "rules": tab.rules} for t, tab in tables.items()}
            for cmd, tables in snap.items()}


def from_json(data: dict[str, dict[str, dict[str, list[str]]]]) -> Snapshot:
    return {cmd: {t: Table(list(tab["chains"]), list(tab["rules"])) for t, tab in tables.items()}
            for cmd, tables in data.items()}


def foreign_proxy(snap: Snapshot, nft_tables: str = "") -> str | None:
    """Why this host already runs a kube-proxy (None: it does not); ``nft_tables`` is ``nft list tables``."""
    for cmd, tables in snap.items():
        for name, tab in tables.items():
            found = sorted(PROXY_CHAINS & set(tab.chains))
            if found:
                return f"{cmd} table {name} already has kube-proxy's chains ({', '.join(found)})"
    for line in nft_tables.splitlines():
        if line.split()[-1:] == ["kube-proxy"]:
            return f"nftables already has kube-proxy's table ({line.strip()})"
    return None


def host_proxy() -> str | None:
    """:func:`foreign_proxy` of this host now."""
    nft = run(["nft", "list", "tables"], check=False).stdout if shutil.which("nft") else ""
    return foreign_proxy(snapshot(), nft)


def _ours(rule: str, bridge: str, subnet: ipaddress.IPv4Network | None) -> bool:
    """Whether a rule added during the run is the node's: it names a KUBE- chain, the bridge, or an
    address inside the pod subnet."""
    if "KUBE-" in rule or bridge in shlex.split(rule):
        return True
    if subnet is None:
        return False
    for token in shlex.split(rule):
        try:
            net = ipaddress.ip_network(token.lstrip("!"), strict=False)
        except ValueError:
            continue
        if net.version == 4 and net.subnet_of(subnet):  # type: ignore[arg-type]
            return True
    return False


def _jump_target(rule: str) -> str | None:
    tokens = shlex.split(rule)
    for flag, target in itertools.pairwise(tokens):
        if flag in ("-j", "-g", "--jump", "--goto"):
            return target
    return None


@dataclass
class Plan:
    """What to undo in one table: rules to delete from chains that existed before, then chains to
    flush and delete (the node's, created during the run)."""

    delete_rules: list[str]
    remove_chains: list[str]


def plan(before: Table, now: Table, bridge: str, subnet: ipaddress.IPv4Network | None) -> Plan:
    """What the node added to one table and must go (pure)."""
    old_chains = set(before.chains) | BUILTIN_CHAINS
    new_chains = [c for c in now.chains if c not in old_chains]

    def chain_of(rule: str) -> str:
        return rule.split()[0]

    own_new = {c for c in new_chains if c.startswith(OWN_CHAIN_PREFIXES)}
    # A new chain of another name is the node's when one of its rules is (a CNI plugin's masquerade chain).
    own_new |= {chain_of(r) for r in now.rules if chain_of(r) in new_chains and _ours(r, bridge, subnet)}
    added = Counter(now.rules)
    added.subtract(Counter(before.rules))
    delete = []
    for rule, extra in added.items():
        if extra <= 0 or chain_of(rule) not in old_chains:
            continue
        if _ours(rule, bridge, subnet) or _jump_target(rule) in own_new:
            delete += [rule] * extra
    return Plan(delete_rules=delete, remove_chains=[c for c in new_chains if c in own_new])


def restore(before: Snapshot, bridge: str, subnet: ipaddress.IPv4Network | None) -> None:
    """Undo what the node added since ``before`` (the host's state now, read again); only in tables
    ``before`` holds: without a table's snapshot nothing tells the node's chains from anyone's."""
    now = snapshot()
    for cmd, tables in now.items():
        for name, tab in tables.items():
            if name in before.get(cmd, {}):
                _apply(cmd, name, plan(before[cmd][name], tab, bridge, subnet))


def _apply(cmd: str, table: str, p: Plan) -> None:
    for rule in p.delete_rules:
        run(["sh", "-c", f"{cmd} -w 5 -t {table} -D {rule}"], check=False)
    for verb in ("-F", "-X"):  # all flushed first: a chain still jumped to cannot be deleted
        for chain in p.remove_chains:
            run([cmd, "-w", "5", "-t", table, verb, chain], check=False)

