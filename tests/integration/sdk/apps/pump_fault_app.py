"""``app.py`` with a fault injected into the worker's IPC pump (test-only, never in the product).

When the marker file ``$APP_MARKERS/break-pump`` exists, the worker process stops taking frames
from its listener subprocess at the next read: ``stall`` blocks that read forever (a pump wedged
on a lost wake-up), ``crash`` raises (a pump that died of a bug). The listener subprocess is a
separate process and is untouched: it keeps its engine session and heartbeats, and the engine
keeps assigning tasks to this worker, which is the zombie a liveness probe has to catch.
"""

from __future__ import annotations

import asyncio
from typing import Any

import app

from hatchet_worker import _ipc

TRIGGER = app.MARKERS / "break-pump"
_read_frame = _ipc.read_frame


async def faulty_read_frame(reader: asyncio.StreamReader) -> Any:
    if TRIGGER.exists():
        if TRIGGER.read_text().strip() == "crash":
            raise RuntimeError("injected pump fault")
        await asyncio.Event().wait()
    return await _read_frame(reader)


_ipc.read_frame = faulty_read_frame  # the worker reads every listener frame through this name

if __name__ == "__main__":
    app.main()
