"""Batch tasks without an engine: the declaration, its wire form, and how a batch's result becomes events.

The mapping from what the batch function returned to the members' events is pure (``_batch_run``), so
every shape the official worker handles is checked here; ``tests/integration/sdk/test_parity_batch.py``
checks the same on the real engine under both SDKs. The declarations and signatures are compared with
the official SDK's in a subprocess (test-only: the product never imports ``hatchet_sdk``).
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
from datetime import timedelta
from typing import Any

import pytest
from pydantic import BaseModel

from hatchet_worker import ClientConfig, Context, Hatchet, NonRetryableException, _batch_run, _events, _register
from hatchet_worker.runnables.types import BatchMemberId

from .two_sdks import TOKEN, by_task, run

A, B = "aaaaaaaa-0000-0000-0000-000000000001", "bbbbbbbb-0000-0000-0000-000000000002"


class Item(BaseModel):
    n: int


class Out(BaseModel):
    doubled: int


def kinds(events: list[_events.Event]) -> list[tuple[str, str]]:
    return [(e.task_run_external_id, _events.pb.StepActionEventType.Name(e.kind)) for e in events]


# -- reading a START_BATCH payload ---------------------------------------------------------------------
def test_member_inputs_reads_each_members_input_in_the_engines_order() -> None:
    payload = json.dumps({B: {"payload": {"input": {"n": 2}, "parents": {}}, "workflow_run_id": "w2"},
                          A: {"payload": {"input": {"n": 1}}, "workflow_run_id": "w1"}})
    assert _batch_run.member_inputs(payload) == {B: {"n": 2}, A: {"n": 1}}
    assert _batch_run.member_inputs("") == {}
    assert _batch_run.member_inputs(json.dumps({A: {"payload": None}})) == {A: None}
    with pytest.raises(ValueError, match="JSON object"):
        _batch_run.member_inputs("[1, 2]")


# -- mapping a result to events ----------------------------------------------------------------------------
def test_a_dict_of_outputs_completes_each_member_with_its_own() -> None:
    events = _batch_run.result_events("wf:t", 0, [A, B], {B: Out(doubled=4), A: {"doubled": 2}}, broadcast=False)
    assert kinds(events) == [(B, "STEP_EVENT_TYPE_COMPLETED"), (A, "STEP_EVENT_TYPE_COMPLETED")]
    assert [json.loads(e.payload) for e in events] == [{"doubled": 4}, {"doubled": 2}]
    assert {e.action_id for e in events} == {"wf:t"}


def test_broadcast_completes_every_member_with_the_one_output() -> None:
    events = _batch_run.result_events("wf:t", 0, [A, B], {"total": 3}, broadcast=True)
    assert kinds(events) == [(A, "STEP_EVENT_TYPE_COMPLETED"), (B, "STEP_EVENT_TYPE_COMPLETED")]
    assert {e.payload for e in events} == {'{"total":3}'}
    for empty in (None, {}):  # the official worker refuses an empty broadcast output: all fail
        failed = _batch_run.result_events("wf:t", 0, [A, B], empty, broadcast=True)
        assert kinds(failed) == [(A, "STEP_EVENT_TYPE_FAILED"), (B, "STEP_EVENT_TYPE_FAILED")]
        assert "returned empty broadcast output" in failed[0].payload
    not_object = _batch_run.result_events("wf:t", 0, [A], [1], broadcast=True)
    assert kinds(not_object) == [(A, "STEP_EVENT_TYPE_FAILED")] and "IllegalTaskOutputError" in not_object[0].payload


@pytest.mark.parametrize(("result", "message"), [
    ([{"n": 1}, {"n": 2}], "must return a dict of outputs"),
    ({A: {"n": 1}}, "returned 1 outputs for 2 inputs"),
    ({A: {"n": 1}, B: {"n": 2}, "x": {"n": 3}}, "returned 3 outputs for 2 inputs"),
    ({A: {"n": 1}, "x": {"n": 3}}, "unknown step run ids: ['x']"),
])
def test_a_wrong_shape_fails_every_member(result: Any, message: str) -> None:
    events = _batch_run.result_events("wf:t", 0, [A, B], result, broadcast=False)
    assert kinds(events) == [(A, "STEP_EVENT_TYPE_FAILED"), (B, "STEP_EVENT_TYPE_FAILED")]
    assert all(message in e.payload and e.payload.startswith("ValueError: ") for e in events)
    # Each member's error names its own run, as a task's error does.
    assert [json.loads(e.payload.rsplit("\n\n", 1)[1])["__hatchet_error_metadata__"]["task_run_external_id"]
            for e in events] == [A, B]


def test_one_bad_member_output_fails_that_member_alone() -> None:
    events = _batch_run.result_events("wf:t", 0, [A, B], {A: {}, B: {"n": 2}}, broadcast=False)
    assert kinds(events) == [(A, "STEP_EVENT_TYPE_FAILED"), (B, "STEP_EVENT_TYPE_COMPLETED")]
    assert f"has step run id {A} with empty output" in events[0].payload and events[0].should_not_retry is False
    events = _batch_run.result_events("wf:t", 0, [A, B], {A: "text", B: None}, broadcast=False)
    assert kinds(events) == [(A, "STEP_EVENT_TYPE_FAILED"), (B, "STEP_EVENT_TYPE_FAILED")]
    assert "IllegalTaskOutputError" in events[0].payload and "empty output" in events[1].payload


def test_a_raised_error_fails_every_member_and_non_retryable_says_so() -> None:
    events = _batch_run.failure_events("wf:t", 0, [A, B], ValueError("boom"))
    assert kinds(events) == [(A, "STEP_EVENT_TYPE_FAILED"), (B, "STEP_EVENT_TYPE_FAILED")]
    assert all(e.payload.startswith("ValueError: boom") and e.should_not_retry is False for e in events)
    final = _batch_run.failure_events("wf:t", 0, [A], NonRetryableException("no"))
    assert [e.should_not_retry for e in final] == [True]


def _execute(call: Any, cancelled: bool = False, inputs: dict[str, Any] | None = None) -> tuple[str, list[Any]]:
    sent: list[_events.Event] = []
    outcome = asyncio.run(_batch_run.execute(
        "wf:t", "batch-1", 0, inputs if inputs is not None else {A: {"n": 1}, B: {"n": 2}}, Item.model_validate,
        call, False, sent.append, lambda: cancelled))
    return outcome, kinds(sent)


def test_execute_reports_started_for_all_then_each_end() -> None:
    seen: list[dict[str, Any]] = []

    async def call(members: dict[str, Any]) -> dict[str, Any]:
        seen.append(members)
        return {m: {"doubled": item.n * 2} for m, item in members.items()}

    outcome, sent = _execute(call)
    assert seen == [{A: Item(n=1), B: Item(n=2)}]  # one call, inputs validated into the model
    assert (outcome, sent) == ("succeeded", [(A, "STEP_EVENT_TYPE_STARTED"), (B, "STEP_EVENT_TYPE_STARTED"),
                                             (A, "STEP_EVENT_TYPE_COMPLETED"), (B, "STEP_EVENT_TYPE_COMPLETED")])


def test_execute_fails_all_on_a_raise_or_a_bad_input_and_reports_nothing_when_cancelled() -> None:
    async def boom(members: dict[str, Any]) -> Any:
        raise RuntimeError("boom")

    outcome, sent = _execute(boom)
    assert (outcome, sent[2:]) == ("failed", [(A, "STEP_EVENT_TYPE_FAILED"), (B, "STEP_EVENT_TYPE_FAILED")])
    outcome, sent = _execute(boom, inputs={A: {"n": "not a number"}, B: {"n": 2}})
    assert (outcome, sent[2:]) == ("failed", [(A, "STEP_EVENT_TYPE_FAILED"), (B, "STEP_EVENT_TYPE_FAILED")])
    outcome, sent = _execute(boom, cancelled=True)
    assert (outcome, sent) == ("cancelled", [(A, "STEP_EVENT_TYPE_STARTED"), (B, "STEP_EVENT_TYPE_STARTED")])


# -- declaring ------------------------------------------------------------------------------------------------
def _client() -> Hatchet:
    return Hatchet(config=ClientConfig(token=TOKEN))


def test_declaration_checks_and_the_batch_field_of_the_request() -> None:
    hatchet = _client()
    wf = hatchet.workflow(name="b", input_validator=Item)
    for bad, message in (({"batch_max_size": 0}, "batch_max_size"),
                         ({"batch_max_size": 2, "batch_max_interval": timedelta(microseconds=10)}, "interval"),
                         ({"batch_max_size": 2, "batch_group_max_runs": 0}, "batch_group_max_runs")):
        with pytest.raises(ValueError, match=message):
            wf.batch_task(**bad)

    @wf.batch_task(batch_max_size=4, batch_max_interval=timedelta(milliseconds=1500), batch_group_key="input.n",
                   batch_group_max_runs=2)
    def many(inputs: dict[BatchMemberId, Item], ctx: Context) -> dict[BatchMemberId, Out]:
        return {m: Out(doubled=i.n * 2) for m, i in inputs.items()}

    @wf.batch_task(batch_max_size=1, broadcast_output=True)
    async def shared(inputs: dict[BatchMemberId, Item], ctx: Context) -> Out:
        return Out(doubled=0)

    protos = {t.readable_id: t for t in _register.workflow_proto(wf, "").tasks}
    assert (protos["many"].batch.batch_max_size, protos["many"].batch.batch_max_interval_ms,
            protos["many"].batch.batch_group_key, protos["many"].batch.batch_group_max_runs) == (4, 1500, "input.n", 2)
    assert not protos["many"].batch.HasField("broadcast_output") and protos["shared"].batch.broadcast_output
    assert not protos["shared"].batch.HasField("batch_max_interval_ms")
    # A member's output is read back as the dict's value type (the return type itself when broadcast).
    assert many.validate_output({"doubled": 2}) == Out(doubled=2)
    assert shared.validate_output({"doubled": 0}) == Out(doubled=0)
    assert many.retries == 0 and many.slot_requests == {"default": 1}


PROGRAM = """
import inspect
from datetime import timedelta


