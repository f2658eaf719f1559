"""What engine v0.104.7 does with a duplicate trigger, and why ``DedupeViolationError`` is not raised with it.

The official SDK raises ``DedupeViolationError`` when a trigger is refused ``ALREADY_EXISTS`` for
another reason than an idempotency key collision. The engine's only duplicate checks are the
idempotency keys (``IdempotencyCollisionError``, tested with the filters parity app) and a child's
``(parent task, child index, child key)``: a child triggered again under the same key is answered with
the run it already started, no error. Checked here from the test process, with this SDK and, when
installed, the official one: both get the same run id back and nothing is raised.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from hatchet_worker import Hatchet, TriggerWorkflowOptions
from hatchet_worker.clients.rest.models._enums import V1TaskStatus

from .conftest import stub, wait_until


def test_a_duplicate_child_trigger_returns_the_existing_run(client: Hatchet, start_worker: Any, ns: str) -> None:
    start_worker()
    parent = stub(client, "sleepy").run_no_wait({"seconds": 60})

    def running_task() -> Any:
        details = client.runs.get(parent.workflow_run_id)
        tasks = [t for t in details.tasks if t.status == V1TaskStatus.RUNNING]
        return tasks[0] if tasks else None

    task = wait_until(running_task, 30, "the parent task RUNNING")
    child = TriggerWorkflowOptions(parent_id=parent.workflow_run_id, parent_step_run_id=task.task_external_id,
                                   child_index=0, child_key="only-once")
    echo = stub(client, "echo")
    first = echo.run_no_wait({"value": 1}, options=child).workflow_run_id
    again = echo.run_no_wait({"value": 2}, options=child).workflow_run_id
    assert again == first
    if importlib.util.find_spec("hatchet_sdk") is not None:
        import hatchet_sdk
        from hatchet_sdk.clients.admin import TriggerWorkflowOptions as OfficialOptions

        config = client.config
        official = hatchet_sdk.Hatchet(config=hatchet_sdk.ClientConfig(
            token=config.token, host_port=config.host_port, server_url=config.server_url, namespace=ns,
            tls_config=hatchet_sdk.config.ClientTLSConfig(strategy="none")))
        ref = official._client.admin.run_workflow("echo", '{"value": 3}', OfficialOptions(
            parent_id=parent.workflow_run_id, parent_step_run_id=task.task_external_id, child_index=0,
            child_key="only-once"))
        assert ref.workflow_run_id == first
    client.runs.cancel(parent.workflow_run_id)
