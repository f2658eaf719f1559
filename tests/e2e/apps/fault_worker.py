"""The worker the real-pod fault tests run (mounted from a ConfigMap into the example-worker image).

Each execution of a task inserts (run id, attempt, pod, worker id, batch) into ``executions`` of a
PostgreSQL the test runs in the cluster when it starts, and into ``finishes`` just before it returns,
so the test counts executions from a record the worker cannot fool. Tasks sleep ``seconds``, or until
the epoch time ``until``; one task is async, one sync (on the SDK's task threads).
"""

from __future__ import annotations

import asyncio
import os
import re
import time
import uuid
from typing import Any

import pgwire
from pydantic import BaseModel

from hatchet_worker import Context, Hatchet

POD = os.environ.get("HATCHET_KUBE_POD_NAME", "unknown")
# Not LEDGER_*: the kubelet sets LEDGER_PORT etc. for the Service named ledger.
LEDGER = (os.environ["FAULT_LEDGER_HOST"], 5432)
SAFE = re.compile(r"^[A-Za-z0-9._-]+$")

hatchet = Hatchet()


class SleepInput(BaseModel):
    seconds: float = 0.0
    until: float | None = None
    batch: int = 0

    def duration(self) -> float:
        return max(0.0, self.until - time.time()) if self.until is not None else self.seconds


def record(table: str, ctx: Context, batch: int) -> None:
    """One row per execution. Retried for up to about 30 s on any failure (the ledger is the test's
    instrument, not a fault target: a refused or dropped connection must not fail the task under
    test); a retry after a write that did land is absorbed by the row's unique nonce."""
    values = (ctx.workflow_run_id, POD, ctx.worker_id)
    if not all(SAFE.match(v) for v in values):
        raise ValueError(f"unexpected characters in {values!r}")
    sql = (f"INSERT INTO {table} (run_id, attempt, pod, worker_id, batch, nonce) VALUES "
           f"('{values[0]}', {int(ctx.retry_count)}, '{values[1]}', '{values[2]}', {int(batch)}, "
           f"'{uuid.uuid4().hex}') ON CONFLICT (nonce) DO NOTHING")
    for attempt in range(60):
        try:
            pgwire.execute(*LEDGER, "postgres", "postgres", sql)
            return
        except (OSError, pgwire.PgError):
            if attempt == 59:
                raise
            time.sleep(0.5)


# One retry: an assignment the engine never delivers (see test_e2e_faults.lost_deliveries) is only
# recovered by the execution timeout and a retry; any other retry fails the tests that use these.
@hatchet.task(name="fault-sleep", input_validator=SleepInput, execution_timeout="2m", retries=1)
async def fault_sleep(input: SleepInput, ctx: Context) -> dict[str, Any]:
    await asyncio.to_thread(record, "executions", ctx, input.batch)
    await asyncio.sleep(input.duration())
    await asyncio.to_thread(record, "finishes", ctx, input.batch)
    return {"pod": POD}


@hatchet.task(name="fault-sleep-sync", input_validator=SleepInput, execution_timeout="2m", retries=1)
def fault_sleep_sync(input: SleepInput, ctx: Context) -> dict[str, Any]:
    record("executions", ctx, input.batch)
    time.sleep(input.duration())
    record("finishes", ctx, input.batch)
    return {"pod": POD}


if __name__ == "__main__":
    hatchet.worker("fault-worker", workflows=[fault_sleep, fault_sleep_sync]).start()
