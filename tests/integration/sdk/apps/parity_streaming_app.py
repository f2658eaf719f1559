"""Streaming, written the way the official documentation writes it, run under either SDK.

``APP_SDK`` picks the package (``hatchet_worker`` by default, or ``hatchet_sdk``); nothing else in this
file differs. The tasks put chunks on their run's stream; ``s_consumer`` triggers one of them and reads
its stream with the worker's own SDK's client, so both SDKs' readers are exercised too.
"""

import asyncio
import importlib
import os
import time
from collections.abc import Generator
from typing import Any

from pydantic import BaseModel

sdk = importlib.import_module(os.environ.get("APP_SDK", "hatchet_worker"))
Context = sdk.Context
EmptyModel = sdk.EmptyModel
StepRunEventType = importlib.import_module(f"{sdk.__name__}.clients.listeners.run_event_listener").StepRunEventType

hatchet = sdk.Hatchet()

TEXT = """
Happy families are all alike; every unhappy family is unhappy in its own way. Ünïcödé too: ✓.
"""


def create_chunks(content: str, n: int) -> Generator[str, None, None]:
    for i in range(0, len(content), n):
        yield content[i: i + n]


chunks = list(create_chunks(TEXT, 10))


@hatchet.task()
async def stream_task(input: EmptyModel, ctx: Context) -> None:
    await asyncio.sleep(2)  # as in the official example: let the reader subscribe first
    for chunk in chunks:
        await ctx.aio_put_stream(chunk)
        await asyncio.sleep(0.05)


@hatchet.task()
def sync_stream_task(input: EmptyModel, ctx: Context) -> dict[str, Any]:
    time.sleep(2)
    for i in range(5):
        ctx.put_stream(f"sync-{i};")
    ctx.put_stream(b"bytes;")
    return {"sent": 6}


@hatchet.task()
async def burst_stream_task(input: EmptyModel, ctx: Context) -> dict[str, Any]:
    """The sync form from async code, without pauses between puts: the chunks must still arrive in order.

    The pause after the burst is for the reader, not the SDK: the engine hands a stream chunk to a
    subscriber only after a database lookup of the chunk's run, while the run's completion ends the
    subscription on a separate path, so under load the completion could overtake the last chunks
    and they would never reach this reader (the same with either SDK; both send every chunk before
    the result).
    """
    await asyncio.sleep(2)
    for i in range(40):
        ctx.put_stream(f"{i},")
    await asyncio.sleep(3)
    return {"sent": 40}


class ConsumerOutput(BaseModel):
    chunks: list[str]
    stream_type: str


@hatchet.task(execution_timeout="1m")
async def s_consumer(input: EmptyModel, ctx: Context) -> ConsumerOutput:
    ref = await stream_task.aio_run(wait_for_result=False)
    got = [chunk async for chunk in hatchet.runs.subscribe_to_stream(ref.workflow_run_id)]
    return ConsumerOutput(chunks=got, stream_type=StepRunEventType.STEP_RUN_EVENT_TYPE_STREAM.value)


if __name__ == "__main__":
    hatchet.worker("parity-streaming-worker", slots=10,
                   workflows=[stream_task, sync_stream_task, burst_stream_task, s_consumer]).start()
