"""The same declarations give the same engine requests under both SDKs (issue §5, §9, §4).

One function declares workflows the way the official documentation does; a subprocess (test-only:
the product never imports ``hatchet_sdk``) runs it once per SDK and turns each workflow into its
``CreateWorkflowVersionRequest`` (the official ``to_proto()``, our ``_register.workflow_proto``), both
parsed with the official message class. The requests must be equal field for field, so the engine
registers the same workflow (task names, action ids, parents, timeouts, retries, cron input) from a
worker of either SDK.
"""

from __future__ import annotations

import base64
import importlib.util
import json
from typing import Any

import pytest

from .two_sdks import by_task, run

pytestmark = pytest.mark.skipif(importlib.util.find_spec("hatchet_sdk") is None, reason="needs the official SDK")

PROGRAM = """
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from hatchet_sdk.contracts.workflows_pb2 import ScheduleWorkflowRequest


def declare(sdk):
    hatchet = sdk.Hatchet(config=sdk.ClientConfig(token=sys.argv[1], namespace="ns_"))
    Context = sdk.Context

    hooks = hatchet.workflow(name="Hooks", input_validator=In)

    @hooks.on_success_task(retries=2, execution_timeout=timedelta(minutes=2))
    def report(input: In, ctx: Context) -> dict[str, Any]:
        return {}

    @hooks.task()
    def first(input: In, ctx: Context) -> dict[str, Any]:
        return {}

    @hooks.task(parents=[first])
    def second(input: In, ctx: Context) -> dict[str, Any]:
        return {}

    @hooks.task()
    def side(input: In, ctx: Context) -> dict[str, Any]:
        return {}

    @hooks.durable_task(parents=[first])
    async def slow(input: In, ctx: sdk.DurableContext) -> dict[str, Any]:
        return {}

    @hooks.on_failure_task(name="Cleanup", retries=1, backoff_factor=2.0, backoff_max_seconds=9,
                           execution_timeout=timedelta(seconds=30), concurrency=2)
    def cleanup(input: In, ctx: Context) -> None:
        return None

    alone = hatchet.workflow(name="alone")

    @alone.on_success_task(name="Done")
    def done(input: Any, ctx: Context) -> None:
        return None

    defaults = hatchet.workflow(name="defaults", task_defaults=sdk.TaskDefaults(
        execution_timeout=timedelta(seconds=7), schedule_timeout=timedelta(minutes=2), retries=3,
        backoff_factor=1.5, backoff_max_seconds=20))

    @defaults.task()
    def plain(input: Any, ctx: Context) -> None:
        return None

    @defaults.task(retries=0, execution_timeout=timedelta(seconds=60), backoff_factor=3.0)
    def explicit_defaults(input: Any, ctx: Context) -> None:  # equal to the defaults: replaced
        return None

    @defaults.task(retries=1, execution_timeout="60s", schedule_timeout=timedelta(minutes=1))
    def own(input: Any, ctx: Context) -> None:
        return None

    @defaults.durable_task()
    async def durable(input: Any, ctx: sdk.DurableContext) -> None:
        return None

    @defaults.on_failure_task()
    def failed(input: Any, ctx: Context) -> None:  # hooks keep their own values
        return None

    @defaults.on_success_task()
    def succeeded(input: Any, ctx: Context) -> None:
        return None

    crons = hatchet.workflow(name="crons", input_validator=In, on_crons=["*/5 * * * *"], cron_input=In(n=4))

    def tick(input: Any, ctx: Context) -> None:
        return None

    crons.task()(tick)
    plain = hatchet.workflow(name="plain_crons", on_crons=["0 * * * *"], cron_input={"a": [1, "b"]})
    plain.task()(tick)

    @hatchet.task(name="standalone_cron", on_crons=["@daily"], input_validator=In, cron_input=In(n=2))
    def standalone_cron(input: In, ctx: Context) -> None:
        return None

    no_input = hatchet.workflow(name="no_cron_input", on_crons=["@hourly"], cron_input={})
    no_input.task()(tick)

    @dataclass
    class Order:
        sku: str
        qty: int = 1

    settings = hatchet.workflow(
        name="settings", description="all the workflow fields", version="v2", input_validator=Order,
        on_events=["order:created", "ns_order:paid"], sticky=sdk.StickyStrategy.HARD,
        default_priority=sdk.Priority.HIGH,
        concurrency=sdk.ConcurrencyExpression(expression="input.sku", max_runs=3,
                                              limit_strategy=sdk.ConcurrencyLimitStrategy.CANCEL_NEWEST))

    @settings.task(desired_worker_labels={"model": sdk.DesiredWorkerLabel(value="fancy", required=True),
                                          "memory": sdk.DesiredWorkerLabel(value=256, weight=2)},
                   concurrency=[sdk.ConcurrencyExpression(
                       expression="input.qty", max_runs=1,
                       limit_strategy=sdk.ConcurrencyLimitStrategy.CANCEL_IN_PROGRESS)])
    def pick(input: Order, ctx: Context) -> None:
        return None

    @settings.task(rate_limits=[
        sdk.RateLimit(static_key="api", units=2),
        sdk.RateLimit(dynamic_key="input.sku", units="input.qty", limit="input.qty * 10",
                      duration=sdk.RateLimitDuration.HOUR),
        sdk.RateLimit(dynamic_key="input.sku", limit=5, duration=sdk.RateLimitDuration.SECOND)])
    def limited(input: Order, ctx: Context) -> None:
        return None

    listed = hatchet.workflow(name="listed", input_validator=dict, concurrency=[
        sdk.ConcurrencyExpression(expression="'all'", max_runs=5,
                                  limit_strategy=sdk.ConcurrencyLimitStrategy.GROUP_ROUND_ROBIN),
        sdk.ConcurrencyExpression(expression="input.k", max_runs=1,
                                  limit_strategy=sdk.ConcurrencyLimitStrategy.GROUP_ROUND_ROBIN)])
    listed.task()(tick)
    counted = hatchet.workflow(name="counted", concurrency=4, default_priority=2, sticky=sdk.StickyStrategy.SOFT)
    counted.task()(tick)

    @hatchet.task(name="standalone_settings", input_validator=Order, concurrency=2, default_priority=3)
    def standalone_settings(input: Order, ctx: Context) -> None:
        return None

    filtered = hatchet.workflow(name="filtered", on_events=["user:create"], default_filters=[
        sdk.DefaultFilter(expression="input.should_skip == false", scope="foobarbaz",
                          payload={"main_character": "Anna", "n": 2}),
        sdk.DefaultFilter(expression="true", scope="empty")],
        idempotency=sdk.TTLBasedIdempotencyConfig(key_expression="input.id", ttl=timedelta(minutes=1)))
    filtered.task()(tick)

    @hatchet.task(name="standalone_idempotent", on_events=["idem:go"],
                  default_filters=[sdk.DefaultFilter(expression="input.ok", scope="s1")],
                  idempotency=sdk.StatusBasedIdempotencyConfig(key_expression="input.id",
                                                               fallback_ttl=timedelta(seconds=10)))
    def standalone_idempotent(input: Any, ctx: Context) -> None:
        return None

    @hatchet.durable_task(name="durable_idempotent", idempotency=sdk.TTLBasedIdempotencyConfig(
        key_expression="input.k", ttl=timedelta(seconds=2.5)))
    async def durable_idempotent(input: Any, ctx: sdk.DurableContext) -> None:
        return None

    return [hooks, alone, defaults, crons, plain, standalone_cron, no_input, settings, listed, counted,
            standalone_settings, filtered, standalone_idempotent, durable_idempotent]


def scheduled(sdk, wf):
    run_at = datetime(2030, 1, 2, 3, 4, 5, 500000, tzinfo=timezone.utc)
    if sdk is hatchet_worker:
        return wf._client._schedules._request(wf, run_at, In(n=3), None, "ck", {"m": "1"}, 2)
    opts = wf._create_schedule_options_with_combined_metadata(None, child_key="ck", additional_metadata={"m": "1"},
                                                              priority=2)
    admin = wf._client._client.admin
    return admin._prepare_schedule_workflow_request(admin.config.apply_namespace(wf._config.name), [run_at],
                                                    wf._serialize_input(In(n=3), target="bytes"), opts)


def declare_scheduled(sdk):
    hatchet = sdk.Hatchet(config=sdk.ClientConfig(token=sys.argv[1], namespace="ns_"))
    return hatchet.workflow(name="Later", input_validator=In, default_additional_metadata={"d": "x", "m": "0"})


schedules = [MessageToDict(ScheduleWorkflowRequest.FromString(
    scheduled(sdk, declare_scheduled(sdk)).SerializeToString()), preserving_proto_field_name=True)
    for sdk in (hatchet_worker, hatchet_sdk)]
print(json.dumps({**both(declare), "schedules": schedules}))
"""


