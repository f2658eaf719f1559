"""Output/error encoding, IPC framing, listener backoff, public exports and a lean listener import."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
import subprocess
import sys
from typing import Any

import pytest
from pydantic import BaseModel

import hatchet_worker
from hatchet_worker import IllegalTaskOutputError, _ipc
from hatchet_worker._listener import BACKOFF_CAP, backoff_delay
from hatchet_worker._serde import dump_output, error_text, format_error


class Out(BaseModel):
    a: int


@dataclasses.dataclass
class DOut:
    b: str


@pytest.mark.parametrize(("value", "expected"), [
    ({"x": 1, "y": [1, "é"]}, {"x": 1, "y": [1, "é"]}),
    (Out(a=3), {"a": 3}),
    (DOut(b="z"), {"b": "z"}),
    ({"nested": Out(a=1)}, {"nested": {"a": 1}}),
])
def test_outputs_are_json_objects(value: Any, expected: Any) -> None:
    assert json.loads(dump_output(value)) == expected


def test_none_is_an_empty_payload() -> None:
    assert dump_output(None) == ""


@pytest.mark.parametrize("bad", [1, "text", [1, 2], {"bad": "nul\x00"}, {"obj": object()}])
def test_illegal_outputs(bad: Any) -> None:
    with pytest.raises(IllegalTaskOutputError):
        dump_output(bad)


def test_error_payload_carries_type_message_traceback_and_run_id() -> None:
    try:
        raise ValueError("missing\nthing")
    except ValueError as exc:
        text = format_error(exc, "run-1")
    head, trailer = text.rsplit("\n\n", 1)
    assert head.startswith("ValueError: missing\\\nthing\n")
    assert "Traceback (most recent call last)" in head
    assert json.loads(trailer) == {"__hatchet_error_metadata__": {"task_run_external_id": "run-1"}}
    assert error_text(text) == head


def test_ipc_frames_roundtrip() -> None:
    async def go() -> list[tuple[int, bytes] | None]:
        reader = asyncio.StreamReader()
        reader.feed_data(_ipc.encode(_ipc.ACTION, b"\x00raw") + _ipc.encode_json(_ipc.STATUS, {"s": 1})
                         + _ipc.encode(_ipc.STOP, b""))
        reader.feed_eof()
        return [await _ipc.read_frame(reader) for _ in range(4)]

    assert asyncio.run(go()) == [(_ipc.ACTION, b"\x00raw"), (_ipc.STATUS, b'{"s":1}'), (_ipc.STOP, b""), None]


def test_backoff_grows_and_is_capped() -> None:
    rng = random.Random(1)
    delays = [backoff_delay(n, rng) for n in range(1, 12)]
    assert delays[0] < 0.25 and delays[3] > 0.8
    assert max(delays) == BACKOFF_CAP and all(d <= BACKOFF_CAP for d in delays)


def test_public_names() -> None:
    assert hatchet_worker.__all__ == sorted([
        "BulkCancelReplayOpts", "RunFilter", "V1TaskStatus", "BulkPushEventOptions", "BulkPushEventWithMetadata",
        "PushEventOptions", "DefaultFilter", "BulkTriggerIdempotencyCollisionError", "IdempotencyCollisionError",
        "StatusBasedIdempotencyConfig", "TTLBasedIdempotencyConfig", "RunStatus", "EvictionPolicy",
        "ClientConfig", "ClientTLSConfig", "ConcurrencyExpression", "ConcurrencyLimitStrategy", "ConfigError",
        "Context", "DedupeViolationError", "Depends", "DesiredWorkerLabel", "DurableContext", "EmptyModel",
        "FailedTaskRunExceptionGroup",
        "Hatchet", "HealthCheckConfig", "HealthcheckConfig", "IllegalTaskOutputError", "LifespanSetupError",
        "LoopAlreadyRunningError", "NonRetryableException", "Priority", "RateLimit", "RateLimitDuration",
        "RetryAfterException",
        "Standalone", "StickyStrategy", "Task", "TaskDefaults", "TaskRunError", "TaskRunRef", "TriggerWorkflowOptions",
        "UnsupportedFeatureError", "Worker",
        "WorkerLabel", "WorkerLabelComparator",
        "Workflow", "WorkflowRunRef", "WorkflowRunTriggerConfig", "ParentCondition", "SleepCondition",
        "UserEventCondition", "or_"])
    for name in hatchet_worker.__all__:
        assert getattr(hatchet_worker, name) is not None


def test_listener_subprocess_imports_stay_lean() -> None:
    code = ("import sys, hatchet_worker._listener; "
            "mods = ('pydantic', 'prometheus_client', 'hatchet_worker.worker'); "
            "heavy = [m for m in mods if m in sys.modules]; "
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"
