"""The worker's lifespan: an async generator whose first yield is the value tasks see as ``ctx.lifespan``.

Setup (up to the yield) runs before the worker registers; teardown (after the yield) runs after the
last task drained.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncGenerator, Callable
from typing import Any, cast

from hatchet_worker.exceptions import LifespanSetupError

log = logging.getLogger("hatchet_worker")

LifespanFn = Callable[[], AsyncGenerator[Any, None]]


async def enter(lifespan: LifespanFn | None) -> tuple[Any, AsyncGenerator[Any, None] | None]:
    """Run the setup; ``(value, generator)``, or ``(None, None)`` without a lifespan.

    Raises:
        LifespanSetupError: the setup raised or did not yield; the message says so plainly.
    """
    if lifespan is None:
        return None, None
    try:
        gen = lifespan()
        if not inspect.isasyncgen(gen):
            raise TypeError("lifespan must be an async generator function (async def ...: yield value)")
        value: Any = await gen.__anext__()
    except StopAsyncIteration:
        raise LifespanSetupError("lifespan setup failed: the lifespan generator did not yield") from None
    except Exception as exc:
        raise LifespanSetupError(f"lifespan setup failed, the worker does not start: "
                                 f"{type(exc).__name__}: {exc}") from exc
    return value, cast(AsyncGenerator[Any, None], gen)


async def leave(gen: AsyncGenerator[Any, None]) -> None:
    """Run the teardown; errors are logged, never raised (shutdown must go on)."""
    try:
        await gen.__anext__()
    except StopAsyncIteration:
        return
    except Exception:
        log.exception("lifespan teardown raised")
        return
    log.warning("lifespan yielded more than once; only the first value is used")
    await gen.aclose()
