"""Which task run the current code runs in: the one context variable the layers share.

It lives below everything that reads it (``runs`` makes a triggered run a child of it, ``_event_push``
scopes events to it, ``workflow`` turns a durable task's child runs into recorded ones) and below
``context``, whose runner sets it, so none of them has to import the runtime to ask.
:class:`DurableScope` is the interface a durable task's context implements (``_durable_ops``); the
declarations call it without importing it.
"""

from __future__ import annotations

import contextvars
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hatchet_worker.context import Context

current_context: contextvars.ContextVar[Context | None] = contextvars.ContextVar(
    "hatchet_worker_current_context", default=None)
"""The context of the task running in this asyncio task or thread (runs it triggers become children)."""


class DurableScope:
    """Implemented by ``_durable_ops.DurableOps`` (mixed into ``DurableContext``)."""

    async def _run_children(self, workflow: Any, items: Sequence[tuple[Any, Any]], wait_for_result: bool,
                            return_exceptions: bool = False) -> list[Any]:
        raise NotImplementedError


def durable_parent() -> DurableScope | None:
    """The durable task calling, when runs are triggered from inside one (they become recorded children)."""
    ctx = current_context.get()
    return ctx if isinstance(ctx, DurableScope) else None
