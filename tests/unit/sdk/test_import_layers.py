"""Layering (issue 10): the modules of ``hatchet_worker`` import only downwards.

Every module is parsed with ``ast``; each import of a ``hatchet_worker`` module counts, at module level
and inside functions (a function-level import hides a cycle from the interpreter, not from the design).
Only imports under ``if TYPE_CHECKING:`` are left out: they never run. The test fails listing every
strongly connected component of more than one module, and every module over the size limit, so a
new cycle or a new god module is caught where it is introduced.
"""

from __future__ import annotations

import ast
from pathlib import Path

import hatchet_worker

PACKAGE = "hatchet_worker"
ROOT = Path(hatchet_worker.__file__).resolve().parent
MAX_LINES = 520


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES: dict[str, Path] = {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(name: str, path: Path) -> set[str]:
    """The ``hatchet_worker`` modules that ``name`` imports, wherever in the file (but TYPE_CHECKING)."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()

    def resolve(node: ast.ImportFrom) -> str | None:
        if not node.level:
            return node.module
        base = name.split(".") if is_package else name.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        return ".".join([*base, *([node.module] if node.module else [])])

    def deepest(dotted: str) -> str | None:
        parts = dotted.split(".")
        while parts:
            candidate = ".".join(parts)
            if candidate in MODULES:
                return candidate
            parts.pop()
        return None

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    visit_node(other)
                continue
            visit_node(child)

    def visit_node(node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == PACKAGE and (target := deepest(alias.name)):
                    found.add(target)
        elif isinstance(node, ast.ImportFrom):
            module = resolve(node)
            if module and module.split(".")[0] == PACKAGE:
                # ``from pkg import submodule`` depends on the submodule; ``from pkg import Name`` on pkg.
                submodules = [f"{module}.{a.name}" for a in node.names if f"{module}.{a.name}" in MODULES]
                if len(submodules) < len(node.names) and (target := deepest(module)):
                    found.add(target)
                found.update(submodules)
        visit(node)

    visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    found.discard(name)
    return found


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative; components of more than one module, each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, list[str]]] = [(root, sorted(graph[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, pending = work[-1]
            if pending:
                nxt = pending.pop()
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, sorted(graph[nxt])))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return sorted(components)


def _graph() -> dict[str, set[str]]:
    return {name: _imports(name, path) for name, path in MODULES.items()}


def test_the_scanner_sees_function_level_imports() -> None:
    # Guards the test itself: a scanner that missed function-level imports would pass vacuously.
    graph = _graph()
    assert len(MODULES) > 50
    assert f"{PACKAGE}.hatchet" in graph and f"{PACKAGE}.client" in graph[f"{PACKAGE}.hatchet"]
    assert _strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle_inside_the_package() -> None:
    graph = _graph()
    cycles = _strongly_connected(graph)
    report = []
    for component in cycles:
        members = set(component)
        edges = [f"    {m} -> {d}" for m in component for d in sorted(graph[m] & members)]
        report.append(" <-> ".join(component) + "\n" + "\n".join(edges))
    assert not cycles, "import cycles inside hatchet_worker:\n" + "\n".join(report)


LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("declarations and protocol translation (pure)",
     ("workflow", "conditions", "labels", "rate_limit", "_run_refs", "_task_scope", "_filter_decls", "_register",
      "_condition_wire", "_label_wire", "_serde", "_batch", "_otel_attributes", "_tracing", "_retry")),
    ("transport (the engine's gRPC and REST clients)",
     ("runs", "_runs_rest", "_runs_paged", "_event_push", "_filters", "_schedules", "_trigger_clients",
      "_workers_client", "_rate_limits", "_channel", "_rest", "_run_listener", "_missing_features",
      "_workflows_client", "_tenant_reads", "_cel_client", "_webhooks_client", "_stubs")),
    ("worker runtime",
     ("context", "_durable_ops", "_runner", "_events", "_durable", "_listener", "_ipc", "worker", "_worker_health",
      "_declare", "_worker_listener", "_worker_signals", "_worker_drain", "_health", "_metrics", "_batch_run")),
    ("the Hatchet facade", ("client", "hatchet")),
    ("optional integrations (need their extra's packages)", ("opentelemetry.instrumentor", "opentelemetry._spans")),
)
"""The main modules of each layer, bottom first (docs/sdk.md, *Layout*): none reaches a higher layer."""


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for nxt in graph[todo.pop()] - seen:
            seen.add(nxt)
            todo.append(nxt)
    return seen


def test_no_layer_reaches_a_higher_one() -> None:
    graph = _graph()
    leaks = []
    for level, (layer, modules) in enumerate(LAYERS):
        above = {f"{PACKAGE}.{m}" for _, higher in LAYERS[level + 1:] for m in higher}
        for module in modules:
            assert f"{PACKAGE}.{module}" in graph, f"{module} (listed in LAYERS) does not exist"
            if reached := sorted(_reachable(graph, f"{PACKAGE}.{module}") & above):
                leaks.append(f"{module} ({layer}) imports, directly or not: {', '.join(reached)}")
    assert not leaks, "imports pointing up a layer:\n" + "\n".join(leaks)


def test_no_module_over_the_size_limit() -> None:
    too_big = {
        name: n
        for name, path in MODULES.items()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not too_big, f"modules over {MAX_LINES} lines: {too_big}"