@pytest.fixture(scope="module")
def requests() -> dict[str, list[dict[str, Any]]]:
    result: dict[str, list[dict[str, Any]]] = run(PROGRAM)
    return result


def test_the_requests_are_equal(requests: dict[str, list[dict[str, Any]]]) -> None:
    ours, theirs = requests["ours"], requests["theirs"]
    assert [by_task(r) for r in ours] == [by_task(r) for r in theirs]


def test_every_field_is_sent_as_the_official_sdk_sends_it(requests: dict[str, list[dict[str, Any]]]) -> None:
    """What the equality above covers, spelled out: the defaults the official SDK sends unasked."""
    hooks, alone, settings, listed, counted, standalone = (by_task(r) for r in (
        requests["ours"][i] for i in (0, 1, 7, 8, 9, 10)))
    assert hooks["default_priority"] == alone["default_priority"] == 1  # Priority.LOW when none is given
    assert (settings["default_priority"], counted["default_priority"], standalone["default_priority"]) == (3, 2, 3)
    # Every task carries a conditions message, empty when it has none.
    assert all(t["conditions"] == {} for t in [*hooks["tasks"].values(), hooks["on_failure_task"]])
    # A JSON schema for a model or a dataclass; none for EmptyModel or a dict.
    assert json.loads(base64.b64decode(hooks["input_json_schema"]))["title"] == "In"
    assert json.loads(base64.b64decode(settings["input_json_schema"]))["required"] == ["sku"]
    assert "input_json_schema" not in alone and "input_json_schema" not in listed
    # One expression (or an int) goes in the single (deprecated) field, a list in concurrency_arr.
    assert settings["concurrency"] == {"expression": "input.sku", "max_runs": 3, "limit_strategy": "CANCEL_NEWEST"}
    assert counted["concurrency"] == {"expression": "'constant'", "max_runs": 4,
                                      "limit_strategy": "GROUP_ROUND_ROBIN"}
    assert [c["expression"] for c in listed["concurrency_arr"]] == ["'all'", "input.k"]
    assert "concurrency" not in listed and "concurrency_arr" not in settings
    # A standalone task's concurrency is its task's, as there.
    assert "concurrency" not in standalone and standalone["tasks"]["standalone_settings"]["concurrency"] == [
        {"expression": "'constant'", "max_runs": 2, "limit_strategy": "GROUP_ROUND_ROBIN"}]
    assert (settings["sticky"], counted.get("sticky", "SOFT")) == ("HARD", "SOFT")
    assert settings["event_triggers"] == ["ns_order:created", "ns_order:paid"]
    # Rate limits: static (limit "-1": the key's own), dynamic with expressions, and the window.
    assert settings["tasks"]["limited"]["rate_limits"] == [
        {"key": "api", "units": 2, "limit_values_expr": "-1", "duration": "MINUTE"},
        {"key": "input.sku", "key_expr": "input.sku", "units_expr": "input.qty", "limit_values_expr": "input.qty * 10",
         "duration": "HOUR"},
        {"key": "input.sku", "key_expr": "input.sku", "units": 1, "limit_values_expr": "5", "duration": "SECOND"}]


