"""Nothing silent (issue §12): our main entry points against the official SDK's public signatures.

The official signatures are read in a subprocess that imports ``hatchet_sdk`` (test-only; the
product never imports it). For every official parameter ours must have it (no ``**kwargs`` to
swallow it), and a parameter listed in ``hatchet_worker._parity`` as not acted on must really raise
``UnsupportedFeatureError`` (or warn, for the no-effect ones) naming it. The parity table in
``docs/sdk.md`` is generated from the same enumeration and must be in sync
(``PARITY_WRITE=1`` rewrites it).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import inspect
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

from hatchet_worker import (
    ClientConfig,
    ConcurrencyExpression,
    Hatchet,
    RateLimit,
    TaskDefaults,
    TriggerWorkflowOptions,
    _parity,
)
from hatchet_worker import workflow as ours_workflow
from hatchet_worker._cel_client import CELClient
from hatchet_worker._event_push import (
    BulkPushEventOptions,
    BulkPushEventWithMetadata,
    EventClient,
    PushEventOptions,
)
from hatchet_worker._filters import FiltersClient
from hatchet_worker._rate_limits import RateLimitsClient
from hatchet_worker._stubs import StubsClient
from hatchet_worker._tenant_reads import LogsClient, MetricsClient, TenantClient
from hatchet_worker._trigger_clients import CronClient, ScheduledClient
from hatchet_worker._webhooks_client import WebhooksClient
from hatchet_worker._workers_client import WorkersClient
from hatchet_worker._workflows_client import WorkflowsClient
from hatchet_worker.config import TenacityConfig
from hatchet_worker.exceptions import UnsupportedFeatureError
from hatchet_worker.runs import RunsClient, build_trigger

pytestmark = pytest.mark.skipif(importlib.util.find_spec("hatchet_sdk") is None, reason="needs the official SDK")

DOCS = Path(__file__).resolve().parents[3] / "docs" / "sdk.md"
BEGIN, END = "<!-- parity-table:begin -->", "<!-- parity-table:end -->"
METHODS = ["task", "durable_task", "batch_task", "on_failure_task", "on_success_task", "run", "aio_run", "run_no_wait",
           "aio_run_no_wait", "run_many", "aio_run_many", "run_many_no_wait", "aio_run_many_no_wait",
           "create_bulk_run_item", "schedule", "aio_schedule", "create_cron", "aio_create_cron", "create_filter",
           "aio_create_filter"]
HATCHET_METHODS = ["task", "durable_task", "batch_task", "workflow", "worker"]

ENUMERATE = f"""
import inspect, json
import hatchet_sdk
from hatchet_sdk.clients.admin import TriggerWorkflowOptions
from hatchet_sdk.runnables.workflow import Standalone, Workflow
out = {{}}
def params(f):
    return [p.name for p in inspect.signature(f).parameters.values() if p.name != "self"]
for n in {HATCHET_METHODS!r}:
    out["Hatchet." + n] = params(getattr(hatchet_sdk.Hatchet, n))
import typing
feature_classes = []
for n, v in vars(hatchet_sdk.Hatchet).items():  # the feature-client properties (hatchet.cron, ...)
    if isinstance(v, property):
        ret = typing.get_type_hints(v.fget).get("return")
        if getattr(ret, "__module__", "").startswith("hatchet_sdk.features."):
            out["Hatchet." + n] = []
            feature_classes.append(ret)
from hatchet_sdk.features.tenant import TenantClient
out["Hatchet.tenant"] = []  # the official SDK reaches it as hatchet._client.tenant
feature_classes.append(TenantClient)
for cls in (Workflow, Standalone):
    for n in {METHODS!r}:
        if cls is Standalone and n in ("task", "durable_task", "batch_task", "on_failure_task", "on_success_task"):
            continue
        if hasattr(cls, n):
            out[cls.__name__ + "." + n] = params(getattr(cls, n))
