"""Pure decisions of the event sender: size-bounded batches, oversized payloads, error verdicts."""

from __future__ import annotations

import itertools
import random

import grpc
import pytest

from hatchet_worker import _events
from hatchet_worker._events import (
    COMPLETED,
    ENVELOPE_RESERVE,
    FAILED,
    Event,
    Verdict,
    classify,
    fit,
    payload_limit,
    plan_chunks,
    too_large_message,
)
from hatchet_worker._proto import dispatcher_pb2 as pb

LIMIT = 4 * 1024 * 1024


@pytest.mark.parametrize("seed", range(200))
def test_chunks_keep_order_and_bounds(seed: int) -> None:
    rng = random.Random(seed)
    budget = rng.randint(1, 5000)
    max_count = rng.randint(1, 20)
    sizes = [rng.choice([rng.randint(0, budget // 3 + 1), rng.randint(0, 2 * budget)])
             for _ in range(rng.randint(0, 120))]
    chunks = plan_chunks(sizes, budget, max_count)
    assert [i for c in chunks for i in c] == list(range(len(sizes)))  # every item once, in order
    for c in chunks:
        assert 1 <= len(c) <= max_count
        total = sum(sizes[i] for i in c)
        assert total <= budget or len(c) == 1  # only a lone oversized item may exceed the budget
    # Greedy: the next chunk's first item would not have fitted in the previous chunk.
    for a, b in itertools.pairwise(chunks):
        assert len(a) == max_count or sum(sizes[i] for i in a) + sizes[b[0]] > budget


def _event(kind: int, payload: str) -> Event:
    return Event(kind, "0b5e1f2a-0000-4000-8000-000000000001", 0, "ns_act:act", payload,
                 size=len(payload.encode()))


def test_real_encoding_of_a_planned_chunk_fits_the_limit() -> None:
    """``encoded_size`` over-estimates: a full chunk encodes below the send limit."""
    rng = random.Random(1)
    events = [_event(COMPLETED, "é" * rng.randint(1, 300_000)) for _ in range(60)]
    for chunk in plan_chunks([e.encoded_size() for e in events], LIMIT - ENVELOPE_RESERVE):
        req = pb.BatchActionEvent(worker_id="0b5e1f2a-0000-4000-8000-000000000002", event_type=COMPLETED)
        req.event_timestamp.GetCurrentTime()
        for i in chunk:
            req.items.add(task_run_external_id=events[i].task_run_external_id,
                          event_payload=events[i].payload, retry_count=0, should_not_retry=True)
        assert req.ByteSize() <= LIMIT


def test_an_output_that_fits_is_untouched() -> None:
    e = _event(COMPLETED, "x" * payload_limit(LIMIT))
    assert fit(e, LIMIT) is e


def test_an_oversized_output_becomes_a_non_retryable_failure_naming_size_and_limit() -> None:
    e = _event(COMPLETED, "x" * (payload_limit(LIMIT) + 1))
    out = fit(e, LIMIT)
    assert (out.kind, out.should_not_retry) == (FAILED, True)
    assert f"{payload_limit(LIMIT) + 1:,} bytes" in out.payload
    assert f"limit {LIMIT:,} bytes" in out.payload
    assert "HATCHET_CLIENT_GRPC_MAX_SEND_MESSAGE_LENGTH" in out.payload
    assert out.size == len(out.payload.encode()) < payload_limit(LIMIT)


def test_an_oversized_error_text_is_truncated_below_the_limit() -> None:
    e = _event(FAILED, "é" * LIMIT)  # multi-byte characters: the cut must stay valid UTF-8
    out = fit(e, LIMIT)
    assert out.kind == FAILED
    assert out.size == len(out.payload.encode()) <= payload_limit(LIMIT)
    assert "truncated" in out.payload


def test_message_mentions_engine_setting() -> None:
    assert "SERVER_GRPC_MAX_MSG_SIZE" in too_large_message("the task output", 10, 5)


@pytest.mark.parametrize(("code", "verdict"), [
    (grpc.StatusCode.UNAVAILABLE, Verdict.RETRY),
    (grpc.StatusCode.DEADLINE_EXCEEDED, Verdict.RETRY),
    (grpc.StatusCode.UNKNOWN, Verdict.FLAKY),
    (grpc.StatusCode.INTERNAL, Verdict.FLAKY),
    (grpc.StatusCode.RESOURCE_EXHAUSTED, Verdict.REJECT),
    (grpc.StatusCode.INVALID_ARGUMENT, Verdict.REJECT),
    (grpc.StatusCode.NOT_FOUND, Verdict.REJECT),
    (grpc.StatusCode.PERMISSION_DENIED, Verdict.REJECT),
    (grpc.StatusCode.UNIMPLEMENTED, Verdict.UNIMPLEMENTED),
])
def test_only_transport_errors_are_retried(code: grpc.StatusCode, verdict: Verdict) -> None:
    assert classify(code) == verdict


def test_every_status_code_has_a_verdict() -> None:
    for code in grpc.StatusCode:
        if code != grpc.StatusCode.OK:
            assert isinstance(_events.classify(code), Verdict)