def test_the_on_success_task_depends_on_the_leaves(requests: dict[str, list[dict[str, Any]]]) -> None:
    hooks, alone = (by_task(r)["tasks"] for r in requests["ours"][:2])
    report = hooks["report-on-success"]
    assert report["action"] == "ns_hooks:report-on-success"
    assert sorted(report["parents"]) == ["second", "side", "slow"]
    assert (report["retries"], report["timeout"]) == (2, "2m")
    assert list(alone) == ["done-on-success"] and "parents" not in alone["done-on-success"]


def test_the_on_failure_task_is_named_as_the_official_sdk_names_it(
        requests: dict[str, list[dict[str, Any]]]) -> None:
    hooks, defaults = requests["ours"][0], requests["ours"][2]
    cleanup = hooks["on_failure_task"]
    assert (cleanup["readable_id"], cleanup["action"]) == ("cleanup-on-failure", "ns_hooks:cleanup-on-failure")
    assert (cleanup["retries"], cleanup["backoff_factor"], cleanup["backoff_max_seconds"]) == (1, 2.0, 9)
    assert defaults["on_failure_task"]["action"] == "ns_defaults:failed-on-failure"


def test_task_defaults_fill_the_options_left_at_their_defaults(requests: dict[str, list[dict[str, Any]]]) -> None:
    request = requests["ours"][2]
    tasks = by_task(request)["tasks"]

    def opts(task: dict[str, Any]) -> tuple[Any, ...]:
        return (task["timeout"], task["schedule_timeout"], task.get("retries", 0), task.get("backoff_factor"),
                task.get("backoff_max_seconds"))

    assert opts(tasks["plain"]) == opts(tasks["durable"]) == ("7s", "2m", 3, 1.5, 20)
    assert opts(tasks["explicit_defaults"]) == ("7s", "2m", 3, 3.0, 20)
    assert opts(tasks["own"]) == ("60s", "1m", 1, 1.5, 20)
    assert opts(tasks["succeeded-on-success"]) == opts(request["on_failure_task"]) == ("1m", "5m", 0, None, None)


def test_cron_input_is_sent_serialized_by_the_input_model(requests: dict[str, list[dict[str, Any]]]) -> None:
    crons, plain, standalone, no_input = requests["ours"][3:7]
    assert (crons["cron_input"], crons["cron_triggers"]) == ('{"n":4}', ["*/5 * * * *"])
    assert json.loads(plain["cron_input"]) == {"a": [1, "b"]}
    assert standalone["cron_input"] == '{"n":2}'
    assert "cron_input" not in no_input  # an empty input is not sent, as in the official SDK


def test_a_scheduled_run_is_requested_as_the_official_sdk_requests_it(
        requests: dict[str, list[dict[str, Any]]]) -> None:
    ours, theirs = requests["schedules"]
    assert ours == theirs
    assert ours["name"] == "ns_Later" and ours["schedules"] == ["2030-01-02T03:04:05.500Z"]
    assert (json.loads(ours["input"]), json.loads(ours["additional_metadata"])) == ({"n": 3}, {"d": "x", "m": "1"})
    assert (ours["child_key"], ours["priority"]) == ("ck", 2)
