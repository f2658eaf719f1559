"""Rate limits a task consumes (``hatchet_sdk.rate_limit`` names; the wire form is in ``_register``).

A static limit (``static_key``) is created beforehand with ``hatchet.rate_limits.put``; a dynamic one
(``dynamic_key``, a CEL expression over the input) is created by the engine per key value, with the
``limit`` and ``duration`` the task declares. ``units`` and ``limit`` are numbers or CEL expressions.
"""

from __future__ import annotations

from enum import Enum

from pydantic import BaseModel, model_validator


class RateLimitDuration(str, Enum):  # noqa: UP042 - str() and format() as the official one
    """The window a limit counts over."""

    SECOND = "SECOND"
    MINUTE = "MINUTE"
    HOUR = "HOUR"
    DAY = "DAY"
    WEEK = "WEEK"
    MONTH = "MONTH"
    YEAR = "YEAR"


class RateLimit(BaseModel):
    """Consume ``units`` of a static limit (``static_key``) or of a dynamic one (``dynamic_key``)."""

    static_key: str | None = None
    dynamic_key: str | None = None
    units: str | int = 1
    limit: int | str | None = None
    duration: RateLimitDuration = RateLimitDuration.MINUTE

    @model_validator(mode="after")
    def _check(self) -> RateLimit:
        if self.static_key and self.dynamic_key:
            raise ValueError("Cannot have both static key and dynamic key set")
        if self.dynamic_key and not self.limit:
            raise ValueError("CEL based keys requires limit to be set")
        if self.limit is None:
            self.limit = -1  # what the official SDK sends for "the limit the key already has"
        return self


__all__ = ["RateLimit", "RateLimitDuration"]
