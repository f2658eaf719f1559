"""What ``hatchet.workers`` sends and how it reads the engine's answer (checked on the real engine too)."""

from __future__ import annotations

from hatchet_worker.clients.rest.models._enums import WorkerStatus
from hatchet_worker.clients.rest.models.update_worker_request import UpdateWorkerRequest
from hatchet_worker.clients.rest.models.worker import Worker
from hatchet_worker.clients.rest.models.worker_list import WorkerList

META = {"id": "w", "createdAt": "2026-01-02T03:04:05Z", "updatedAt": "2026-01-02T03:04:05Z"}


def test_the_update_body_is_the_engine_field_and_nothing_else() -> None:
    assert UpdateWorkerRequest(isPaused=True).model_dump(by_alias=True, exclude_none=True) == {"isPaused": True}
    assert UpdateWorkerRequest().model_dump(by_alias=True, exclude_none=True) == {}


def test_a_worker_reads_by_alias_with_text_label_values_and_slot_config() -> None:
    worker = Worker.model_validate({
        "metadata": META, "name": "n", "type": "SELFHOSTED", "status": "PAUSED", "actions": ["wf:t"],
        "labels": [{"metadata": META, "key": "n", "value": "3"}],
        "slotConfig": {"default": {"available": 2, "limit": 3}},
        "runtimeInfo": {"sdkVersion": "1", "language": "PYTHON"}, "registeredWorkflows": [{"id": "i", "name": "wf"}]})
    assert worker.status is WorkerStatus.PAUSED and worker.labels and worker.labels[0].value == "3"
    assert worker.slot_config and worker.slot_config["default"].limit == 3
    assert worker.runtime_info and worker.runtime_info.language and worker.runtime_info.language.value == "PYTHON"
    # The PATCH answer (the engine's older transformer) has no labels and null actions.
    assert Worker.model_validate({"metadata": META, "name": "n", "type": "SELFHOSTED", "actions": None}).labels is None
    assert WorkerList.model_validate({"pagination": {"current_page": 1, "next_page": 1, "num_pages": 1},
                                      "rows": []}).rows == []
