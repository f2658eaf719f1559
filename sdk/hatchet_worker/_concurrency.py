"""Concurrency limits: declarations only (the wire form is in ``_register``).

The official SDK 1.43.1 names seven strategies and lets an entry be named, tenant-scoped or limited
by a CEL expression, but the pinned engine (v0.104.7) keeps three strategies (its table's enum is
``GROUP_ROUND_ROBIN``, ``CANCEL_IN_PROGRESS``, ``CANCEL_NEWEST``) and its ``Concurrency`` message has
none of those fields. An entry using them is refused when it is declared, naming what is not
supported, rather than registering something the engine rejects or ignores (the official SDK fails
at registration for ``QUEUE_OLDEST``, and the engine refuses the others).
"""

from __future__ import annotations

import dataclasses
from enum import Enum

from hatchet_worker import _parity
from hatchet_worker.exceptions import UnsupportedFeatureError


class ConcurrencyLimitStrategy(str, Enum):  # noqa: UP042 - str() and format() as the official one
    """What the engine does with a run beyond its group's limit (values as the official SDK's)."""

    CANCEL_IN_PROGRESS = "CANCEL_IN_PROGRESS"
    GROUP_ROUND_ROBIN = "GROUP_ROUND_ROBIN"
    CANCEL_NEWEST = "CANCEL_NEWEST"
    QUEUE_NEWEST = "QUEUE_NEWEST"
    QUEUE_OLDEST = "QUEUE_OLDEST"
    CANCEL_QUEUED_EXCEPT_NEWEST = "CANCEL_QUEUED_EXCEPT_NEWEST"
    CANCEL_QUEUED_EXCEPT_OLDEST = "CANCEL_QUEUED_EXCEPT_OLDEST"


ENGINE_STRATEGIES = frozenset({ConcurrencyLimitStrategy.CANCEL_IN_PROGRESS, ConcurrencyLimitStrategy.GROUP_ROUND_ROBIN,
                               ConcurrencyLimitStrategy.CANCEL_NEWEST})
"""The strategies engine v0.104.7 enforces."""

_NOT_IN_ENGINE = "engine v0.104.7 does not have it"


@dataclasses.dataclass(frozen=True)
class ConcurrencyExpression:
    """At most ``max_runs`` runs per value of the CEL ``expression`` (e.g. ``"input.user_id"``)."""

    expression: str
    max_runs: int | str
    limit_strategy: ConcurrencyLimitStrategy = ConcurrencyLimitStrategy.GROUP_ROUND_ROBIN
    name: str | None = None
    is_tenant_scoped: bool = False

    def __post_init__(self) -> None:
        strategy = ConcurrencyLimitStrategy(self.limit_strategy)
        object.__setattr__(self, "limit_strategy", strategy)
        if strategy not in ENGINE_STRATEGIES:
            raise UnsupportedFeatureError(f"ConcurrencyLimitStrategy.{strategy.name}", _NOT_IN_ENGINE)
        if isinstance(self.max_runs, str):
            raise UnsupportedFeatureError("ConcurrencyExpression(max_runs=<CEL expression>)", _NOT_IN_ENGINE)
        if self.max_runs <= 0:
            raise ValueError("max_runs must be greater than 0")
        reasons = _parity.UNSUPPORTED["ConcurrencyExpression"]
        if self.is_tenant_scoped:
            raise UnsupportedFeatureError("ConcurrencyExpression(is_tenant_scoped=True)", reasons["is_tenant_scoped"])
        if self.name is not None:
            raise UnsupportedFeatureError("ConcurrencyExpression(name=...)", reasons["name"])
