"""A worker on this project's SDK whose IPC pump can be broken on demand (the real-pod probe test;
test-only, mounted from a ConfigMap into the example-worker image).

Once ``/tmp/break-pump`` exists in the container, the worker process stops reading frames from its
listener subprocess (the next read blocks forever), while the listener keeps its engine session and
heartbeats: the zombie the liveness probe (``/livez``) has to get restarted. Tasks return the pod's
name and an id of this process, so a test can tell which process executed a run.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from hatchet_worker import Context, Hatchet, _ipc

TRIGGER = Path("/tmp/break-pump")
TRIGGER.unlink(missing_ok=True)  # /tmp outlives a container restart: the new process starts sound
PROCESS = uuid.uuid4().hex
Path("/tmp/process-id").write_text(PROCESS)
_read_frame = _ipc.read_frame


async def faulty_read_frame(reader: asyncio.StreamReader) -> Any:
    if TRIGGER.exists():
        await asyncio.Event().wait()
    return await _read_frame(reader)


_ipc.read_frame = faulty_read_frame  # the worker reads every listener frame through this name
hatchet = Hatchet()


class NapInput(BaseModel):
    seconds: float = 0.1


@hatchet.task(name="pump_nap", input_validator=NapInput, execution_timeout="5m")
async def pump_nap(input: NapInput, ctx: Context) -> dict[str, Any]:
    await asyncio.sleep(input.seconds)
    return {"pod": os.environ.get("HOSTNAME", ""), "process": PROCESS}


if __name__ == "__main__":
    hatchet.worker("pump-fault", slots=10, workflows=[pump_nap]).start()