from hatchet_sdk.features.cron import CronClient
from hatchet_sdk.features.rate_limits import RateLimitsClient
from hatchet_sdk.features.scheduled import ScheduledClient
from hatchet_sdk.features.runs import RunsClient
from hatchet_sdk.features.workers import WorkersClient
from hatchet_sdk.features.filters import FiltersClient
from hatchet_sdk.clients.events import EventClient
for cls in dict.fromkeys((CronClient, ScheduledClient, RateLimitsClient, RunsClient, WorkersClient, FiltersClient,
                          *feature_classes)):
    for n, f in vars(cls).items():
        if not n.startswith("_") and inspect.isfunction(f):
            out[cls.__name__ + "." + n] = params(f)
for n in ("push", "aio_push", "bulk_push", "aio_bulk_push"):  # (its log/stream/list/get are internal or REST)
    out["EventClient." + n] = params(getattr(EventClient, n))
out["PushEventOptions"] = list(hatchet_sdk.PushEventOptions.model_fields)
out["BulkPushEventWithMetadata"] = list(hatchet_sdk.BulkPushEventWithMetadata.model_fields)
out["BulkPushEventOptions"] = list(hatchet_sdk.BulkPushEventOptions.model_fields)
out["TriggerWorkflowOptions"] = list(TriggerWorkflowOptions.model_fields)
out["TaskDefaults"] = list(hatchet_sdk.TaskDefaults.model_fields)
out["ConcurrencyExpression"] = list(hatchet_sdk.ConcurrencyExpression.model_fields)
out["RateLimit"] = list(hatchet_sdk.RateLimit.model_fields)
out["ClientConfig"] = [f.alias or n for n, f in hatchet_sdk.ClientConfig.model_fields.items()]
import hatchet_sdk.config
out["TenacityConfig"] = list(hatchet_sdk.config.TenacityConfig.model_fields)
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def official() -> dict[str, list[str]]:
    proc = subprocess.run([sys.executable, "-c", ENUMERATE], capture_output=True, text=True, timeout=120,
                          env={k: v for k, v in os.environ.items() if not k.startswith("HATCHET_CLIENT_")})
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: dict[str, list[str]] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


MODELS = ("TriggerWorkflowOptions", "ClientConfig", "TaskDefaults", "ConcurrencyExpression", "RateLimit",
          "PushEventOptions", "BulkPushEventWithMetadata", "BulkPushEventOptions", "TenacityConfig")
"""Entries that are classes' fields, not a method's parameters."""


FEATURES = {"CronClient": CronClient, "ScheduledClient": ScheduledClient, "RateLimitsClient": RateLimitsClient,
            "RunsClient": RunsClient, "WorkersClient": WorkersClient, "EventClient": EventClient,
            "FiltersClient": FiltersClient, "WorkflowsClient": WorkflowsClient,
            "MetricsClient": MetricsClient, "LogsClient": LogsClient, "TenantClient": TenantClient,
            "CELClient": CELClient, "WebhooksClient": WebhooksClient,
            "StubsClient": StubsClient}
"""The feature clients (``hatchet.cron``, ``hatchet.scheduled``, ``hatchet.rate_limits``) by official name."""


EVENT_MODELS = {"PushEventOptions": PushEventOptions, "BulkPushEventWithMetadata": BulkPushEventWithMetadata,
                "BulkPushEventOptions": BulkPushEventOptions}


def ours(entry: str) -> Any:
    owner, _, name = entry.partition(".")
    if owner == "Hatchet":
        return getattr(Hatchet, name)
    if owner in FEATURES:
        return getattr(FEATURES[owner], name)
    return getattr(getattr(ours_workflow, owner), name)


def our_params(entry: str) -> list[str]:
    if entry == "TriggerWorkflowOptions":
        return list(TriggerWorkflowOptions.model_fields)
    if entry == "TaskDefaults":
        return list(TaskDefaults.model_fields)
    if entry == "ConcurrencyExpression":
        return [f.name for f in dataclasses.fields(ConcurrencyExpression)]
    if entry == "RateLimit":
        return list(RateLimit.model_fields)
    if entry in EVENT_MODELS:
        return list(EVENT_MODELS[entry].model_fields)
    if entry == "ClientConfig":
        return [f.alias or n for n, f in ClientConfig.model_fields.items()]
    if entry == "TenacityConfig":
        return list(TenacityConfig.model_fields)
    return [p.name for p in inspect.signature(ours(entry)).parameters.values() if p.name != "self"]


