"""Concurrency and rate-limit declarations: what the pinned engine cannot do is refused by name."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hatchet_worker import (
    ClientConfig,
    ConcurrencyExpression,
    ConcurrencyLimitStrategy,
    Hatchet,
    RateLimit,
    RateLimitDuration,
    UnsupportedFeatureError,
)
from hatchet_worker._worker_labels import upsert_request


@pytest.mark.parametrize("strategy", ["QUEUE_NEWEST", "QUEUE_OLDEST", "CANCEL_QUEUED_EXCEPT_NEWEST",
                                      "CANCEL_QUEUED_EXCEPT_OLDEST"])
def test_strategies_the_engine_lacks_are_refused_naming_them(strategy: str) -> None:
    with pytest.raises(UnsupportedFeatureError, match=f"ConcurrencyLimitStrategy.{strategy} .*v0.104.7"):
        ConcurrencyExpression(expression="input.k", max_runs=1, limit_strategy=ConcurrencyLimitStrategy[strategy])


def test_the_engines_strategies_are_accepted_also_by_value() -> None:
    for strategy in ("CANCEL_IN_PROGRESS", "GROUP_ROUND_ROBIN", "CANCEL_NEWEST"):
        expr = ConcurrencyExpression("input.k", 2, strategy)  # type: ignore[arg-type]
        assert expr.limit_strategy is ConcurrencyLimitStrategy[strategy]


def test_other_concurrency_options_the_engine_lacks() -> None:
    with pytest.raises(UnsupportedFeatureError, match="max_runs=<CEL expression>"):
        ConcurrencyExpression(expression="input.k", max_runs="input.n")
    with pytest.raises(UnsupportedFeatureError, match="name="):
        ConcurrencyExpression(expression="input.k", max_runs=1, name="shared")
    with pytest.raises(UnsupportedFeatureError, match="is_tenant_scoped"):
        ConcurrencyExpression(expression="input.k", max_runs=1, name="shared", is_tenant_scoped=True)
    with pytest.raises(ValueError, match="greater than 0"):
        ConcurrencyExpression(expression="input.k", max_runs=0)


def test_rate_limit_validation_as_the_official_sdk() -> None:
    with pytest.raises(ValueError, match="both static key and dynamic key"):
        RateLimit(static_key="a", dynamic_key="input.k", limit=1)
    with pytest.raises(ValueError, match="requires limit"):
        RateLimit(dynamic_key="input.k")
    assert RateLimit(static_key="a").limit == -1
    assert RateLimit(dynamic_key="input.k", limit=3).duration is RateLimitDuration.MINUTE


def test_rate_limits_client_refuses_what_it_cannot_do() -> None:
    token = ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ0ZW5hbnQiLCJzZXJ2ZXJfdXJsIjoiaHR0cDovLzEyNy4wLjAuMTo5IiwiZ3J"
             "wY19icm9hZGNhc3RfYWRkcmVzcyI6IjEyNy4wLjAuMTo5In0.c2ln")
    limits = Hatchet(config=ClientConfig(token=token)).rate_limits
    with pytest.raises(UnsupportedFeatureError, match=r"rate_limits\.pause .*PauseRateLimit"):
        limits.pause("k", datetime.now(UTC))


def test_upsert_request_encodes_ints_as_the_official_sdk() -> None:
    msg = upsert_request("w1", {"model": "fancy", "memory": 512, "gpu": True})
    assert msg.worker_id == "w1"
    assert (msg.labels["model"].str_value, msg.labels["memory"].int_value, msg.labels["gpu"].int_value) == (
        "fancy", 512, 1)
