"""The pure parts of the engine reads: parsing, chunking, back-off, idle tracking, token claims."""

from __future__ import annotations

import asyncio
import base64
import json
import time

import pytest

from hatchet_operator import enginemetrics as em


def _token(claims: dict[str, object]) -> str:
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"e30.{body}.sig"


ROW = {
    "metadata": {"id": "w-1"},
    "name": "ns_worker",
    "status": "ACTIVE",
    "actions": ["ns_wf:a", "ns_wf:b"],
    "labels": [{"key": "hatchetworker", "value": "hw", "metadata": {}}, {"key": "gpu", "value": "1"}],
    "slotConfig": {"default": {"available": 1, "limit": 5}, "durable": {"available": 999, "limit": 1000}},
}


def test_worker_row_parsing() -> None:
    w = em.EngineWorker.of(ROW)
    assert (w.id, w.slot_limit, w.used_slots) == ("w-1", 5, 5)
    assert w.carries({"hatchetworker": "hw"}) and w.carries({"hatchetworker": "hw", "gpu": "1"})
    assert not w.carries({"hatchetworker": "hw", "hatchetworker-namespace": "a"})  # a label it lacks
    assert not w.carries({"hatchetworker": "other"}) and w.carries({})
    assert w.actions == {"ns_wf:a", "ns_wf:b"} and w.labels["gpu"] == "1"
    bare = em.EngineWorker.of({"metadata": {"id": "x"}})  # slotConfig omitted when empty
    assert bare.slot_limit is None and bare.used_slots == 0 and not bare.carries({"hatchetworker": "hw"})


def test_task_name_of_an_action() -> None:
    assert em.task_name("ns_wf:task") == "task" and em.task_name("plain") == "plain"


def test_token_claims() -> None:
    assert em.token_claims(_token({"sub": "tenant-1", "server_url": "http://x"}))["sub"] == "tenant-1"
    with pytest.raises(ValueError, match="not a JWT"):
        em.token_claims("nope")
    with pytest.raises(ValueError, match="no tenant"):
        em.token_claims(_token({"aud": "x"}))


def test_names_are_chunked_by_query_length() -> None:
    names = [f"task_{i:04d}_" + "x" * 50 for i in range(300)]
    chunks = em._chunks(names)
    assert [n for c in chunks for n in c] == names and len(chunks) > 1
    assert all(sum(len(n) + 1 for n in c) <= em.MAX_NAMES_CHARS for c in chunks)


class _NoClient:
    rest_url, tenant = "http://engine", "t"


def test_backoff_doubles_to_a_ceiling_and_interval_is_bounded() -> None:
    p = em.TenantPoller(_NoClient(), interval=10, jitter=0, max_backoff=60)  # type: ignore[arg-type]
    delays = []
    for errors in range(6):
        p.errors = errors
        delays.append(p.next_delay())
    assert delays == [10, 20, 40, 60, 60, 60]
    p.jitter, p.errors = 0.1, 0
    assert all(9 <= p.next_delay() <= 11 for _ in range(200))
    with pytest.raises(ValueError, match="poll interval"):
        em.TenantPoller(_NoClient(), interval=0.5)  # type: ignore[arg-type]


def test_idle_clock_remembers_since_when() -> None:
    busy = em.EngineWorker.of({**ROW, "metadata": {"id": "a"}})
    idle = em.EngineWorker.of({**ROW, "metadata": {"id": "b"}, "slotConfig": {"default": {"available": 5, "limit": 5}}})
    clock = em.IdleClock()
    assert clock.update([busy, idle], 100.0) == {"a": None, "b": 100.0}
    assert clock.update([busy, idle], 160.0) == {"a": None, "b": 100.0}  # still idle since 100
    now_idle = em.EngineWorker.of({**ROW, "metadata": {"id": "a"}, "slotConfig": {}})
    assert clock.update([now_idle], 200.0) == {"a": 200.0}  # b is gone and forgotten
    assert clock.update([now_idle, idle], 210.0)["b"] == 210.0


def test_poll_soon_cuts_one_sleep_short_but_never_a_backoff() -> None:
    async def scenario() -> tuple[bool, bool]:
        p = em.TenantPoller(_NoClient(), interval=10, jitter=0)  # type: ignore[arg-type]
        sleeping = asyncio.ensure_future(p._sleep(time.monotonic() + 600))
        await asyncio.sleep(0.05)
        p.poll_soon(0.2)
        p.poll_soon(30)  # a later ask does not push the earlier one back
        # Ends within 5 s or raises TimeoutError: neither the 600 s due time nor the 30 s ask held it.
        await asyncio.wait_for(sleeping, 5)
        asked_again = p._soon is not None  # the ask is used up by the poll it brought forward
        p.errors = 1
        p.poll_soon(0.2)
        return asked_again, p._soon is not None

    asked_again, during_backoff = asyncio.run(scenario())
    assert not asked_again and not during_backoff


def test_early_polls_are_never_closer_than_the_shortest_interval() -> None:
    # However many HatchetWorkers of the tenant ask, the poll rate stays within what the shortest
    # allowed interval gives.
    p = em.TenantPoller(_NoClient(), interval=60, jitter=0)  # type: ignore[arg-type]
    p._polled = time.monotonic()
    p.poll_soon(0)
    assert p._soon is not None and p._soon >= p._polled + em.MIN_INTERVAL
    p._soon, p._polled = None, time.monotonic() - 100
    before = time.monotonic()
    p.poll_soon(0.5)
    assert p._soon is not None and before + 0.5 <= p._soon <= time.monotonic() + 0.5
