"""Stream chunks: how they are encoded, and that one run's chunks are sent in order and before its result."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from hatchet_worker._streaming import StreamSender, chunk_bytes


class FakeChannel:
    """A channel whose PutStreamEvent call records requests after a random delay."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, int, bytes]] = []

    def unary_unary(self, path: str, request_serializer: Any, response_deserializer: Any) -> Any:
        assert path == "/EventsService/PutStreamEvent"

        async def call(request: Any, timeout: float, metadata: Any) -> None:
            await asyncio.sleep(random.uniform(0, 0.005))
            self.sent.append((request.task_run_external_id, request.event_index, request.message))

        return call


def test_chunks_are_utf8_text_or_bytes() -> None:
    assert chunk_bytes("ü✓") == "ü✓".encode()
    assert chunk_bytes(b"\x00raw") == b"\x00raw"
    with pytest.raises(ValueError, match="str or bytes, not dict"):
        chunk_bytes({"a": 1})  # type: ignore[arg-type]


def test_a_runs_chunks_go_out_in_order_and_settle_waits_for_them() -> None:
    channel = FakeChannel()

    async def go() -> None:
        sender = StreamSender(channel, ())
        # As the sync put_stream from async code does: sends started, not awaited.
        for i in range(30):
            asyncio.get_running_loop().create_task(sender.send("run-a", f"a{i}".encode(), i))
            asyncio.get_running_loop().create_task(sender.send("run-b", f"b{i}".encode(), i))
        await sender.settle("run-a")
        assert [idx for run, idx, _ in channel.sent if run == "run-a"] == list(range(30))
        await sender.settle("run-b")
        await sender.settle("run-c")  # nothing put: returns at once

    asyncio.run(go())
    assert [msg for run, _, msg in channel.sent if run == "run-b"] == [f"b{i}".encode() for i in range(30)]
