"""Batch tasks behave as with the official SDK on the real engine.

``apps/parity_batch_app.py`` declares batch tasks the way the official documentation does; each test
runs it under our SDK and under the official one (``APP_SDK``) and expects the same outputs, statuses
and engine records: runs buffered into full batches, a partial batch flushed by ``batch_max_interval``,
group keys keeping groups apart, ``batch_group_max_runs`` serialising a group's batches, one broadcast
output for every member, and the failures (a raising function, a wrong shape, one empty member output).
The client side is always ours. Every wait is bounded.
"""

from __future__ import annotations

import importlib.util
import itertools
import time
from typing import Any

import pytest

from harness.hatchet import HatchetEngine
from hatchet_worker import Hatchet
from hatchet_worker.exceptions import FailedTaskRunExceptionGroup

from .conftest import APP, standalone, stub, wait_until

BATCH = APP.parent / "parity_batch_app.py"
SDKS = ["hatchet_worker",
        pytest.param("hatchet_sdk", marks=pytest.mark.skipif(importlib.util.find_spec("hatchet_sdk") is None,
                                                             reason="needs the official SDK"))]
RESULT_TIMEOUT = 60.0


def engine_task(hatchet: HatchetEngine, run_id: str, status: str) -> dict[str, Any]:
    """The engine's REST record of the run's (only) task once it shows ``status`` (the read tables
    follow a run's end by a moment)."""
    def record() -> dict[str, Any] | None:
        task: dict[str, Any] = hatchet.rest("GET", f"/api/v1/stable/workflow-runs/{run_id}")["tasks"][0]
        return task if task["status"] == status else None
    return dict(wait_until(record, 30, f"the engine to record run {run_id} as {status}"))


def bulk(workflow: Any, items: list[dict[str, Any]]) -> list[Any]:
    """One trigger call for all the runs, so they are buffered together (an unset interval is 1 s)."""
    return list(workflow.run_many([workflow.create_bulk_run_item(i) for i in items], wait_for_result=False))


def output(ref: Any, task: str) -> Any:
    """A run's output of ``task`` (a run reference's result is ``{task: output}``)."""
    return ref.result(timeout=RESULT_TIMEOUT)[task]


def failure_text(ref: Any) -> str:
    with pytest.raises(FailedTaskRunExceptionGroup) as info:
        ref.result(timeout=RESULT_TIMEOUT)
    return str(info.value)


@pytest.mark.parametrize("sdk", SDKS)
def test_full_partial_and_broadcast_batches(client: Hatchet, hatchet: HatchetEngine, start_worker: Any,
                                            sdk: str) -> None:
    start_worker(script=BATCH, APP_SDK=sdk)
    # Six runs of a batch task of size 3 (no interval): two full batches, each run gets its own output.
    full = stub(client, "parity_batch_full")
    refs = bulk(full, [{"n": n} for n in range(6)])
    outs = [output(r, "double") for r in refs]
    assert [(o["n"], o["doubled"]) for o in outs] == [(n, 2 * n) for n in range(6)]
    assert all(o["size"] == 3 and o["n"] in o["members"] for o in outs)
    batches = {tuple(o["members"]) for o in outs}
    assert len(batches) == 2 and sorted(n for b in batches for n in b) == list(range(6))
    # The engine recorded each member as started by the worker, completed with its own output, once.
    for ref, out in zip(refs, outs, strict=True):
        task = engine_task(hatchet, ref.workflow_run_id, "COMPLETED")
        assert (task["output"], task["retryCount"], task["errorMessage"]) == (out, 0, "")
        assert task["startedAt"] and task["startedAt"] <= task["finishedAt"]

    # Two runs of a batch task of size 10 with a 1 s interval: flushed by the interval, together.
    partial = standalone(client, "parity_batch_partial")
    started = time.time()
    prefs = bulk(partial, [{"n": 7}, {"n": 8}])
    pouts = [output(r, "parity_batch_partial") for r in prefs]
    assert [(o["n"], o["members"], o["size"]) for o in pouts] == [(7, [7, 8], 2), (8, [7, 8], 2)]
    assert pouts[0]["at"] - started < 20  # flushed by the interval, long before anything else would

    # Broadcast: the three members of one batch all get the function's single output.
    bcast = standalone(client, "parity_batch_broadcast")
    brefs = bulk(bcast, [{"n": n} for n in (1, 2, 3)])
    bouts = [output(r, "parity_batch_broadcast") for r in brefs]
    assert bouts == [{"total": 6, "members": [1, 2, 3], "size": 3, "groups": ["g"]}] * 3


