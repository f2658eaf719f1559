"""A worker written with the official hatchet-sdk (test reference only): proves the engine works."""

from __future__ import annotations

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
    hatchet.worker("harness-reference-worker", slots=2, workflows=[echo]).start()
