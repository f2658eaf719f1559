"""Durable tasks behave as in the official SDK (issue 10 §2), against the real engine.

``apps/parity_durable_app.py`` is one program in the official documentation's style; each test runs
it under our SDK and under the official one (``APP_SDK``) and expects the same observable results:
what ``aio_wait_for`` returns for or-groups and plain condition lists, ``aio_sleep_for`` /
``aio_sleep_until`` / ``aio_now``, event waits that honour their scope and lookback window, and
children spawned from a durable task.
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path
from typing import Any

import pytest

from hatchet_worker import Hatchet

from .conftest import APP, standalone, wait_until

DURABLE = APP.parent / "parity_durable_app.py"
SDKS = ["hatchet_worker",
        pytest.param("hatchet_sdk", marks=pytest.mark.skipif(importlib.util.find_spec("hatchet_sdk") is None,
                                                             reason="needs the official SDK"))]


def waiting(markers: Path, case: str) -> None:
    wait_until(lambda: (markers / f"waiting-{case}").exists(), 30, "the durable task to start waiting")
    time.sleep(1.5)  # the wait is registered just after the marker is written


@pytest.mark.parametrize("sdk", SDKS)
def test_wait_for_or_groups_and_sleeps(client: Hatchet, start_worker: Any, markers: Path, sdk: str) -> None:
    start_worker(script=DURABLE, APP_SDK=sdk)
    or_sleep = standalone(client, "d_or_sleep").run({}, wait_for_result=False)
    or_event = standalone(client, "d_or_event").run({"case": "e1"}, wait_for_result=False)
    every = standalone(client, "d_all").run({"case": "e2"}, wait_for_result=False)
    sleeps = standalone(client, "d_sleeps").run({}, wait_for_result=False)

    waiting(markers, "e1")
    client.event.push("parity-d:go", {"case": "e1", "n": 1})  # fails the expression
    client.event.push("parity-d:go", {"case": "e1", "n": 2})
    waiting(markers, "e2")
    client.event.push("parity-d:go", {"case": "e2", "n": 7})

    out = or_sleep.result(timeout=60)
    assert out["result"] == {"CREATE": {"sleep:2s": [{"sleep_duration": "2s"}]}}, out
    assert 1.5 <= out["waited"] < 15
    # An or-group met by its event: the event's payload under the event's readable key.
    assert or_event.result(timeout=60) == {"result": {"CREATE": {"parity-d:go": [{"case": "e1", "n": 2}]}}}
    # Separate conditions must all be met; each match is reported under its key.
    assert every.result(timeout=60) == {"result": {"CREATE": {
        "sleep:1s": [{"sleep_duration": "1s"}], "parity-d:go": [{"case": "e2", "n": 7}]}}}
    s = sleeps.result(timeout=60)
    assert s["slept"] == ["SleepResult", 2.0] and s["now"] == ["datetime", True, False], s
    assert s["until"][0] == "SleepResult" and 1.0 <= s["until"][1] <= 3.0, s
    assert 1.5 <= s["first"] < 10 and s["total"] >= 4.0, s


@pytest.mark.parametrize("sdk", SDKS)
def test_event_waits_honour_scope_and_lookback(client: Hatchet, start_worker: Any, markers: Path,
                                               sdk: str) -> None:
    start_worker(script=DURABLE, APP_SDK=sdk)
    # Pushed before any wait exists: only a lookback window can find it.
    client.event.push("parity-d:early", {"early": True}, scope="lb")
    time.sleep(1.0)
    lookback = standalone(client, "d_lookback").run({"scope": "lb"}, wait_for_result=False)
    scoped = standalone(client, "d_scoped").run({"case": "s1", "scope": "mine"}, wait_for_result=False)
    waiting(markers, "s1")
    client.event.push("parity-d:scoped", {"case": "s1", "n": 1}, scope="other")
    time.sleep(4.0)  # time enough for the engine to match it, were scopes ignored
    assert client.runs.get_status(scoped.workflow_run_id).name == "RUNNING"
    client.event.push("parity-d:scoped", {"case": "s1", "n": 2}, scope="mine")
    assert scoped.result(timeout=60) == {"type": "Payment", "n": 2}
    out = lookback.result(timeout=60)
    assert out["payload"] == {"early": True} and out["waited"] < 10, out
    bad = standalone(client, "d_bad_args").run()
    both = "Both `lookback_window` and scope must be provided together"
    assert bad == {"scope": both, "lookback": both}


@pytest.mark.parametrize("sdk", SDKS)
def test_children_spawned_from_a_durable_task(client: Hatchet, start_worker: Any, markers: Path,
                                              sdk: str) -> None:
    start_worker(script=DURABLE, APP_SDK=sdk)
    out = standalone(client, "d_spawn").run({"case": "k"})
    assert out == {"one": {"child": "k-a"}, "many": [{"child": f"k-{i}"} for i in range(3)],
                   "ref": "TaskRunRef", "ref_result": {"child": "k-ref"}}, out
    for case in ("k-a", "k-0", "k-1", "k-2", "k-ref"):
        assert len((markers / f"child-{case}").read_text().split()) == 1