@pytest.mark.parametrize("sdk", SDKS)
def test_group_keys_and_group_max_runs(client: Hatchet, start_worker: Any, sdk: str) -> None:
    start_worker(script=BATCH, APP_SDK=sdk)
    # Runs of groups a and b, interleaved: no batch mixes groups, and with size 2 each group fills one.
    grouped = standalone(client, "parity_batch_grouped")
    items = [{"n": 1, "group": "a"}, {"n": 2, "group": "b"}, {"n": 3, "group": "a"}, {"n": 4, "group": "b"}]
    outs = [output(r, "parity_batch_grouped") for r in bulk(grouped, items)]
    assert [o["n"] for o in outs] == [1, 2, 3, 4]
    assert all(o["groups"] == [o["group"]] for o in outs), outs
    assert [o["members"] for o in outs] == [[1, 3], [2, 4], [1, 3], [2, 4]]

    # batch_group_max_runs=1 with one run per batch: a group's batches run one after the other while
    # another group's batch runs alongside.
    serial = standalone(client, "parity_batch_one_at_a_time")
    refs = [serial.run_no_wait({"n": n, "group": g, "seconds": 1.5})
            for n, g in ((1, "x"), (2, "x"), (3, "x"), (4, "y"))]
    outs = [output(r, "parity_batch_one_at_a_time") for r in refs]
    xs = sorted((o for o in outs if o["group"] == "x"), key=lambda o: o["start"])
    for earlier, later in itertools.pairwise(xs):
        assert later["start"] >= earlier["end"] - 0.05, xs  # never two x batches at once
    y = outs[3]
    assert y["start"] < xs[-1]["start"]  # y did not queue behind all of x


@pytest.mark.parametrize("sdk", SDKS)
def test_failures_fail_every_member_or_only_the_empty_one(client: Hatchet, hatchet: HatchetEngine,
                                                          start_worker: Any, sdk: str) -> None:
    start_worker(script=BATCH, APP_SDK=sdk)
    failing = standalone(client, "parity_batch_failing")
    runs = {mode: bulk(failing, [{"n": n, "mode": mode} for n in (0, 1)])
            for mode in ("raise", "list", "extra", "empty")}
    # The function raised: both members failed with its error.
    for ref in runs["raise"]:
        assert "batch boom" in failure_text(ref)
    # A list instead of a dict, or an output for a run that is not a member: every member fails.
    for ref in runs["list"]:
        assert "must return a dict of outputs" in failure_text(ref)
    for ref in runs["extra"]:
        assert "outputs for" in failure_text(ref)
    # An empty output fails that member alone; the other member completes.
    empty, fine = runs["empty"]
    assert "with empty output" in failure_text(empty)
    assert output(fine, "parity_batch_failing") == {"n": 1}
    failed = [r for mode in ("raise", "list", "extra") for r in runs[mode]] + [empty]
    assert [client.runs.get_status(r.workflow_run_id) for r in failed] == ["FAILED"] * len(failed)
    # As the engine recorded it: the worker started the member, which failed once (no retries), with the
    # function's error.
    task = engine_task(hatchet, runs["raise"][0].workflow_run_id, "FAILED")
    assert task["startedAt"] and task["retryCount"] == 0 and "batch boom" in task["errorMessage"], task
