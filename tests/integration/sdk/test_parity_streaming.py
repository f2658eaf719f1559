"""Streaming behaves as with the official SDK (issue §6).

``apps/parity_streaming_app.py`` is one program in the official documentation's style; each test runs it
under our SDK and under the official one (``APP_SDK``). Tasks put chunks with ``aio_put_stream`` and
``put_stream`` (str and bytes, from sync and async code); a reader subscribes with
``hatchet.runs.subscribe_to_stream``: ours from the test, and the worker's own SDK's from a task. Both
must see the same chunks in the same order.
"""

from __future__ import annotations

import asyncio
import importlib.util
from typing import Any

import pytest

from hatchet_worker import Hatchet
from hatchet_worker.workflow import Standalone

from .conftest import APP, standalone

STREAMING = APP.parent / "parity_streaming_app.py"
SDKS = ["hatchet_worker",
        pytest.param("hatchet_sdk", marks=pytest.mark.skipif(importlib.util.find_spec("hatchet_sdk") is None,
                                                             reason="needs the official SDK"))]
TEXT = """
Happy families are all alike; every unhappy family is unhappy in its own way. Ünïcödé too: ✓.
"""
CHUNKS = [TEXT[i: i + 10] for i in range(0, len(TEXT), 10)]


def read_stream(client: Hatchet, task: Standalone[Any, Any]) -> list[str]:
    """Trigger ``task`` and read its stream with our client until the run ends."""
    async def go() -> list[str]:
        ref = await task.aio_run_no_wait()
        return [chunk async for chunk in client.runs.subscribe_to_stream(ref.workflow_run_id)]

    return asyncio.run(asyncio.wait_for(go(), 60))


@pytest.mark.parametrize("sdk", SDKS)
def test_chunks_arrive_in_order(client: Hatchet, start_worker: Any, sdk: str) -> None:
    start_worker(script=STREAMING, APP_SDK=sdk)
    assert read_stream(client, standalone(client, "stream_task")) == CHUNKS
    assert read_stream(client, standalone(client, "sync_stream_task")) == [
        "sync-0;", "sync-1;", "sync-2;", "sync-3;", "sync-4;", "bytes;"]
    # 40 unpaused puts: every one, in order, none twice (the task pauses after the burst; see its doc)
    assert read_stream(client, standalone(client, "burst_stream_task")) == [f"{i}," for i in range(40)]


@pytest.mark.parametrize("sdk", SDKS)
def test_the_sdks_own_reader_sees_the_same_chunks(client: Hatchet, start_worker: Any, sdk: str) -> None:
    start_worker(script=STREAMING, APP_SDK=sdk)
    out = standalone(client, "s_consumer").run()
    assert out == {"chunks": CHUNKS, "stream_type": "STEP_RUN_EVENT_TYPE_STREAM"}
