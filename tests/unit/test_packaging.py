"""Packaging promises: the SDK installs and imports without the operator's dependencies, and the
product never imports the official hatchet-sdk (it is a test/benchmark reference only)."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OPERATOR_ONLY = {"kopf", "kubernetes"}


def _dist_name(requirement: str) -> str:
    name = requirement.split(";")[0].split("[")[0]
    for sep in "<>=!~ ":
        name = name.split(sep)[0]
    return name.strip().lower()


def test_base_dependencies_exclude_operator_libraries() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    base = {_dist_name(r) for r in project["dependencies"]}
    assert base == {"grpcio", "protobuf", "pydantic", "prometheus-client"}
    operator = {_dist_name(r) for r in project["optional-dependencies"]["operator"]}
    assert "kopf" in operator
    # The operator talks to the apiserver through kopf's aiohttp session, not the kubernetes client.
    assert "kubernetes" not in operator


def test_importing_the_sdk_loads_no_operator_library() -> None:
    code = (
        "import sys, hatchet_worker\n"
        "from hatchet_worker import Hatchet, Context\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'kopf', 'kubernetes', 'hatchet_sdk'})\n"
        "print(','.join(bad))\n"
    )
    cp = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert cp.stdout.strip() == ""


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_product_code_never_imports_the_official_sdk() -> None:
    files = [*ROOT.glob("sdk/hatchet_worker/**/*.py"), *ROOT.glob("operator/hatchet_operator/**/*.py")]
    assert len(files) > 10
    offenders = [str(f.relative_to(ROOT)) for f in files if "hatchet_sdk" in _imports(f)]
    assert offenders == []


def test_sdk_code_never_imports_operator_libraries() -> None:
    files = list(ROOT.glob("sdk/hatchet_worker/**/*.py"))
    offenders = {str(f.relative_to(ROOT)): sorted(_imports(f) & OPERATOR_ONLY) for f in files}
    assert {k: v for k, v in offenders.items() if v} == {}
