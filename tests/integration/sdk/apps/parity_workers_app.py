"""The workers client (``hatchet.workers``), written the way the official documentation writes it,
run under either SDK.

``APP_SDK`` picks the package (``hatchet_worker`` by default, or ``hatchet_sdk``); nothing else in this
file differs. ``t_workers`` (sync forms) and ``t_aio_workers`` (``aio_`` forms) find their own worker
with the worker's own SDK, read it, pause and unpause it, and report what each call returned.
"""

import importlib
import os
from typing import Any

sdk = importlib.import_module(os.environ.get("APP_SDK", "hatchet_worker"))
Context = sdk.Context
EmptyModel = sdk.EmptyModel
UpdateWorkerRequest = importlib.import_module(
    f"{sdk.__name__}.clients.rest.models.update_worker_request").UpdateWorkerRequest

hatchet = sdk.Hatchet()


def describe(worker: Any) -> dict[str, Any]:
    """What a Worker carries that both SDKs' workers share (not ids, times or the SDK's version)."""
    return {"model": type(worker).__name__, "name": worker.name, "type": worker.type.value,
            "status": worker.status.value if worker.status else None,
            "actions": sorted(worker.actions or []),
            "labels": sorted((label.key, label.value) for label in worker.labels or []),
            "slots": {k: v.limit for k, v in (worker.slot_config or {}).items()},
            "language": worker.runtime_info.language.value if worker.runtime_info and
            worker.runtime_info.language else None}


@hatchet.task()
def t_workers(input: EmptyModel, ctx: Context) -> dict[str, Any]:
    out: dict[str, Any] = {}
    listed = hatchet.workers.list()
    mine = [w for w in listed.rows or [] if w.metadata.id == ctx.worker_id]
    out["list"] = {"model": type(listed).__name__, "mine": len(mine),
                   "status": mine[0].status.value if mine and mine[0].status else None}
    out["get"] = describe(hatchet.workers.get(ctx.worker_id))
    paused = hatchet.workers.pause(ctx.worker_id)
    out["pause"] = [type(paused).__name__, hatchet.workers.get(ctx.worker_id).status.value]
    unpaused = hatchet.workers.unpause(ctx.worker_id)
    out["unpause"] = [type(unpaused).__name__, hatchet.workers.get(ctx.worker_id).status.value]
    return out


@hatchet.task()
async def t_aio_workers(input: EmptyModel, ctx: Context) -> dict[str, Any]:
    out: dict[str, Any] = {}
    listed = await hatchet.workers.aio_list()
    out["list"] = [w.metadata.id == ctx.worker_id for w in listed.rows or []].count(True)
    out["get"] = describe(await hatchet.workers.aio_get(ctx.worker_id))
    await hatchet.workers.aio_pause(ctx.worker_id)
    out["pause"] = (await hatchet.workers.aio_get(ctx.worker_id)).status.value
    await hatchet.workers.aio_unpause(ctx.worker_id)
    out["unpause"] = (await hatchet.workers.aio_get(ctx.worker_id)).status.value
    await hatchet.workers.aio_update(ctx.worker_id, UpdateWorkerRequest(isPaused=True))
    out["update_paused"] = hatchet.workers.get(ctx.worker_id).status.value
    updated = hatchet.workers.update(ctx.worker_id, UpdateWorkerRequest(isPaused=False))
    out["update_unpaused"] = [type(updated).__name__, hatchet.workers.get(ctx.worker_id).status.value]
    return out


if __name__ == "__main__":
    hatchet.worker("parity-workers-worker", slots=3, labels={"team": "a", "n": 3},
                   workflows=[t_workers, t_aio_workers]).start()
