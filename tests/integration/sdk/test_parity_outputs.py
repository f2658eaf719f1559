"""Outputs, inputs and trigger options behave as with the official SDK (issue §3, §4, §10, §12).

``apps/parity_app.py`` is one program in the official documentation's style; each test runs it
under our SDK and under the official one (``APP_SDK``) and expects the same results on the real
engine. The client side is always ours.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.util
import json
import time
import warnings
from typing import Any

import grpc
import pytest
from pydantic import BaseModel

from hatchet_worker import DesiredWorkerLabel, EmptyModel, Hatchet, TriggerWorkflowOptions, runs
from hatchet_worker.exceptions import FailedTaskRunExceptionGroup, UnsupportedFeatureError
from hatchet_worker.runs import TaskRunRef, WorkflowRunRef

from .conftest import APP

PARITY = APP.parent / "parity_app.py"
SDKS = ["hatchet_worker",
        pytest.param("hatchet_sdk", marks=pytest.mark.skipif(importlib.util.find_spec("hatchet_sdk") is None,
                                                             reason="needs the official SDK"))]


class DagInput(BaseModel):
    value: int


class ModelOutput(BaseModel):
    doubled: int
    note: str = "default"


@dataclasses.dataclass
class DataclassInput:
    a: int
    names: list[str]


def model_output_stub(client: Hatchet) -> Any:
    """The client's own declaration of ``parity_model_output`` (same name and return type)."""
    @client.task(name="parity_model_output", input_validator=DagInput)
    def parity_model_output(input: DagInput, ctx: Any) -> ModelOutput:
        raise AssertionError("runs on the worker")

    return parity_model_output


@pytest.mark.parametrize("sdk", SDKS)
def test_task_output_is_the_parents_declared_type(client: Hatchet, start_worker: Any, sdk: str) -> None:
    start_worker(script=PARITY, APP_SDK=sdk)
    out = client.workflow(name="parity_dag").run(DagInput(value=2))
    # `second` and `join` read their parents with ctx.task_output and use attributes: they only
    # complete if the outputs come back as FirstOutput (pydantic) and SecondOutput (dataclass).
    assert out == {
        "first": {"n": 3, "tag": "first"},
        "second": {"total": 30, "items": [3, 2]},
        "join": {"first_type": "FirstOutput", "second_type": "SecondOutput", "sum": 33, "tag": "first",
                 "items": [3, 2]},
    }


@pytest.mark.parametrize("sdk", SDKS)
def test_inputs_and_typed_results_round_trip(client: Hatchet, start_worker: Any, sdk: str) -> None:
    start_worker(script=PARITY, APP_SDK=sdk)
    dc = client.workflow(name="parity_dataclass_input").run(DataclassInput(a=4, names=["x", "y"]))
    assert dc == {"parity_dataclass_input": {"type": "DataclassInput", "a": 4, "names": ["x", "y"]}}
    d = client.workflow(name="parity_dict_input").run({"k": [1, 2], "nested": {"z": None}})
    assert d == {"parity_dict_input": {"type": "dict", "input": {"k": [1, 2], "nested": {"z": None}}}}

    stub = model_output_stub(client)
    typed = stub.run(DagInput(value=21))
    assert typed == ModelOutput(doubled=42) and type(typed) is ModelOutput
    ref = stub.run(DagInput(value=5), wait_for_result=False)
    assert isinstance(ref, TaskRunRef) and ref.workflow_run_id
    assert ref.result(timeout=60) == ModelOutput(doubled=10)
    assert asyncio.run(stub.aio_run(DagInput(value=1))) == ModelOutput(doubled=2)
    many = stub.run_many([stub.create_bulk_run_item(DagInput(value=i)) for i in range(3)])
    assert many == [ModelOutput(doubled=0), ModelOutput(doubled=2), ModelOutput(doubled=4)]


@pytest.mark.parametrize("sdk", SDKS)
def test_sticky_children_and_desired_labels_per_run(client: Hatchet, start_worker: Any, sdk: str) -> None:
    start_worker(script=PARITY, APP_SDK=sdk, APP_LABELS=json.dumps({"w": "a"}))
    start_worker(script=PARITY, APP_SDK=sdk, APP_LABELS=json.dumps({"w": "b"}))
    spawner = client.workflow(name="parity_spawner")
    seen: dict[str, str] = {}
    for target in ("a", "b", "a", "b"):
        out = spawner.run(desired_worker_labels=[DesiredWorkerLabel(key="w", value=target, required=True)])
        got = out["parity_spawner"]
        assert got["children"] == [got["me"]] * 3, got  # sticky=True: every child on the parent's worker
        assert got["metadata"] == ["0", "1", "2"]
        assert seen.setdefault(target, got["me"]) == got["me"]
    assert seen["a"] != seen["b"]  # the list form of desired_worker_labels steered each parent