def declare(sdk):
    hatchet = sdk.Hatchet(config=sdk.ClientConfig(token=sys.argv[1], namespace="ns_"))
    Member = __import__(sdk.__name__ + ".runnables.types", fromlist=["BatchMemberId"]).BatchMemberId
    wf = hatchet.workflow(name="Batches", input_validator=In,
                          task_defaults=sdk.TaskDefaults(retries=2, execution_timeout=timedelta(seconds=9)))

    @wf.task()
    def first(input: In, ctx: sdk.Context) -> dict[str, Any]:
        return {}

    @wf.batch_task(name="Many", batch_max_size=5, batch_max_interval=timedelta(seconds=2),
                   batch_group_key="input.n", batch_group_max_runs=3, parents=[first],
                   rate_limits=[sdk.RateLimit(static_key="k", units=1)],
                   desired_worker_labels={"gpu": sdk.DesiredWorkerLabel(value=1, required=True)},
                   backoff_factor=2.0, backoff_max_seconds=30)
    def many(inputs: dict[Member, In], ctx: sdk.Context) -> dict[Member, dict[str, Any]]:
        return {}

    @wf.batch_task(batch_max_size=1, broadcast_output=True, schedule_timeout=timedelta(minutes=1))
    async def shared(inputs: dict[Member, In], ctx: sdk.Context) -> dict[str, Any]:
        return {}

    @hatchet.batch_task(name="standalone_batch", input_validator=In, batch_max_size=3, version="v1",
                        description="d", default_priority=2, sticky=sdk.StickyStrategy.SOFT,
                        execution_timeout=timedelta(seconds=5),
                        default_filters=[sdk.DefaultFilter(expression="true", scope="s")])
    def standalone_batch(inputs: dict[Member, In], ctx: sdk.Context) -> dict[Member, dict[str, Any]]:
        return {}

    @hatchet.batch_task(batch_max_size=2, broadcast_output=True, batch_max_interval=timedelta(milliseconds=250))
    def plain_broadcast(inputs: dict[Member, Any], ctx: sdk.Context) -> dict[str, Any]:
        return {}

    return [wf, standalone_batch, plain_broadcast]


