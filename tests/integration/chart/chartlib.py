"""Helpers for the chart tests: render the chart with real helm and pick objects out of the result."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import yaml

from harness.binaries import versions
from harness.helm import Helm

REPO = Path(__file__).resolve().parents[3]
CHART = REPO / "charts" / "hatchet-operator"
CRD_NAME = "hatchetworkers.hatchetkube.io"
KUBE_VERSION = versions()["KUBERNETES_VERSION"]

# Exactly the rules the operator needs where it reconciles (see the chart's _helpers.tpl for why).
WORKLOAD_RULES = {
    ("hatchetkube.io", "hatchetworkers", ""): {"get", "list", "watch"},
    ("hatchetkube.io", "hatchetworkers/status", ""): {"patch"},
    ("hatchetkube.io", "hatchetworkers/finalizers", ""): {"update"},
    ("apps", "deployments", ""): {"list", "watch", "create", "patch"},
    ("apps", "deployments/scale", ""): {"patch"},
    ("", "pods", ""): {"list", "patch"},
    ("autoscaling", "horizontalpodautoscalers", ""): {"list"},
    ("", "events", ""): {"create"},
    ("", "secrets", ""): {"get"},
}


def lease_rules(lease: str) -> dict[tuple[str, str, str], set[str]]:
    return {
        ("coordination.k8s.io", "leases", ""): {"create"},
        ("coordination.k8s.io", "leases", lease): {"get", "update", "watch"},
    }


def values_args(values: dict[str, Any] | None) -> list[str]:
    """`--set-json` arguments for a nested dict of values (one per top-level key)."""
    return [arg for k, v in (values or {}).items() for arg in ("--set-json", f"{k}={json.dumps(v)}")]


def template(
    helm: Helm,
    values: dict[str, Any] | None = None,
    *extra: str,
    release: str = "hk",
    namespace: str = "hk-system",
    check: bool = True,
    chart: Path = CHART,
) -> subprocess.CompletedProcess[str]:
    return helm.run(
        "template", release, str(chart), "--namespace", namespace, "--kube-version", KUBE_VERSION,
        *values_args(values), *extra, check=check,
    )


def render(helm: Helm, values: dict[str, Any] | None = None, *extra: str, **kw: Any) -> list[dict[str, Any]]:
    """The rendered objects (empty documents dropped)."""
    out = template(helm, values, *extra, **kw).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def kinds(objs: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return sorted((o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in objs)


def one(objs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [o for o in objs if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, got {kinds(found)}"
    return found[0]


def of_kind(objs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objs if o["kind"] == kind]


def rules_map(rules: list[dict[str, Any]]) -> dict[tuple[str, str, str], set[str]]:
    """RBAC rules as {(apiGroup, resource, resourceName or ""): verbs}."""
    out: dict[tuple[str, str, str], set[str]] = {}
    for r in rules:
        for group in r.get("apiGroups", []):
            for res in r.get("resources", []):
                for name in r.get("resourceNames") or [""]:
                    out.setdefault((group, res, name), set()).update(r["verbs"])
    return out


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    [c] = deployment["spec"]["template"]["spec"]["containers"]
    return c  # type: ignore[no-any-return]
