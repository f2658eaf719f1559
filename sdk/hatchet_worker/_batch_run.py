"""Running a ``START_BATCH`` assignment: one call of a batch task's function for all its members.

The engine flushes a batch of buffered runs to one worker as a single assignment whose payload maps
each member's task run external id to ``{"payload": <the run's action payload>, "workflow_run_id":
...}``; it sends no per-member assignment. As the official worker does, this worker reports STARTED
for every member, calls the function once with ``{member_id: input}``, and reports each member's
end on its own (the engine's ``SendBatchActionEvent`` resolves members by their external ids):

* ``{member_id: output}`` for exactly the members given: each member COMPLETED with its output, or
  FAILED alone when its output is empty or not a JSON object;
* anything else (not a dict, a member missing or unknown) fails every member with the reason;
* ``broadcast_output=True``: the one output completes every member (an empty one fails them all);
* the function raised: every member FAILED with that error (``NonRetryableException`` says so).

The mapping from a result to events is pure (:func:`result_events`, :func:`failure_events`), so it is
unit-tested without an engine; :func:`execute` adds the call.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from hatchet_worker import _events, _serde
from hatchet_worker.exceptions import NonRetryableException

log = logging.getLogger("hatchet_worker.runner")


def member_inputs(action_payload: str) -> dict[str, Any]:
    """``{member_id: input JSON}`` from a START_BATCH payload, in the engine's order.

    Raises:
        ValueError: the payload is not a JSON object of members.
    """
    raw = json.loads(action_payload) if action_payload else {}
    if not isinstance(raw, dict):
        raise ValueError(f"a batch payload must be a JSON object of members, not {type(raw).__name__}")
    out: dict[str, Any] = {}
    for member, item in raw.items():
        payload = (item or {}).get("payload") or {}
        out[member] = payload.get("input") if isinstance(payload, dict) else None
    return out


def _body(output: Any, empty: str) -> str:
    # The official worker refuses a falsy output (None, {}) of a batch member: the engine would record
    # a member that finished with nothing, which its caller cannot tell from a lost result.
    if not output:
        raise ValueError(empty)
    return _serde.dump_output(output)


def failure_events(action_id: str, retry_count: int, members: Sequence[str], exc: BaseException) -> list[_events.Event]:
    """Every member FAILED with ``exc`` (its text names each member's own run id, as a task's would)."""
    no_retry = isinstance(exc, NonRetryableException)
    return [_events.Event(_events.FAILED, m, retry_count, action_id, _serde.format_error(exc, m),
                          should_not_retry=no_retry) for m in members]


def result_events(action_id: str, retry_count: int, members: Sequence[str], result: Any,
                  broadcast: bool) -> list[_events.Event]:
    """The events that report what the batch function returned (see the module docstring)."""
    if broadcast:
        try:
            body = _body(result, f"Batch task {action_id} returned empty broadcast output")
        except Exception as exc:
            return failure_events(action_id, retry_count, members, exc)
        return [_events.Event(_events.COMPLETED, m, retry_count, action_id, body) for m in members]
    try:
        _check_shape(action_id, members, result)
    except ValueError as exc:
        return failure_events(action_id, retry_count, members, exc)
    out: list[_events.Event] = []
    for member, output in result.items():
        try:
            body = _body(output, f"Batch task {action_id} has step run id {member} with empty output")
        except Exception as exc:
            out.append(_events.Event(_events.FAILED, member, retry_count, action_id,
                                     _serde.format_error(exc, member), should_not_retry=False))
            continue
        out.append(_events.Event(_events.COMPLETED, member, retry_count, action_id, body))
    return out


def _check_shape(action_id: str, members: Sequence[str], result: Any) -> None:
    """Refuse a result that is not one output per given member (the official SDK's messages)."""
    if not isinstance(result, dict):
        raise ValueError(f"Batch task '{action_id}' must return a dict of outputs")
    if len(result) != len(members):
        raise ValueError(f"Batch task '{action_id}' returned {len(result)} outputs for {len(members)} inputs")
    if unknown := set(result).difference(members):
        raise ValueError(f"Batch task '{action_id}' returned outputs for unknown step run ids: {sorted(unknown)}")


async def execute(action_id: str, batch_id: str, retry_count: int, inputs: dict[str, Any],
                  parse: Callable[[Any], Any], call: Callable[[dict[str, Any]], Awaitable[Any]], broadcast: bool,
                  put: Callable[[_events.Event], None], cancelled: Callable[[], bool]) -> str:
    """Run one batch: STARTED for all, the call, then each member's end; returns the outcome
    (``succeeded`` when no member failed, ``failed``, or ``cancelled``: nothing is reported then,
    as for a cancelled task, and the engine decides what becomes of the members)."""
    members = list(inputs)
    for member in members:
        put(_events.Event(_events.STARTED, member, retry_count, action_id))
    try:
        # Inputs are validated inside the guard: one bad input fails the batch's members instead of
        # leaving them to time out (the official worker validates before its guard).
        result = await call({member: parse(value) for member, value in inputs.items()})
    except Exception as exc:
        if cancelled():
            return "cancelled"
        log.error("batch task %s (batch %s, %d members) failed: %r", action_id, batch_id, len(members), exc)
        events = failure_events(action_id, retry_count, members, exc)
    else:
        if cancelled():
            return "cancelled"
        events = result_events(action_id, retry_count, members, result, broadcast)
    for event in events:
        put(event)
    return "succeeded" if all(e.kind == _events.COMPLETED for e in events) else "failed"