def defaults(fn):
    return {p.name: repr(p.default) for p in inspect.signature(fn).parameters.values() if p.name != "self"}


signatures = {sdk.__name__: [defaults(sdk.Hatchet.batch_task), defaults(mod.Workflow.batch_task)]
              for sdk, mod in ((hatchet_worker, hatchet_worker.workflow),
                               (hatchet_sdk, hatchet_sdk.runnables.workflow))}
print(json.dumps({**both(declare), "signatures": signatures}))
"""


@pytest.fixture(scope="module")
def official() -> dict[str, Any]:
    if importlib.util.find_spec("hatchet_sdk") is None:
        pytest.skip("needs the official SDK")
    result: dict[str, Any] = run(PROGRAM)
    return result


def test_batch_declarations_give_the_official_requests(official: dict[str, Any]) -> None:
    ours, theirs = ([by_task(r) for r in official[k]] for k in ("ours", "theirs"))
    assert ours == theirs
    many = ours[0]["tasks"]["many"]
    assert many["batch"] == {"batch_max_size": 5, "batch_max_interval_ms": 2000, "batch_group_key": "input.n",
                             "batch_group_max_runs": 3}
    assert many["retries"] == 2 and many["timeout"] == "9s"  # the workflow's task_defaults apply, as there
    assert ours[0]["tasks"]["shared"]["batch"] == {"batch_max_size": 1, "broadcast_output": True}


def test_batch_task_signatures_have_the_official_defaults(official: dict[str, Any]) -> None:
    ours, theirs = official["signatures"]["hatchet_worker"], official["signatures"]["hatchet_sdk"]
    for mine, official_params in zip(ours, theirs, strict=True):
        assert list(mine) == list(official_params)
        # The official SDK writes the Duration defaults as timedelta and the empty ones as None, as we do.
        assert mine == official_params
