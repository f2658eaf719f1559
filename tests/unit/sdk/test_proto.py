"""The committed stubs match the .proto files, and the .proto files match the engine's wire contract."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "sdk" / "proto"))

import generate  # noqa: E402

from hatchet_worker._proto import (  # noqa: E402
    dispatcher_pb2,
    events_pb2,
    v1_condition_pb2,
    v1_dispatcher_pb2,
    v1_trigger_pb2,
    v1_workflows_pb2,
    workflows_pb2,
)

OURS = [dispatcher_pb2, events_pb2, workflows_pb2, v1_trigger_pb2, v1_condition_pb2, v1_workflows_pb2,
        v1_dispatcher_pb2]


def test_committed_stubs_are_generated_from_the_proto_files(tmp_path: Path) -> None:
    fresh = generate.generate(tmp_path)
    assert fresh, "nothing was generated"
    committed_dir = ROOT / "sdk" / "hatchet_worker" / "_proto"
    assert sorted(p.name for p in fresh) == sorted(p.name for p in committed_dir.glob("*_pb2.py"))
    stale = [p.name for p in fresh if p.read_bytes() != (committed_dir / p.name).read_bytes()]
    assert not stale, f"regenerate with `python sdk/proto/generate.py`: {stale} are out of date"


def describe(modules: list[Any]) -> dict[str, Any]:
    """Messages (fields by number) and services (methods) of some generated modules."""
    out: dict[str, Any] = {"messages": {}, "enums": {}, "services": {}}

    def type_name(f: Any) -> str:
        if f.message_type:
            return str(f.message_type.full_name)
        return str(f.enum_type.full_name) if f.enum_type else ""

    def walk(msg: Any) -> None:
        out["messages"][msg.full_name] = {
            str(f.number): [f.name, f.type, f.is_repeated, type_name(f)] for f in msg.fields}
        for nested in msg.nested_types:
            walk(nested)

    for mod in modules:
        fd = mod.DESCRIPTOR
        for msg in fd.message_types_by_name.values():
            walk(msg)
        for enum in fd.enum_types_by_name.values():
            out["enums"][enum.full_name] = {v.name: v.number for v in enum.values}
        for svc in fd.services_by_name.values():
            out["services"][svc.full_name] = {
                m.name: [m.input_type.full_name, m.output_type.full_name, m.client_streaming,
                         m.server_streaming] for m in svc.methods}
    return out


_DUMP_OFFICIAL = textwrap.dedent("""
    import json, sys, importlib
    sys.path.insert(0, sys.argv[1])
    from test_proto_describe import describe
    names = ["dispatcher_pb2", "events_pb2", "workflows_pb2", "v1.shared.trigger_pb2",
             "v1.shared.condition_pb2", "v1.workflows_pb2", "v1.dispatcher_pb2"]
    mods = [importlib.import_module("hatchet_sdk.contracts." + n) for n in names]
    print(json.dumps(describe(mods)))
""")


@pytest.fixture(scope="module")
def official(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The official SDK's contract, read in a subprocess (its messages share our full names)."""
    import importlib.util

    if importlib.util.find_spec("hatchet_sdk") is None:  # never import it here: its names clash with ours
        pytest.skip("the official SDK (the wire reference) is not installed")
    helper = tmp_path_factory.mktemp("describe")
    import inspect

    (helper / "test_proto_describe.py").write_text("from typing import Any\n\n" + inspect.getsource(describe))
    out = subprocess.run([sys.executable, "-c", _DUMP_OFFICIAL, str(helper)], capture_output=True, text=True,
                         timeout=120, check=True)
    return dict(json.loads(out.stdout))


def test_every_field_we_declare_matches_the_engine_contract(official: dict[str, Any]) -> None:
    ours = describe(OURS)
    assert len(ours["messages"]) > 50
    for name, fields in ours["messages"].items():
        assert name in official["messages"], f"message {name} is not in the engine's contract"
        theirs = official["messages"][name]
        for number, spec in fields.items():
            assert theirs.get(number) == spec, f"{name}.{number}: ours {spec}, engine {theirs.get(number)}"


def test_every_enum_value_matches(official: dict[str, Any]) -> None:
    for name, values in describe(OURS)["enums"].items():
        theirs = official["enums"][name]
        assert {k: theirs.get(k) for k in values} == values, name


def test_every_method_we_call_exists_with_the_same_shape(official: dict[str, Any]) -> None:
    ours = describe(OURS)["services"]
    assert set(ours) == {"Dispatcher", "EventsService", "WorkflowService", "v1.AdminService",
                         "v1.V1Dispatcher"}
    for svc, methods in ours.items():
        for method, spec in methods.items():
            assert official["services"][svc].get(method) == spec, f"/{svc}/{method}"
