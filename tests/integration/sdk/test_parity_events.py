"""``hatchet.event.push(options=...)`` and ``bulk_push`` behave as in the official SDK (issue §10).

``apps/parity_events_app.py`` is one program in the official documentation's style; the test runs it
under our SDK and under the official one (``APP_SDK``). Its tasks push events with every option
(``PushEventOptions`` and the keywords that override it) and in bulk (``BulkPushEventWithMetadata``),
sync and ``aio_``; both SDKs must return the same ``Event`` values, and the runs the events trigger
must see the same input, metadata and priority.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest

from harness.hatchet import HatchetEngine
from hatchet_worker import Hatchet

from .conftest import APP, standalone

EVENTS = APP.parent / "parity_events_app.py"
SDKS = ["hatchet_worker",
        pytest.param("hatchet_sdk", marks=pytest.mark.skipif(importlib.util.find_spec("hatchet_sdk") is None,
                                                             reason="needs the official SDK"))]


@pytest.mark.parametrize("sdk", SDKS)
def test_event_push_options_and_bulk(client: Hatchet, hatchet: HatchetEngine, start_worker: Any, sdk: str) -> None:
    start_worker(script=EVENTS, APP_SDK=sdk)
    out = standalone(client, "t_push").run()
    key = client.config.apply_namespace("parity-ev:go")
    source = {"hatchet__source_workflow_run_id": True, "hatchet__source_step_run_id": True}

    def event(n: int, meta: dict[str, str]) -> dict[str, Any]:
        # The engine answers without the scope (v0.104.7), the same for both SDKs.
        return {"model": "Event", "key": key, "n": n, "meta": {**meta, **source}, "scope": None,
                "seen_at": "datetime"}

    def run(n: int, meta: dict[str, str], priority: int) -> list[dict[str, Any]]:
        return [{"n": n, "meta": {**meta, "traceparent": True}, "priority": priority}]

    assert out == {
        "warned": ["DeprecationWarning"],
        "events": [event(1, {"src": "options"}), event(2, {"src": "keyword"}), event(3, {}), event(4, {"b": "1"}),
                   event(5, {})],
        "bulk": "list",
        # options' priority applies, the keyword priority and metadata replace options' ones
        "runs": [run(1, {"src": "options"}, 3), run(2, {"src": "keyword"}, 1), run(3, {}, 1), run(4, {"b": "1"}, 2),
                 run(5, {}, 1)],
    }
    aio = standalone(client, "t_aio_push").run()
    assert aio == {"events": [event(6, {"a": "x"}), event(7, {})],
                   "runs": [run(6, {"a": "x"}, 2), run(7, {}, 1)]}