MISSING_CLIENTS = {cls: reason for cls, reason in _parity.MISSING_FEATURES.values()}
"""Official feature-client classes whose every method is not supported (their property raises)."""


def is_property(entry: str) -> bool:
    owner, _, name = entry.partition(".")
    return owner == "Hatchet" and name not in HATCHET_METHODS


def missing_feature(entry: str) -> str | None:
    """The reason an official feature property, or a method of its client, is not provided, or None."""
    owner, _, name = entry.partition(".")
    if owner == "Hatchet" and name in _parity.MISSING_FEATURES:
        return _parity.MISSING_FEATURES[name][1]
    return MISSING_CLIENTS.get(owner)


def status(entry: str, param: str | None) -> tuple[str, str]:
    """(supported | not supported | no effect (warns) | differs, reason) for an official name."""
    if param is None and missing_feature(entry) is not None:
        return "not supported", missing_feature(entry) or ""
    if param is None:
        if entry in _parity.MISSING_METHODS:
            return "not supported", _parity.MISSING_METHODS[entry]
        if entry in _parity.DIFFERENCES:
            return "supported, differs", _parity.DIFFERENCES[entry]
        return "supported", ""
    if param in _parity.UNSUPPORTED.get(entry, {}):
        return "not supported (raises)", _parity.UNSUPPORTED[entry][param]
    if param in _parity.NO_EFFECT.get(entry, {}):
        return "no effect (warns once)", _parity.NO_EFFECT[entry][param]
    return "supported", ""


def test_every_official_parameter_is_accepted_and_nothing_is_swallowed(official: dict[str, list[str]]) -> None:
    problems: list[str] = []
    client = _client()
    for entry, params in official.items():
        if entry in _parity.MISSING_METHODS or missing_feature(entry) is not None:
            continue
        if is_property(entry):
            if not hasattr(client, entry.partition(".")[2]):
                problems.append(f"Hatchet lacks the official feature client {entry}")
            continue
        if entry not in MODELS:
            sig = inspect.signature(ours(entry))
            if any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
                problems.append(f"{entry} takes **kwargs (could swallow an option silently)")
        mine = our_params(entry)
        for param in params:
            if param not in mine and param not in _parity.NO_EFFECT.get(entry, {}):
                problems.append(f"{entry} lacks the official parameter {param!r}")
    for entry, table in (*_parity.UNSUPPORTED.items(), *_parity.NO_EFFECT.items()):
        for param in table:
            if param not in official.get(entry, []):
                problems.append(f"_parity lists {entry}.{param}, which the official SDK does not have")
    for feature in _parity.MISSING_FEATURES:
        if f"Hatchet.{feature}" not in official:
            problems.append(f"_parity lists the feature {feature}, which the official SDK does not have")
    assert not problems, "\n".join(problems)


def _client() -> Hatchet:
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ0ZW5hbnQiLCJzZXJ2ZXJfdXJsIjoiaHR0cDovLzEyNy4wLjAuMTo5IiwiZ3J" \
            "wY19icm9hZGNhc3RfYWRkcmVzcyI6IjEyNy4wLjAuMTo5In0.c2ln"
    return Hatchet(config=ClientConfig(token=token))


