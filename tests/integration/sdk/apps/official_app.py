"""A worker written with the official SDK (the interoperability reference; test-only)."""

from __future__ import annotations

import json
import sys
from typing import Any

from hatchet_sdk import Context, EmptyModel, Hatchet

hatchet = Hatchet()


@hatchet.task(name="official_echo")
def official_echo(input: EmptyModel, ctx: Context) -> dict[str, Any]:
    return {"by": "official", "input": input.model_dump(), "retry_count": ctx.retry_count}


def trigger(name: str, payload: str) -> None:
    """Run the workflow `name` (served by any worker) and print its result as JSON."""
    result = hatchet.workflow(name=name).run(EmptyModel(**json.loads(payload)))
    print(json.dumps(result))


if __name__ == "__main__":
    if len(sys.argv) > 1:
        trigger(sys.argv[1], sys.argv[2])
    else:
        hatchet.worker("official-worker", workflows=[official_echo]).start()
