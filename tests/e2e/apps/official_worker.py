"""A worker on the official hatchet-sdk, for the test-only official-worker image (never shipped).

Its tasks return the pod's name, so a test can tell that a pod, and which one, executed a run.
"""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Any

from hatchet_sdk import Context, Hatchet
from pydantic import BaseModel

hatchet = Hatchet()


class NapInput(BaseModel):
    seconds: float = 0.1


@hatchet.task(name="official_nap", input_validator=NapInput, execution_timeout="5m")
async def official_nap(input: NapInput, ctx: Context) -> dict[str, Any]:
    await asyncio.sleep(input.seconds)
    return {"pod": os.environ.get("HOSTNAME") or socket.gethostname(), "retry_count": ctx.retry_count}


if __name__ == "__main__":
    hatchet.worker("official-worker", slots=10, workflows=[official_nap]).start()
