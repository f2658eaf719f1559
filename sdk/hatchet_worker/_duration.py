"""Durations as the engine writes them (``"30s"``, ``"5m"``, ``"1h"``); pure."""

from __future__ import annotations

from datetime import timedelta

Duration = timedelta | str | int | float
"""A timedelta, a number of seconds, or an engine duration string such as ``"30s"``/``"5m"``/``"1h"``."""


def duration_expr(value: Duration) -> str:
    """The engine's duration syntax (whole seconds, minutes or hours) for ``value``."""
    if isinstance(value, str):
        text = value.strip()
        if not text or text[-1] not in "smh" or not text[:-1].isdigit():
            raise ValueError(f"duration {value!r} must look like '30s', '5m' or '1h'")
        return text
    seconds = int(value.total_seconds()) if isinstance(value, timedelta) else int(value)
    if seconds <= 0:
        raise ValueError(f"duration {value!r} must be at least one second")
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"
