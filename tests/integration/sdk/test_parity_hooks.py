"""Lifecycle hooks, dependency injection and task defaults behave as with the official SDK (§5, §8, §9).

``apps/parity_hooks_app.py`` is one program in the official documentation's style; each test runs it
under our SDK and under the official one (``APP_SDK``) and expects the same results, and the same
records in the engine, on the real engine. The client side is always ours.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest
from pydantic import BaseModel

from harness.hatchet import HatchetEngine
from hatchet_worker import Hatchet
from hatchet_worker.exceptions import FailedTaskRunExceptionGroup

from .conftest import APP, wait_until

HOOKS = APP.parent / "parity_hooks_app.py"
SDKS = ["hatchet_worker",
        pytest.param("hatchet_sdk", marks=pytest.mark.skipif(importlib.util.find_spec("hatchet_sdk") is None,
                                                             reason="needs the official SDK"))]


class HookInput(BaseModel):
    fail: bool = False


def task_statuses(client: Hatchet, run_id: str) -> dict[str, str]:
    """What the engine recorded for each task of a run: ``{readable id: status}``."""
    details = client.runs.get_details(run_id)
    return {name: t.status.value for name, t in details.task_runs.items()}


@pytest.mark.parametrize("sdk", SDKS)
def test_on_success_task_runs_last_after_every_leaf(client: Hatchet, hatchet: HatchetEngine, start_worker: Any,
                                                    sdk: str) -> None:
    start_worker(script=HOOKS, APP_SDK=sdk)
    hooks = client.workflow(name="parity_hooks", input_validator=HookInput)
    out = hooks.run(HookInput())
    done = out["h_done-on-success"]  # the official name: the function's name + "-on-success"
    worker_id = done.pop("worker")
    # Its parents are the leaves (h_second and the durable task): it reads both, and, as for any
    # task, the engine also hands it the outputs of its ancestors (h_first).
    assert out == {"h_first": {"n": 1}, "h_second": {"n": 2}, "h_durable": {"durable": True},
                   "h_done-on-success": {"second": {"n": 2}, "durable": {"durable": True}, "sees_first": True}}
    # The action the worker registered is the one an official worker registers for the same hook,
    # so a fleet mixing both SDKs serves it.
    actions = hatchet.rest("GET", f"/api/v1/workers/{worker_id}")["actions"]
    assert client.config.apply_namespace("parity_hooks:h_done-on-success") in actions

    # A failed leaf: the run fails and the engine cancels the hook instead of running it.
    ref = hooks.run(HookInput(fail=True), wait_for_result=False)
    with pytest.raises(FailedTaskRunExceptionGroup, match="h_second failed on purpose"):
        ref.result(timeout=60)
    assert task_statuses(client, ref.workflow_run_id) == {"h_first": "COMPLETED", "h_second": "FAILED",
                                                          "h_durable": "COMPLETED",
                                                          "h_done-on-success": "CANCELLED"}

    # Declared before the workflow's only task, the hook still waits for it.
    assert client.workflow(name="parity_hooks_early").run() == {"only": {"ran": True},
                                                               "early_done-on-success": {"only": {"ran": True}}}


@pytest.mark.parametrize("sdk", SDKS)
def test_on_failure_task_is_registered_and_runs_as_the_official_one(client: Hatchet, hatchet: HatchetEngine,
                                                                   start_worker: Any, sdk: str) -> None:
    start_worker(script=HOOKS, APP_SDK=sdk)
    failing = client.workflow(name="parity_failure", input_validator=HookInput)
    # A run that succeeds does not run the hook: the engine records it as skipped.
    ok = failing.run(HookInput(), wait_for_result=False)
    assert ok.result(timeout=60) == {"f_step": {"ok": True}, "f_cleanup-on-failure": {"skipped": True}}
    assert task_statuses(client, ok.workflow_run_id) == {"f_step": "COMPLETED", "f_cleanup-on-failure": "COMPLETED"}

    ref = failing.run(HookInput(fail=True), wait_for_result=False)
    with pytest.raises(FailedTaskRunExceptionGroup, match="f_step failed on purpose"):
        ref.result(timeout=60)
    # The engine ran the hook under the official name (<fn>-on-failure) and recorded it with it.
    hook = "f_cleanup-on-failure"
    statuses = wait_until(lambda: (s := task_statuses(client, ref.workflow_run_id)).get(hook) == "COMPLETED" and s,
                          30, "the on-failure task to complete")
    assert statuses == {"f_step": "FAILED", hook: "COMPLETED"}
    output = client.runs.get_details(ref.workflow_run_id).task_runs[hook].output
    assert output is not None
    out = dict(output)
    worker_id = out.pop("worker")
    assert out == {"failed": ["f_step"], "says": True}
    # The action is the one an official worker registers, so a mixed fleet serves the same hook.
    actions = hatchet.rest("GET", f"/api/v1/workers/{worker_id}")["actions"]
    assert client.config.apply_namespace("parity_failure:f_cleanup-on-failure") in actions


@pytest.mark.parametrize("sdk", SDKS)
def test_depends_injects_sync_async_and_context_manager_dependencies(client: Hatchet, start_worker: Any,
                                                                     sdk: str) -> None:
    start_worker(script=HOOKS, APP_SDK=sdk)
    out = client.workflow(name="parity_di_async").run({"who": "me"})
    # Dependencies of dependencies are resolved first; each gets the run's input and ctx; the entered
    # value of a context manager is injected, and its exit has not run while the task runs.
    assert out == {"parity_di_async": {
        "async_dep": "async:me", "sync_dep": "sync", "async_cm": "async_cm+async:me", "sync_cm": "sync_cm+sync",
        "chained": "chained+sync_cm+sync", "alias": "sync", "cleanups_before_return": []}}
    # After the task returned, the context managers were exited, the last entered first.
    cleanups = client.workflow(name="parity_di_cleanups")
    assert cleanups.run() == {"parity_di_cleanups": {"cleanups": ["sync_cm", "sync_cm", "async_cm"]}}
    # A sync task gets them as well (async dependencies still run on the loop).
    assert client.workflow(name="parity_di_sync").run({"who": "s"}) == {
        "parity_di_sync": {"async_dep": "async:s", "sync_cm": "sync_cm+sync"}}
    assert cleanups.run() == {"parity_di_cleanups": {"cleanups": ["sync_cm"]}}
    # A dependency that raises fails the attempt with its error.
    with pytest.raises(FailedTaskRunExceptionGroup, match="broken_dep failed on purpose"):
        client.workflow(name="parity_di_broken").run()


@pytest.mark.parametrize("sdk", SDKS)
def test_retry_after_exception_is_retried_by_the_task_policy(client: Hatchet, start_worker: Any, sdk: str) -> None:
    """The pinned engine (v0.104.7) predates retry-after: with either SDK the attempt fails and the
    engine retries it per ``retries``."""
    start_worker(script=HOOKS, APP_SDK=sdk)
    assert client.workflow(name="parity_retry_after").run() == {"parity_retry_after": {"attempt": 2}}


@pytest.mark.parametrize("sdk", SDKS)
def test_task_defaults_apply_to_the_options_a_task_leaves_unset(client: Hatchet, start_worker: Any, sdk: str) -> None:
    start_worker(script=HOOKS, APP_SDK=sdk)
    # d_flaky takes the workflow's retries=2 (it succeeds on its third attempt); d_own keeps its own
    # 30 s timeout and outlives the workflow's 3 s default.
    assert client.workflow(name="parity_defaults").run() == {"d_flaky": {"attempt": 3}, "d_own": {"attempt": 1}}
    # The default execution timeout (2 s) ends a task that takes 8 s.
    ref = client.workflow(name="parity_defaults_timeout").run(wait_for_result=False)
    with pytest.raises(FailedTaskRunExceptionGroup) as failed:
        ref.result(timeout=60)
    assert task_statuses(client, ref.workflow_run_id) == {"d_slow": "FAILED"}
    assert [str(e) for e in failed.value.exceptions] == ["d_slow: Task exceeded timeout of 2s"]
