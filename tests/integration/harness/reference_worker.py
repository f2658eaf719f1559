"""A worker written with the official hatchet-sdk (test reference only): proves the engine works.

Run as a program only (never imported by tests): the official SDK registers its protobuf messages in
the process-wide descriptor pool, so it stays out of the test process.

    python reference_worker.py            # run the worker
    python reference_worker.py trigger N  # run the workflow with input n=N, print the output as JSON
"""

from __future__ import annotations

import json
import sys

from hatchet_sdk import Context, Hatchet
from pydantic import BaseModel

hatchet = Hatchet()


class EchoInput(BaseModel):
    n: int


echo = hatchet.workflow(name="harness-reference-echo", input_validator=EchoInput)


@echo.task()
def double(input: EchoInput, ctx: Context) -> dict[str, int]:
    return {"doubled": input.n * 2}


if __name__ == "__main__":
    if sys.argv[1:2] == ["trigger"]:
        print(json.dumps(echo.run(EchoInput(n=int(sys.argv[2])))))
    else:
        hatchet.worker("harness-reference-worker", slots=2, workflows=[echo]).start()
