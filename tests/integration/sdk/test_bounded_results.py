"""Results are bounded by the gRPC message limit and never block each other (real engine).

What is counted comes from the engine (run status, attempts, delivered outputs via REST) and from a
marker line the task writes on every execution, never from the worker's own view of itself.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from harness.hatchet import HatchetEngine
from hatchet_worker import ClientConfig, ClientTLSConfig, FailedTaskRunExceptionGroup, Hatchet
from hatchet_worker._events import payload_limit

from .conftest import WorkerProc, standalone, wait_until

LIMIT = 4 * 1024 * 1024  # the SDK's default send limit and the engine's default receive limit
OUTPUT_OVERHEAD = len('{"pad":""}')


def engine_tasks(hatchet: HatchetEngine, run_id: str) -> list[dict[str, Any]]:
    """The engine's record of a run's tasks (status, retryCount, output), over REST.

    The engine writes its REST view (the OLAP tables) after it schedules a run, so a run that is
    already running can still be a 404 for a moment (seen under a loaded full suite): wait for it.
    """
    tasks: list[dict[str, Any]] = wait_until(
        lambda: hatchet.rest("GET", f"/api/v1/stable/workflow-runs/{run_id}")["tasks"], 30,
        f"the engine's REST record of run {run_id}", 0.5)
    return list(tasks)


def executions(markers: Path, key: str) -> Counter[str]:
    path = markers / key
    lines = path.read_text().splitlines() if path.exists() else []
    return Counter(line.split()[0] for line in lines)


@pytest.fixture
def big_client(hatchet: HatchetEngine, ns: str) -> Hatchet:
    """A client that can read multi-MiB outputs back from the engine."""
    return Hatchet(config=ClientConfig(token=hatchet.token, host_port=hatchet.grpc_address,
                                       server_url=hatchet.rest_url, namespace=ns,
                                       tls_config=ClientTLSConfig(strategy="none"),
                                       grpc_max_recv_message_length=64 * 1024 * 1024))


def test_oversized_output_fails_alone_while_200_small_tasks_complete(
        client: Hatchet, start_worker: Any, hatchet: HatchetEngine, markers: Path) -> None:
    worker: WorkerProc = start_worker(APP_SLOTS="250")
    sized = standalone(client, "sized")
    echo = standalone(client, "echo")
    big = sized.run_no_wait({"size": 5 * 1024 * 1024, "key": "big"})
    small = echo.run_many([echo.create_bulk_run_item({"value": i}) for i in range(200)],
                          wait_for_result=False)
    for i, ref in enumerate(small):
        assert ref.result(timeout=60)["echo"]["value"] == i
    with pytest.raises(FailedTaskRunExceptionGroup) as failed:
        big.result(timeout=60)
    message = str(failed.value)
    assert "OutputTooLargeError" in message
    assert f"{5 * 1024 * 1024:,} bytes" in message  # the size (JSON of exactly 5 MiB)
    assert f"limit {LIMIT:,} bytes" in message
    assert "HATCHET_CLIENT_GRPC_MAX_SEND_MESSAGE_LENGTH" in message
    # Non-retryable: the task has retries=2 but ran once, and the engine recorded one attempt.
    wait_until(lambda: engine_tasks(hatchet, big.workflow_run_id)[0]["status"] == "FAILED", 30, "FAILED")
    assert [t["retryCount"] for t in engine_tasks(hatchet, big.workflow_run_id)] == [0]
    assert executions(markers, "big") == {big.workflow_run_id: 1}
    statuses = Counter(client.runs.get_status(ref.workflow_run_id) for ref in small)
    assert statuses == {"COMPLETED": 200}
    assert worker.metric("hatchet_worker_tasks_failed_total") == 1


def test_mixed_sizes_near_the_limit_are_each_delivered_once(
        big_client: Hatchet, start_worker: Any, hatchet: HatchetEngine, markers: Path) -> None:
    start_worker(APP_SLOTS="60")
    fit = payload_limit(LIMIT)
    rng = random.Random(9)
    # Many outputs that are each close to the limit finish together, so batches must be cut by size;
    # a few sit exactly at the boundary and two just above it (those must fail alone).
    sizes = [rng.randint(LIMIT // 8, fit) for _ in range(40)] + [fit, fit - 1, fit + 1, LIMIT + 10]
    sizes += [rng.randint(10, 4096) for _ in range(16)]
    rng.shuffle(sizes)
    sized = standalone(big_client, "sized")
    refs = sized.run_many([sized.create_bulk_run_item({"size": s, "key": "mixed"}) for s in sizes],
                          wait_for_result=False)
    outcomes: dict[str, str] = {}
    for size, ref in zip(sizes, refs, strict=True):
        try:
            out = ref.result(timeout=180)["sized"]
        except FailedTaskRunExceptionGroup as exc:
            assert size > fit, f"a {size}-byte output that fits was refused: {exc}"
            assert f"{size:,} bytes" in str(exc)
            outcomes[ref.workflow_run_id] = "FAILED"
        else:
            assert size <= fit, f"a {size}-byte output over the {fit}-byte limit was accepted"
            expected = "x" * (size - OUTPUT_OVERHEAD)
            assert hashlib.sha256(out["pad"].encode()).digest() == hashlib.sha256(expected.encode()).digest()
            outcomes[ref.workflow_run_id] = "COMPLETED"
    assert Counter(outcomes.values()) == {"COMPLETED": len(sizes) - 2, "FAILED": 2}
    # Once each: one execution per run on the worker, one attempt per run at the engine.
    assert executions(markers, "mixed") == dict.fromkeys(outcomes, 1)
    for run_id, status in outcomes.items():
        tasks = engine_tasks(hatchet, run_id)
        assert [(t["status"], t["retryCount"]) for t in tasks] == [(status, 0)], run_id


def test_an_item_the_engine_rejects_is_dropped_alone(client: Hatchet, start_worker: Any,
                                                     hatchet: HatchetEngine) -> None:
    """A batch holding one item the engine refuses (a malformed run id: INVALID_ARGUMENT for the
    whole call) is bisected: the refused item is dropped, every other result is recorded."""
    import asyncio

    from hatchet_worker import _channel, _events

    worker: WorkerProc = start_worker(APP_SLOTS="12")
    refs = [standalone(client, "sleepy").run_no_wait({"seconds": 60}) for _ in range(11)]
    wait_until(lambda: worker.metric("hatchet_worker_slots_in_use") == 11, 30, "11 tasks running")
    task_ids = [engine_tasks(hatchet, r.workflow_run_id)[0]["taskExternalId"] for r in refs]

    async def report() -> tuple[int, int]:
        channel = _channel.aio_channel(client.config.listener_settings())
        sender = _events.EventSender(channel, _channel.auth_metadata(hatchet.token),
                                     lambda: worker.health()[1]["worker_id"], retry_window=30)
        sender.start()
        bad = [_events.Event(_events.COMPLETED, "not-a-run-id", 0, "x", '{"by":"test"}')]
        good = [_events.Event(_events.COMPLETED, tid, 0, "x", '{"by":"test"}') for tid in task_ids]
        for event in good[:5] + bad + good[5:]:  # queued together: one cycle, one batch
            sender.put(event)
        assert await sender.flush(60)
        await sender.close()
        await channel.close()
        return sender.sent, sender.dropped

    assert asyncio.run(report()) == (11, 1)
    for ref in refs:
        assert ref.result(timeout=30) == {"sleepy": {"by": "test"}}
