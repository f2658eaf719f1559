"""The operator's liveness: it fails when kopf's task has died or the watch pipeline is stuck."""

from __future__ import annotations

import asyncio
import json

from hatchet_operator import runtime


def test_liveness_fails_when_the_kopf_task_exits() -> None:
    async def scenario() -> tuple[int, dict[str, object], int]:
        health = runtime.Health(elector=None)
        ok = await health.livez(None)  # type: ignore[arg-type]

        async def crash() -> None:
            raise RuntimeError("watch stream died")

        health.kopf_task = asyncio.create_task(crash())
        await asyncio.wait({health.kopf_task})
        bad = await health.livez(None)  # type: ignore[arg-type]
        return ok.status, json.loads(bad.text), bad.status

    ok, body, code = asyncio.run(scenario())
    assert ok == 200
    assert code == 503 and body["problems"] == ["the kopf operator task has exited"]


def test_no_diff_base_is_built() -> None:
    storage = runtime.NoDiffBase()
    assert storage.build(body={"spec": {"a": 1}}) == {}  # type: ignore[arg-type]
    assert storage.fetch(body={}) is None  # type: ignore[arg-type]
    settings = runtime.kopf_settings(runtime.OperatorSettings())
    assert isinstance(settings.persistence.diffbase_storage, runtime.NoDiffBase)
    assert settings.scanning.disabled