def test_each_unsupported_option_raises_naming_it() -> None:
    client = _client()
    wf = client.workflow(name="p")
    sentinel = object()

    def fn(input: Any, ctx: Any) -> None:
        return None

    calls = {
        "Hatchet.task": lambda p: client.task(name="t", **{p: sentinel})(fn),
        "Hatchet.durable_task": lambda p: client.durable_task(name="t", **{p: sentinel})(fn),
        "Hatchet.workflow": lambda p: client.workflow(name="w", **{p: sentinel}),
        "Workflow.task": lambda p: wf.task(**{p: [sentinel]})(fn),
        "Workflow.durable_task": lambda p: wf.durable_task(**{p: [sentinel]})(fn),
        "TriggerWorkflowOptions": lambda p: build_trigger("w", {}, TriggerWorkflowOptions(**{p: "x"})),
        "ConcurrencyExpression": lambda p: ConcurrencyExpression(
            expression="input.k", max_runs=1, **{p: {"name": "n", "is_tenant_scoped": True}[p]}),
    }
    checked = 0
    for entry, table in _parity.UNSUPPORTED.items():
        for param in table:
            with pytest.raises(UnsupportedFeatureError, match=param):
                calls[entry](param)
            checked += 1
    owners = {"Workflow": wf, "Standalone": wf, "RateLimitsClient": client.rate_limits,
              "ScheduledClient": client.scheduled, "RunsClient": client.runs}
    for entry in _parity.MISSING_METHODS:
        owner, method = entry.split(".", 1)
        args = ("k", None) if method.endswith("pause") else ()
        with pytest.raises(UnsupportedFeatureError, match=method):
            result = getattr(owners[owner], method)(*args)
            if inspect.iscoroutine(result):
                result.close()
                raise UnsupportedFeatureError(method, "coroutine")  # the async ones raise when awaited
        checked += 1
    assert checked == sum(map(len, _parity.UNSUPPORTED.values())) + len(_parity.MISSING_METHODS)
    for feature in _parity.MISSING_FEATURES:
        with pytest.raises(UnsupportedFeatureError, match=f"hatchet.{feature} "):
            getattr(client, feature)
    # Default values are the official defaults and do not raise.
    client.task(name="ok", cron_input=None, default_filters=[], idempotency=None)(fn)


def test_each_no_effect_option_warns_naming_it() -> None:
    token = _client().config.token
    for param in _parity.NO_EFFECT["ClientConfig"]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            from hatchet_worker import config as config_module

            config_module._warned.discard(param)
            ClientConfig(token=token, **{param: None})
        assert any(f"ClientConfig({param}=...)" in str(w.message) for w in caught), param
    from hatchet_worker import runs

    runs._warned.discard("key")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        build_trigger("w", {}, TriggerWorkflowOptions(key="k"))
    assert any("TriggerWorkflowOptions.key" in str(w.message) for w in caught)
    from hatchet_worker import _task_defaults

    _task_defaults._warned.discard("priority")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        TaskDefaults(priority=2)
    assert [str(w.message).split(":")[0] for w in caught] == ["TaskDefaults(priority=...) has no effect"]


def render_table(official: dict[str, list[str]]) -> str:
    lines = ["| Official (hatchet-sdk 1.43.1) | hatchet_worker | Reason |", "|---|---|---|"]
    for entry, params in official.items():
        if "." in entry:
            state, reason = status(entry, None)
            lines.append(f"| `{entry}` | {state} | {reason} |")
        if entry in _parity.MISSING_METHODS or missing_feature(entry) is not None:
            continue
        for param in params:
            state, reason = status(entry, param)
            lines.append(f"| `{entry}({param})` | {state} | {reason} |")
    return "\n".join(lines)


def test_docs_parity_table_is_in_sync(official: dict[str, list[str]]) -> None:
    text = DOCS.read_text()
    table = render_table(official)
    if os.environ.get("PARITY_WRITE") == "1":
        head, _, rest = text.partition(BEGIN)
        _, _, tail = rest.partition(END)
        DOCS.write_text(f"{head}{BEGIN}\n{table}\n{END}{tail}")
        text = DOCS.read_text()
    assert BEGIN in text and END in text, f"docs/sdk.md lacks the {BEGIN} ... {END} markers"
    current = text.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert current == table, "docs/sdk.md parity table is stale: run this test with PARITY_WRITE=1"
