"""Declarations become the exact PutWorkflow / Register messages the engine expects."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import pytest
from pydantic import BaseModel

from hatchet_worker import (
    ClientConfig,
    Context,
    DesiredWorkerLabel,
    Hatchet,
    WorkerLabelComparator,
)
from hatchet_worker._proto import dispatcher_pb2, v1_workflows_pb2
from hatchet_worker._register import register_request, workflow_proto
from hatchet_worker.workflow import duration_expr


def seg(obj: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


@pytest.fixture
def hatchet() -> Hatchet:
    token = f"{seg({'alg': 'x'})}.{seg({'sub': 't'})}.sig"
    return Hatchet(config=ClientConfig(token=token, namespace="NS"))


class In(BaseModel):
    n: int = 0


def test_workflow_proto(hatchet: Hatchet) -> None:
    wf = hatchet.workflow(name="Orders", input_validator=In, on_events=["order:created"])

    @wf.task(execution_timeout=timedelta(minutes=2), retries=3, backoff_factor=2.0, backoff_max_seconds=30,
             desired_worker_labels={"gpu": DesiredWorkerLabel(value=1, required=True,
                                                              comparator=WorkerLabelComparator.GREATER_THAN)},
             slot_cost=2)
    def Charge(input: In, ctx: Context) -> dict[str, Any]:
        return {}

    @wf.task(parents=[Charge], schedule_timeout="10m")
    async def ship(input: In, ctx: Context) -> dict[str, Any]:
        return {}

    @wf.durable_task()
    async def wait(input: In, ctx: Context) -> dict[str, Any]:
        return {}

    msg = workflow_proto(wf, hatchet.config.namespace)
    assert msg.name == "ns_Orders"
    assert list(msg.event_triggers) == ["ns_order:created"]
    charge, ship_t, wait_t = msg.tasks
    assert (charge.readable_id, charge.action) == ("charge", "ns_orders:charge")
    assert (charge.timeout, charge.schedule_timeout, charge.retries) == ("2m", "5m", 3)
    assert (charge.backoff_factor, charge.backoff_max_seconds) == (2.0, 30)
    assert dict(charge.slot_requests) == {"default": 2}
    label = charge.worker_labels["gpu"]
    assert (label.int_value, label.required, label.comparator) == (1, True, 2)
    assert list(ship_t.parents) == ["charge"] and ship_t.schedule_timeout == "10m"
    assert (wait_t.is_durable, dict(wait_t.slot_requests)) == (True, {"durable": 1})
    assert json.loads(msg.input_json_schema)["properties"]["n"]["type"] == "integer"
    # It survives the wire: bytes parse back to the same message.
    assert v1_workflows_pb2.CreateWorkflowVersionRequest.FromString(msg.SerializeToString()) == msg


def test_standalone_task_and_registration(hatchet: Hatchet) -> None:
    @hatchet.task(name="Send-Email", retries=1)
    def send(input: Any, ctx: Context) -> dict[str, Any]:
        return {"sent": True}

    msg = workflow_proto(send, hatchet.config.namespace)
    assert msg.name == "ns_Send-Email"
    assert [t.action for t in msg.tasks] == ["ns_send-email:send-email"]
    worker = hatchet.worker("w", workflows=[send], labels={"zone": "a", "gpu": 2})
    assert worker.name == "ns_w"
    req = register_request(worker.name, ["ns_send-email:send-email"], {"default": 10}, worker.labels)
    assert dict(req.slot_config) == {"default": 10}
    assert not req.HasField("runtime_info") or req.runtime_info.language == dispatcher_pb2.PYTHON
    assert req.labels["zone"].str_value == "a" and req.labels["gpu"].int_value == 2
    assert list(req.services) == ["default"]


def test_worker_rejects_a_task_instead_of_a_workflow(hatchet: Hatchet) -> None:
    wf = hatchet.workflow(name="x")

    @wf.task()
    def t(input: Any, ctx: Context) -> None:
        return None

    with pytest.raises(TypeError, match="pass the workflow"):
        hatchet.worker("w", workflows=[t])  # type: ignore[list-item]


def test_duplicate_task_names_are_rejected(hatchet: Hatchet) -> None:
    wf = hatchet.workflow(name="x")
    wf.task(name="a")(lambda i, c: None)
    with pytest.raises(ValueError, match="already has a task named 'a'"):
        wf.task(name="A")(lambda i, c: None)


@pytest.mark.parametrize(("value", "expr"), [
    (timedelta(seconds=90), "90s"), (timedelta(minutes=5), "5m"), (timedelta(hours=2), "2h"), (60, "1m"),
    ("15s", "15s"),
])
def test_duration_expr(value: Any, expr: str) -> None:
    assert duration_expr(value) == expr


@pytest.mark.parametrize("bad", ["5d", "", "m", 0, timedelta(0)])
def test_bad_durations(bad: Any) -> None:
    with pytest.raises(ValueError):
        duration_expr(bad)