def test_run_options_are_sent_or_refused(client: Hatchet, start_worker: Any) -> None:
    start_worker(script=PARITY)
    where = client.workflow(name="parity_where")
    out = where.run(options=TriggerWorkflowOptions(additional_metadata={"from": "options"}),
                    additional_metadata={"from_kwarg": "yes"})
    metadata = out["parity_where"]["metadata"]
    assert {k: metadata[k] for k in ("from", "from_kwarg")} == {"from": "options", "from_kwarg": "yes"}
    with_defaults = client.workflow(name="parity_where", default_additional_metadata={"d": "1", "from": "default"})
    metadata = with_defaults.run(additional_metadata={"from": "run"})["parity_where"]["metadata"]
    assert {k: metadata[k] for k in ("d", "from")} == {"d": "1", "from": "run"}  # the run's keys win
    ref = where.run(wait_for_result=False)
    assert isinstance(ref, WorkflowRunRef)
    assert ref.result(timeout=60)["parity_where"]["worker"]
    with pytest.raises(UnsupportedFeatureError, match="namespace"):
        where.run(options=TriggerWorkflowOptions(namespace="other"))
    with pytest.raises(ValueError, match="not_an_option"):
        TriggerWorkflowOptions(not_an_option=1)  # type: ignore[call-arg]
    runs._warned.discard("key")  # warned once per process: forget earlier tests' warning
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        where.run(options=TriggerWorkflowOptions(key="k1"))
    assert any("TriggerWorkflowOptions.key has no effect" in str(w.message) for w in caught)


def test_aio_result_of_a_finished_run_is_answered_by_one_look(client: Hatchet, start_worker: Any) -> None:
    """A finished run is answered by the look after subscribing, not by the stream's ~1 s re-send."""
    start_worker(script=PARITY)
    where = client.workflow(name="parity_where")
    refs = [where.run_no_wait() for _ in range(5)]
    for ref in refs:
        ref.result(timeout=60)
    looks: list[bool] = []
    real = client.runs._aio_details_proto

    async def counting(run_id: str) -> Any:
        details = await real(run_id)
        looks.append(bool(details.done))
        return details

    client.runs._aio_details_proto = counting  # type: ignore[method-assign]

    async def go() -> list[Any]:
        return [await ref.aio_result(timeout=30) for ref in refs]

    results = asyncio.run(go())
    assert all(r["parity_where"]["worker"] for r in results)
    assert looks == [True] * 5  # one look per run, each already done: no wait on the stream
    assert EmptyModel  # imported name used by the app under both SDKs


@pytest.mark.parametrize("sdk", SDKS)
def test_task_conditions_skip_wait_and_cancel(client: Hatchet, start_worker: Any, sdk: str) -> None:
    start_worker(script=PARITY, APP_SDK=sdk)
    wf = client.workflow(name="parity_conditions")
    out = wf.run(DagInput(value=3))
    assert out["c_skipped"] == {"skipped": True}  # skip_if on the parent's output
    assert out["c_waited"] == {"waited": True}  # or_(sleep, never-pushed event): the sleep satisfies it
    assert out["c_join"] == {"skipped": True, "start": 3, "waited": True}  # ctx.was_skipped, typed parent
    not_skipped = wf.run(DagInput(value=0))  # the expression is false: the task runs
    assert not_skipped["c_skipped"] == {"n": -1, "tag": "ran"}
    assert not_skipped["c_join"]["skipped"] is False

    cancel_ref = client.workflow(name="parity_cancel_if").run(DagInput(value=1), wait_for_result=False)
    with pytest.raises(FailedTaskRunExceptionGroup):
        cancel_ref.result(timeout=60)
    assert client.runs.get_status(cancel_ref.workflow_run_id) == "CANCELLED"

    # wait_for a user event with an expression: only the matching event releases the task, so its
    # trigger data holds that event's payload. Events pushed before the engine registered the wait
    # are dropped, so push (a non-matching, then a matching one) until the run finishes.
    ref = client.workflow(name="parity_gated").run(wait_for_result=False)
    for _ in range(30):
        client.event.push("parity:go", {"ok": False, "tag": "no"})
        client.event.push("parity:go", {"ok": True, "tag": "yes"})
        try:
            if client.runs.get_status(ref.workflow_run_id) in ("COMPLETED", "FAILED", "CANCELLED"):
                break
        except grpc.RpcError:  # NOT_FOUND until the engine's read model has the new run
            pass
        time.sleep(1)
    triggers = ref.result(timeout=30)["g_task"]["triggers"]
    assert triggers == {"parity:go": {"ok": True, "tag": "yes"}, "filter_payload": None}, triggers
