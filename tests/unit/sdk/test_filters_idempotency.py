"""Pure parts of filters, idempotency, run details and task errors (issue §9/§10).

The collision details are decoded from a ``grpc-status-details-bin`` trailer built the way the
engine's gRPC library builds it (``google.rpc.Status`` with ``Any`` details); the task error text is
read back as the official ``TaskRunError.deserialize`` reads it (checked against it when the official
SDK is installed, test-only).
"""

from __future__ import annotations

import importlib.util
import json

import grpc
import pytest
from google.protobuf import any_pb2

from hatchet_worker import _idempotency, _task_errors
from hatchet_worker._filters import DefaultFilter
from hatchet_worker._proto import v1_workflows_pb2
from hatchet_worker._run_details import RunStatus, from_proto
from hatchet_worker._serde import format_error


def _status_bin(code: int, message: str, *details: object) -> bytes:
    """A google.rpc.Status encoded by hand (fields 1 code, 2 message, 3 repeated Any)."""
    def length(n: int) -> bytes:
        out = b""
        while True:
            b, n = n & 0x7F, n >> 7
            out += bytes([b | (0x80 if n else 0)])
            if not n:
                return out

    body = b"\x08" + length(code) + b"\x12" + length(len(message)) + message.encode()
    for detail in details:
        packed = any_pb2.Any()
        packed.Pack(detail)  # type: ignore[arg-type]
        raw = packed.SerializeToString()
        body += b"\x1a" + length(len(raw)) + raw
    return body


class FakeRpcError(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode, details: str, trailer: bytes | None) -> None:
        self._code, self._details, self._trailer = code, details, trailer

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def trailing_metadata(self) -> tuple[tuple[str, bytes], ...]:
        return (("grpc-status-details-bin", self._trailer),) if self._trailer is not None else ()


def test_a_single_collision_names_the_run_holding_the_key() -> None:
    detail = v1_workflows_pb2.IdempotencyCollisionError(existing_run_external_id="run-1",
                                                        colliding_run_external_id="run-2")
    err = FakeRpcError(grpc.StatusCode.ALREADY_EXISTS, "idempotency key collision",
                       _status_bin(6, "idempotency key collision", detail))
    found = _idempotency.collision(err)
    assert isinstance(found, _idempotency.IdempotencyCollisionError)
    assert found.existing_run_external_id == "run-1"


def test_a_bulk_collision_lists_successes_and_collisions() -> None:
    detail = v1_workflows_pb2.BulkTriggerIdempotencyCollisionError(
        successful_workflow_run_external_ids=["a", "b"],
        collisions=[v1_workflows_pb2.IdempotencyCollisionError(existing_run_external_id="x" * 200)])
    err = FakeRpcError(grpc.StatusCode.ALREADY_EXISTS, "idempotency key collision",
                       _status_bin(6, "idempotency key collision", detail))
    found = _idempotency.collision(err)
    assert isinstance(found, _idempotency.BulkTriggerIdempotencyCollisionError)
    assert found.successful_workflow_run_external_ids == ["a", "b"]
    assert [c.existing_run_external_id for c in found.collisions] == ["x" * 200]


@pytest.mark.parametrize("err", [
    FakeRpcError(grpc.StatusCode.ALREADY_EXISTS, "something else", None),
    FakeRpcError(grpc.StatusCode.UNAVAILABLE, "idempotency key collision", None),
    FakeRpcError(grpc.StatusCode.ALREADY_EXISTS, "idempotency key collision", b"\xff\xff"),
    ValueError("not grpc")])
def test_other_errors_are_not_collisions(err: Exception) -> None:
    assert _idempotency.collision(err) is None


def test_declarations_encode_as_the_official_messages() -> None:
    from datetime import timedelta

    ttl = _idempotency.TTLBasedIdempotencyConfig(key_expression="input.id", ttl=timedelta(seconds=1.5))
    status = _idempotency.StatusBasedIdempotencyConfig(key_expression="input.k", fallback_ttl=timedelta(minutes=1))
    assert (ttl.to_proto().ttl_ms, ttl.to_proto().method) == (1500, v1_workflows_pb2.TTL)
    assert (status.to_proto().ttl_ms, status.to_proto().method) == (60000, v1_workflows_pb2.STATUS)
    assert json.loads(DefaultFilter(expression="true", scope="s").to_proto().payload) == {}


def test_run_details_become_the_official_model() -> None:
    msg = v1_workflows_pb2.GetRunDetailsResponse(input=b'{"a": 1}', status=v1_workflows_pb2.FAILED, done=True)
    msg.task_runs["t"].CopyFrom(v1_workflows_pb2.TaskRunDetail(external_id="e", status=v1_workflows_pb2.FAILED,
                                                                error="boom", readable_id="t"))
    msg.task_runs["u"].CopyFrom(v1_workflows_pb2.TaskRunDetail(external_id="f", status=v1_workflows_pb2.COMPLETED,
                                                                output=b'{"x": 2}', readable_id="u"))
    detail = from_proto("run", msg)
    assert (detail.status, detail.input, detail.additional_metadata, detail.done) == (
        RunStatus.FAILED, {"a": 1}, None, True)
    assert (detail.task_runs["t"].error, detail.task_runs["t"].output, detail.task_runs["t"].status.value) == (
        "boom", None, "FAILED")
    assert detail.task_runs["u"].output == {"x": 2}


def _raise(exc: Exception) -> Exception:
    try:
        raise exc
    except Exception as caught:
        return caught


@pytest.mark.parametrize("text", [
    format_error(_raise(ValueError("bad\nvalue: here")), "tr-1"),
    format_error(_raise(RuntimeError("")), "tr-2"),
    "a plain text without a header",
    "Type: message without a trace",
])
def test_task_run_errors_read_back_as_the_official_sdk_reads_them(text: str) -> None:
    ours = _task_errors.parse("t", text)
    if importlib.util.find_spec("hatchet_sdk") is None:
        pytest.skip("needs the official SDK")
    from hatchet_sdk.exceptions import TaskRunError

    theirs = TaskRunError.deserialize(text)
    assert (ours.exc, ours.exc_type, ours.trace, ours.task_run_external_id) == (
        theirs.exc, theirs.exc_type, theirs.trace, theirs.task_run_external_id)
    assert _task_errors.task_run_error("t", None) is None
