"""Idempotency keys: ``idempotency=TTLBasedIdempotencyConfig(...)`` on a workflow or task.

The configuration goes with the workflow's registration (``PutWorkflow``), as the official SDK sends
it. The engine (v0.104.7 honours it) evaluates ``key_expression`` on each new run's input and refuses
a trigger whose key is held by another run: ``ALREADY_EXISTS`` "idempotency key collision" with the
existing run's id in the status details. Like the official SDK this SDK raises
``IdempotencyCollisionError`` (one trigger) or ``BulkTriggerIdempotencyCollisionError`` (a bulk
trigger: the runs that were created and the collisions). With the TTL method a key is held for
``ttl``; with the STATUS method until the run holding it finishes (at most ``fallback_ttl``). A run
an event would start under a held key is not started.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from enum import Enum
from typing import Any

from pydantic import BaseModel

from hatchet_worker._proto import v1_workflows_pb2


class IdempotencyMethod(Enum):
    TTL = "TTL"
    STATUS = "STATUS"


class TTLBasedIdempotencyConfig(BaseModel):
    """A run's key (``key_expression``, CEL over ``input``) is held for ``ttl`` after it is created."""

    key_expression: str
    ttl: timedelta

    def to_proto(self) -> v1_workflows_pb2.IdempotencyConfig:
        return v1_workflows_pb2.IdempotencyConfig(expression=self.key_expression,
                                                  ttl_ms=int(self.ttl.total_seconds() * 1000),
                                                  method=v1_workflows_pb2.TTL)


class StatusBasedIdempotencyConfig(BaseModel):
    """A run's key is held until the run finishes, and at most ``fallback_ttl``."""

    key_expression: str
    fallback_ttl: timedelta

    def to_proto(self) -> v1_workflows_pb2.IdempotencyConfig:
        return v1_workflows_pb2.IdempotencyConfig(expression=self.key_expression,
                                                  ttl_ms=int(self.fallback_ttl.total_seconds() * 1000),
                                                  method=v1_workflows_pb2.STATUS)


IdempotencyConfig = TTLBasedIdempotencyConfig | StatusBasedIdempotencyConfig


class IdempotencyCollisionError(Exception):
    """The trigger was refused: ``existing_run_external_id`` holds the key."""

    def __init__(self, existing_run_external_id: str) -> None:
        super().__init__()
        self.existing_run_external_id = existing_run_external_id


class BulkTriggerIdempotencyCollisionError(Exception):
    """Part of a bulk trigger was refused: the runs created, and one collision per refused run."""

    def __init__(self, successful_workflow_run_external_ids: list[str],
                 collisions: list[IdempotencyCollisionError]) -> None:
        super().__init__()
        self.successful_workflow_run_external_ids = successful_workflow_run_external_ids
        self.collisions = collisions


def _fields(data: bytes) -> Iterator[tuple[int, Any]]:
    """(field number, value) of a protobuf message: varints as ints, length-delimited as bytes.

    ``google.rpc.Status`` is not among this SDK's dependencies (the official SDK uses grpcio-status),
    and its two wire types are all the collision details need.
    """
    i = 0

    def varint() -> int:
        nonlocal i
        shift = result = 0
        while True:
            b = data[i]
            i += 1
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7

    while i < len(data):
        key = varint()
        kind = key & 7
        if kind == 0:
            yield key >> 3, varint()
        elif kind == 2:
            size = varint()
            yield key >> 3, data[i:i + size]
            i += size
        elif kind in (1, 5):
            i += 8 if kind == 1 else 4
        else:
            return


_DETAILS = "grpc-status-details-bin"
_PREFIX = "type.googleapis.com/v1."


def _details(exc: BaseException) -> dict[str, bytes]:
    """The status details of a gRPC error by message name (``v1.IdempotencyCollisionError``, ...)."""
    trailing = getattr(exc, "trailing_metadata", None)
    found: dict[str, bytes] = {}
    try:
        pairs = trailing() if callable(trailing) else ()
    except Exception:
        return found
    for key, value in pairs or ():
        if key != _DETAILS or not isinstance(value, bytes):
            continue
        try:
            for number, any_bytes in _fields(value):
                if number != 3 or not isinstance(any_bytes, bytes):
                    continue
                parts = dict(_fields(any_bytes))
                url, payload = parts.get(1, b""), parts.get(2, b"")
                if isinstance(url, bytes) and url.decode().startswith(_PREFIX) and isinstance(payload, bytes):
                    found[url.decode()[len(_PREFIX):]] = payload
        except (IndexError, UnicodeDecodeError):  # not a Status message: no details to read
            continue
    return found


def collision(exc: BaseException) -> Exception | None:
    """The official error for an idempotency collision answer, None for any other error."""
    import grpc

    if not isinstance(exc, grpc.RpcError) or exc.code() != grpc.StatusCode.ALREADY_EXISTS:
        return None
    if exc.details() != "idempotency key collision":
        return None
    details = _details(exc)
    if "IdempotencyCollisionError" in details:
        one = v1_workflows_pb2.IdempotencyCollisionError.FromString(details["IdempotencyCollisionError"])
        return IdempotencyCollisionError(one.existing_run_external_id)
    if "BulkTriggerIdempotencyCollisionError" in details:
        bulk = v1_workflows_pb2.BulkTriggerIdempotencyCollisionError.FromString(
            details["BulkTriggerIdempotencyCollisionError"])
        return BulkTriggerIdempotencyCollisionError(
            list(bulk.successful_workflow_run_external_ids),
            [IdempotencyCollisionError(c.existing_run_external_id) for c in bulk.collisions])
    return None


def refused_as_duplicate(exc: BaseException) -> bool:
    """An ``ALREADY_EXISTS`` answer other than an idempotency key collision: the official SDK's dedupe
    refusal of a single trigger (``DedupeViolationError``)."""
    import grpc

    return (isinstance(exc, grpc.RpcError) and exc.code() == grpc.StatusCode.ALREADY_EXISTS
            and exc.details() != "idempotency key collision")
