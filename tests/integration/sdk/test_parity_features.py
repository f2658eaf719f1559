"""``hatchet.workflows``, ``.metrics``, ``.logs``, ``.tenant``, ``.cel``, ``.webhooks`` and ``.stubs`` answer as the
same engine and the same data.

A worker of ``apps/app.py`` registers its workflows in the test's namespace; the official SDK's
method is called in a subprocess (the test process never imports ``hatchet_sdk``) and its model,
dumped to JSON, must equal ours, field for field.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import subprocess
import sys
import time
import urllib.error
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from hatchet_worker import Hatchet

from .conftest import wait_until

pytestmark = pytest.mark.skipif(importlib.util.find_spec("hatchet_sdk") is None, reason="needs the official SDK")

OFFICIAL = """
import asyncio, json, sys
from hatchet_sdk import Hatchet
import hatchet_sdk.clients.rest.models as models
feature, method, args = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
# {"__model__": name, ...fields}: that official model (the webhooks' auth arguments)
if feature == "stubs":  # a stub of the app's task "echo" (or workflow "dag"), run; its output dumped
    from pydantic import BaseModel
    from typing import Any
    class EchoInput(BaseModel):
        value: Any = None
    class EchoOut(BaseModel):
        value: Any = None
        tag: str
    stubs = Hatchet().stubs
    if method == "task":
        print(json.dumps(stubs.task(name="echo", input_validator=EchoInput, output_validator=EchoOut)
                         .run(EchoInput(value=args[0])).model_dump(mode="json")))
    else:
        print(json.dumps(stubs.workflow(name="dag", input_validator=EchoInput).run(EchoInput(value=args[0]))))
    sys.exit(0)
args = [getattr(models, a.pop("__model__"))(**a) if isinstance(a, dict) and "__model__" in a else a for a in args]
client = Hatchet()
for part in feature.split("."):
    client = getattr(client, part)
result = getattr(client, method)(*args)
if asyncio.iscoroutine(result):
    result = asyncio.run(result)
def dump(value):
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    return {k: dump(v) for k, v in value.items()} if isinstance(value, dict) else value
print(json.dumps(dump(result)))
"""


@pytest.fixture
def official(worker_env: Callable[..., dict[str, str]]) -> Callable[..., Any]:
    """``official("workflows", "list", ...)``: the official SDK's answer, as JSON."""
    def call(feature: str, method: str, *args: Any, fails: bool = False) -> Any:
        """With ``fails``, the call must raise; returns the end of its traceback."""
        proc = subprocess.run([sys.executable, "-c", OFFICIAL, feature, method, json.dumps(args)],
                              capture_output=True, text=True, timeout=120, env=worker_env())
        if fails:
            assert proc.returncode != 0, proc.stdout[-3000:]
            return proc.stderr[-3000:]
        assert proc.returncode == 0, proc.stderr[-3000:]
        return json.loads(proc.stdout.strip().splitlines()[-1])
    return call


