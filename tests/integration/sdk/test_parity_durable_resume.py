"""A durable task survives its worker (issue 10 §2): same program, either SDK, the real engine.

``d_resume`` (``apps/parity_durable_app.py``) writes a marker each time its body starts, spawns a child
that writes a marker each time it executes, then sleeps durably for 15 s. The test SIGKILLs the worker
(the process and its children: both SDKs run a listener subprocess) during that sleep and starts a
second one. The engine gives the task to the second worker, whose task starts over from the top:
the child, recorded in the task's event log, is not spawned again (its marker file, written by the
child itself, has one line), and the sleep, recorded too, ends at its original deadline rather than
15 s after the restart.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from hatchet_worker import Hatchet

from .conftest import APP, WorkerProc, standalone, wait_until

DURABLE = APP.parent / "parity_durable_app.py"
SDKS = ["hatchet_worker",
        pytest.param("hatchet_sdk", marks=pytest.mark.skipif(importlib.util.find_spec("hatchet_sdk") is None,
                                                             reason="needs the official SDK"))]
SLEEP = 15.0


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants, parents first."""
    out = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            out += process_tree(int(child))
    return out


def kill_worker(proc: WorkerProc) -> None:
    for pid in process_tree(proc.popen.pid):
        os.kill(pid, signal.SIGKILL)
    proc.popen.wait(10)


@pytest.mark.parametrize("sdk", SDKS)
def test_durable_task_resumes_on_another_worker_without_repeating_recorded_steps(
        client: Hatchet, start_worker: Any, markers: Path, sdk: str) -> None:
    first = start_worker(script=DURABLE, APP_SDK=sdk)
    started = time.monotonic()
    ref = standalone(client, "d_resume").run({"case": "r"}, wait_for_result=False)
    wait_until(lambda: (markers / "child-r").exists(), 30, "the child to run")
    time.sleep(2.0)  # the task records its sleep right after the child's result
    kill_worker(first)
    killed = time.monotonic() - started

    start_worker(script=DURABLE, APP_SDK=sdk)
    out = ref.result(timeout=180)
    done = time.monotonic() - started
    finished_at = time.time()

    bodies = (markers / "body-r").read_text().split("\n")
    starts = [line for line in bodies if line and line != "after-sleep"]
    assert out["child"] == {"child": "r"} and out["slept"] == SLEEP, out
    assert len((markers / "child-r").read_text().split()) == 1  # the child executed once
    assert bodies.count("after-sleep") == 1
    assert len(starts) == 2 and starts[0].split()[0] != starts[1].split()[0], starts  # two processes
    assert out["pid"] == int(starts[1].split()[0])
    # The second start did not sleep 15 s again: the recorded sleep's deadline had passed.
    resumed_for = finished_at - float(starts[1].split()[1])
    assert resumed_for < SLEEP - 5, resumed_for
    print(f"{sdk}: killed at {killed:.1f} s, resumed at {done - resumed_for:.1f} s, done at {done:.1f} s, "
          f"invocation {out['invocation']}")


@pytest.mark.parametrize("sdk", SDKS)
def test_waiting_durable_task_is_evicted_after_its_ttl_and_resumes_when_the_wait_is_met(
        client: Hatchet, start_worker: Any, markers: Path, sdk: str) -> None:
    """``EvictionPolicy(ttl=2 s)``: the worker gives the waiting task back to the engine; the event
    starts it again (invocation 2), and it returns the event's payload."""
    start_worker(script=DURABLE, APP_SDK=sdk)
    ref = standalone(client, "d_evict").run({"case": "v"}, wait_for_result=False)
    wait_until(lambda: (markers / "evict-v").exists(), 30, "the durable task to start")
    time.sleep(6.0)  # ttl 2 s, checked every second
    client.event.push("parity-d:evict", {"case": "v", "n": 1})
    assert ref.result(timeout=60) == {"payload": {"case": "v", "n": 1}, "invocation": 2}
    starts = (markers / "evict-v").read_text().split("\n")[:-1]
    assert [line.split()[1] for line in starts] == ["1", "2"], starts


@pytest.mark.parametrize("sdk", SDKS)
def test_shutdown_evicts_a_waiting_durable_task_which_resumes_on_another_worker(
        client: Hatchet, start_worker: Any, markers: Path, sdk: str) -> None:
    """``eviction_policy=None`` keeps a waiting task on its worker, but SIGTERM evicts it: the worker
    exits without waiting for the drain timeout, and the task resumes elsewhere once its event comes."""
    first = start_worker(script=DURABLE, APP_SDK=sdk)
    ref = standalone(client, "d_hold").run({"case": "h"}, wait_for_result=False)
    wait_until(lambda: (markers / "hold-h").exists(), 30, "the durable task to start")
    time.sleep(2.0)
    signalled = time.monotonic()
    first.signal(signal.SIGTERM)
    first.wait_exit(60)
    exited = time.monotonic() - signalled
    start_worker(script=DURABLE, APP_SDK=sdk)
    client.event.push("parity-d:hold", {"case": "h"})
    out = ref.result(timeout=90)
    starts = [line.split() for line in (markers / "hold-h").read_text().split("\n")[:-1]]
    # The body ran once per worker. The engine counts an invocation per assignment; in 2 of 8 runs
    # with this SDK the second worker's start was invocation 4 (no body started for 2 and 3, not
    # explained yet); the result was the same.
    assert out["payload"] == {"case": "h"} and out["invocation"] >= 2, (out, starts)
    assert len(starts) == 2 and starts[0] == [starts[0][0], "1"], starts
    assert starts[1][0] != starts[0][0] and starts[1][1] == str(out["invocation"]), starts
    print(f"{sdk}: exited {exited:.1f} s after SIGTERM")