def dump(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    return {k: dump(v) for k, v in value.items()} if isinstance(value, dict) else value


def same_when_still(mine: Callable[[], Any], theirs: Callable[[], Any], tries: int = 10) -> None:
    """``mine() == theirs()`` for a read of state other work may change: mine is read before and after
    theirs, and a comparison counts only when the two readings of mine agree (the state stood still)."""
    moving = []
    for _ in range(tries):
        before, answer, after = mine(), theirs(), mine()
        if before == after:
            assert before == answer
            return
        moving.append((before, after))
        time.sleep(1.0)
    raise AssertionError(f"the state never stood still across {tries} reads: {moving[-1]}")


def test_workflows_client(client: Hatchet, start_worker: Any, official: Callable[..., Any]) -> None:
    start_worker()
    ns = client.config.apply_namespace
    mine = wait_until(lambda: [w for w in client.workflows.list().rows or [] if w.name.startswith(ns(""))],
                      30, "the app's workflows are listed")
    assert {ns("echo"), ns("dag")} <= {w.name for w in mine}

    # list: all, by name (namespaced by both SDKs), and a page.
    assert dump(client.workflows.list()) == official("workflows", "list")
    by_name = client.workflows.list(workflow_name="dag")
    assert [w.name for w in by_name.rows or []] == [ns("dag")]
    assert dump(by_name) == official("workflows", "list", "dag")
    assert dump(client.workflows.list(limit=2, offset=1)) == official("workflows", "list", None, 2, 1)
    assert dump(asyncio.run(client.workflows.aio_list("dag"))) == official("workflows", "aio_list", "dag")

    # get and get_version (latest, and by the version's id), sync and aio_.
    dag_id = (by_name.rows or [])[0].metadata.id
    got = client.workflows.get(dag_id)
    assert got.name == ns("dag") and got.versions
    assert dump(got) == official("workflows", "get", dag_id)
    assert dump(asyncio.run(client.workflows.aio_get(dag_id))) == official("workflows", "aio_get", dag_id)
    latest = client.workflows.get_version(dag_id)
    # Engine v0.104.7 answers an empty workflowId and no jobs here (to both SDKs); the declaration
    # is in workflow_config, as it was registered.
    assert latest.metadata.id == got.versions[0].metadata.id and latest.workflow and latest.workflow.name == ns("dag")
    tasks = (latest.workflow_config or {})["Tasks"]
    assert sorted(t["ReadableId"] for t in tasks) == ["first", "join", "second"]
    assert latest.input_json_schema and latest.input_json_schema["title"] == "EchoInput"
    assert dump(latest) == official("workflows", "get_version", dag_id)
    version_id = got.versions[0].metadata.id
    assert dump(client.workflows.get_version(dag_id, version_id)) == official("workflows", "get_version", dag_id,
                                                                             version_id)
    assert dump(asyncio.run(client.workflows.aio_get_version(dag_id))) == official("workflows",
                                                                                   "aio_get_version", dag_id)

    # pause (a timedelta TTL, DROP for cron runs) and unpause, with ours then with the official SDK's, on
    # the same workflow: the same answers but for the update time.
    def paused_state(answer: Any) -> Any:
        answer["metadata"].pop("updated_at")
        return answer

    mine_paused = client.workflows.pause(dag_id, timedelta(hours=1), "DROP")
    assert mine_paused.is_paused is True and mine_paused.paused_workflow_cron_run_queue_behavior == "DROP"
    assert client.workflows.get(dag_id).is_paused is True
    mine_unpaused = asyncio.run(client.workflows.aio_unpause(dag_id))
    assert mine_unpaused.is_paused is False and client.workflows.get(dag_id).is_paused is False
    assert paused_state(dump(mine_paused)) == paused_state(official("workflows", "pause", dag_id, "1h", "DROP"))
    assert paused_state(dump(mine_unpaused)) == paused_state(official("workflows", "aio_unpause", dag_id))
    assert paused_state(dump(asyncio.run(client.workflows.aio_pause(dag_id, timedelta(minutes=5))))) == \
        paused_state(official("workflows", "aio_pause", dag_id, "5m"))
    assert paused_state(dump(client.workflows.unpause(dag_id))) == paused_state(official("workflows", "unpause",
                                                                                        dag_id))

    # delete: each SDK deletes one workflow; both return None and the workflow is gone from the list.
    echo_id = next(w.metadata.id for w in mine if w.name == ns("echo"))
    aecho_id = next(w.metadata.id for w in mine if w.name == ns("aecho"))
    assert client.workflows.delete(echo_id) is None
    assert official("workflows", "delete", aecho_id) is None
    names = {w.name for w in client.workflows.list().rows or []}
    assert ns("echo") not in names and ns("aecho") not in names and ns("dag") in names


def test_metrics_logs_and_tenant(client: Hatchet, start_worker: Any, official: Callable[..., Any]) -> None:
    from .conftest import standalone

    start_worker()
    run = standalone(client, "refresher").run_no_wait({"seconds": 0.1})
    run.result()
    task_id = wait_until(lambda: client.runs.get(run.workflow_run_id).tasks[0].task_external_id, 30, "the task")

    # logs.list: the task's ctx.log line, as the official SDK reads it (default limit, and limit=1).
    logs = wait_until(lambda: client.logs.list(task_id).rows, 30, "the task's log line")
    assert [line.message for line in logs] == ["refreshed the timeout"]
    assert dump(client.logs.list(task_id)) == official("logs", "list", task_id)
    assert dump(client.logs.list(task_id, 1)) == official("logs", "list", task_id, 1)
    assert dump(asyncio.run(client.logs.aio_list(task_id))) == official("logs", "aio_list", task_id)

    # metrics: task counts by status (the last day; and for one workflow), task stats, queue metrics.
    refresher_id = next(w.metadata.id for w in client.workflows.list("refresher").rows or [])
    counts = client.metrics.get_task_metrics(workflow_ids=[refresher_id])
    assert counts.completed == 1 and counts.failed == counts.running == counts.queued == counts.cancelled == 0
    assert dump(counts) == official("metrics", "get_task_metrics", None, None, [refresher_id])
    # Tenant-wide reads: tasks of earlier tests in the tenant may still move (a retry coming due), so
    # each comparison counts only when the tenant's numbers stood still across it.
    same_when_still(lambda: dump(client.metrics.get_task_metrics()), lambda: official("metrics", "get_task_metrics"))
    same_when_still(lambda: dump(asyncio.run(client.metrics.aio_get_task_metrics())),
                    lambda: official("metrics", "aio_get_task_metrics"))
    same_when_still(lambda: dump(client.metrics.get_task_stats()), lambda: official("metrics", "get_task_stats"))
    same_when_still(lambda: dump(client.metrics.get_queue_metrics()), lambda: official("metrics", "get_queue_metrics"))
    same_when_still(lambda: dump(asyncio.run(client.metrics.aio_get_queue_metrics())),
                    lambda: official("metrics", "aio_get_queue_metrics"))
    # Engine v0.104.7 without a Prometheus server configured answers 400 to both SDKs.
    with pytest.raises(urllib.error.HTTPError) as failed:
        client.metrics.scrape_tenant_prometheus_metrics()
    assert failed.value.code == 400
    assert "(400)" in official("metrics", "scrape_tenant_prometheus_metrics", fails=True)

    # tenant.get (the official SDK's hatchet._client.tenant).
    tenant = client.tenant.get()
    assert tenant.metadata.id == client.config.tenant_id
    assert dump(tenant) == official("_client.tenant", "get")
    assert dump(asyncio.run(client.tenant.aio_get())) == official("_client.tenant", "aio_get")


def test_cel_debug(client: Hatchet, official: Callable[..., Any]) -> None:
    cases: list[tuple[Any, ...]] = [
        ("input.x > 1", {"x": 2}),  # true
        ("input.x > 1", {"x": 0}),  # false
        ("additional_metadata.k == 'v' && payload.n == 3", {}, {"k": "v"}, {"n": 3}),
        ("input.x >", {"x": 1}),  # does not compile: a CELFailure
        ("input.missing == 1", {}),  # fails to evaluate
    ]
    outcomes = []
    for args in cases:
        mine = dump(client.cel.debug(*args))
        assert mine == official("cel", "debug", *args), args
        outcomes.append(mine["result"].get("output", mine["result"]["status"]))
    assert outcomes == [True, False, True, "failure", "failure"]
    assert dump(asyncio.run(client.cel.aio_debug("input.x == 1", {"x": 1}))) == official(
        "cel", "aio_debug", "input.x == 1", {"x": 1})


def test_webhooks_client(client: Hatchet, ns: str, official: Callable[..., Any]) -> None:
    from hatchet_worker.clients.rest.models.webhooks import (
        V1WebhookAPIKeyAuth,
        V1WebhookBasicAuth,
        V1WebhookHMACAlgorithm,
        V1WebhookHMACAuth,
        V1WebhookHMACEncoding,
        V1WebhookSourceName,
    )

    def same(mine: Any, theirs: Any) -> None:
        """Equal but for what differs by construction: the id, the times and the name."""
        for one in (mine, theirs):
            one.pop("metadata")
            one.pop("name")
        assert mine == theirs

    auths: list[tuple[Any, dict[str, Any]]] = [
        (V1WebhookBasicAuth(username="u", password="p"),
         {"__model__": "V1WebhookBasicAuth", "username": "u", "password": "p"}),
        (V1WebhookAPIKeyAuth(header_name="X-Key", api_key="k"),
         {"__model__": "V1WebhookAPIKeyAuth", "headerName": "X-Key", "apiKey": "k"}),
        (V1WebhookHMACAuth(algorithm=V1WebhookHMACAlgorithm.SHA256, encoding=V1WebhookHMACEncoding.HEX,
                           signature_header_name="X-Sig", signing_secret="s"),
         {"__model__": "V1WebhookHMACAuth", "algorithm": "SHA256", "encoding": "HEX",
          "signatureHeaderName": "X-Sig", "signingSecret": "s"}),
    ]
    names = []
    for i, (auth, official_auth) in enumerate(auths):
        mine_name, their_name = f"{ns}-ours-{i}", f"{ns}-theirs-{i}"
        names += [mine_name, their_name]
        mine = dump(client.webhooks.create(V1WebhookSourceName.GENERIC, mine_name, "input.type", auth,
                                           "input.scope", {"k": i}, False))
        assert mine["name"] == mine_name and mine["auth_type"] == ["BASIC", "API_KEY", "HMAC"][i]
        same(mine, official("webhooks", "create", "GENERIC", their_name, "input.type", official_auth,
                            "input.scope", {"k": i}, False))
        same(dump(client.webhooks.get(mine_name)), official("webhooks", "get", their_name))
    # Defaults: no scope, no static payload, the event returned as the response.
    mine = dump(asyncio.run(client.webhooks.aio_create(V1WebhookSourceName.GITHUB, f"{ns}-ours-d", "'k'",
                                                       auths[0][0])))
    same(mine, official("webhooks", "aio_create", "GITHUB", f"{ns}-theirs-d", "'k'", auths[0][1]))
    names += [f"{ns}-ours-d", f"{ns}-theirs-d"]

    listed = client.webhooks.list(webhook_names=names)
    assert sorted(w.name for w in listed.rows or []) == sorted(names)
    assert dump(listed) == official("webhooks", "list", None, None, names)
    assert dump(client.webhooks.list(limit=2, offset=1, webhook_names=names)) == official(
        "webhooks", "list", 2, 1, names)
    # Engine v0.104.7 answers a list filtered by source name with 400, to both SDKs.
    with pytest.raises(urllib.error.HTTPError) as failed:
        client.webhooks.list(source_names=[V1WebhookSourceName.GITHUB])
    assert failed.value.code == 400
    assert "(400)" in official("webhooks", "list", None, None, None, ["GITHUB"], fails=True)
    assert dump(asyncio.run(client.webhooks.aio_list(webhook_names=names[:2]))) == official(
        "webhooks", "aio_list", None, None, names[:2])

    # update: one field, then all; get and aio_get read the same back.
    same(dump(client.webhooks.update(names[0], event_key_expression="input.kind")),
         official("webhooks", "update", names[1], "input.kind"))
    same(dump(client.webhooks.update(names[0], "input.k2", "true", {"a": 1}, True)),
         official("webhooks", "update", names[1], "input.k2", "true", {"a": 1}, True))
    same(dump(asyncio.run(client.webhooks.aio_get(names[0]))), official("webhooks", "aio_get", names[1]))

    # delete returns the deleted webhook; afterwards none of them is listed.
    for mine_name, their_name in zip(names[::2], names[1::2], strict=True):
        same(dump(client.webhooks.delete(mine_name)), official("webhooks", "delete", their_name))
    assert client.webhooks.list(webhook_names=names).rows in (None, [])


def test_stubs(client: Hatchet, start_worker: Any, official: Callable[..., Any]) -> None:
    from pydantic import BaseModel

    class EchoInput(BaseModel):
        value: Any = None

    class EchoOut(BaseModel):
        value: Any = None
        tag: str

    start_worker()
    task = client.stubs.task(name="echo", input_validator=EchoInput, output_validator=EchoOut)
    out = task.run(EchoInput(value=7))
    assert isinstance(out, EchoOut) and out.value == 7
    assert out.model_dump(mode="json") == official("stubs", "task", 7)
    dag = client.stubs.workflow(name="dag", input_validator=EchoInput)
    result = dag.run(EchoInput(value=3))
    assert set(result) == {"first", "second", "join"}
    assert json.loads(json.dumps(result)) == official("stubs", "workflow", 3)
