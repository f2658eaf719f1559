"""Dependency injection: ``param: Annotated[T, Depends(fn)]`` in a task's signature.

Before each attempt the runner calls every dependency function with the task's validated input and
its context, and passes the results as keyword arguments. A dependency function takes ``(input, ctx)``
first and may declare dependencies of its own the same way. Async functions run on the worker's loop,
sync ones on a thread (so they never block the loop). A result that is a context manager (for example
from a function decorated with ``contextlib.contextmanager`` or ``asynccontextmanager``) is entered,
its entered value injected, and exited after the task function returns, in reverse order, before the
result is reported. These are the official SDK's rules, including its limits: parameters are read
from the function's signature as written, so with ``from __future__ import annotations`` (string
annotations) nothing is injected, with either SDK.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Generic, TypeVar, get_args, get_origin

from hatchet_worker.exceptions import InvalidDependencyError

T = TypeVar("T")
TInput = TypeVar("TInput")

Plan = Sequence[tuple[str, "Depends[Any, Any]"]]
"""``(parameter name, dependency)`` pairs of one function, in signature order."""


class Depends(Generic[T, TInput]):
    """Mark a task parameter as injected: ``db: Annotated[Db, Depends(get_db)]``.

    Raises:
        InvalidDependencyError: ``fn`` does not take at least ``(input, ctx)``.
    """

    def __init__(self, fn: Callable[..., Any]) -> None:
        if len(inspect.signature(fn).parameters) < 2:
            raise InvalidDependencyError(f"Dependency function {fn.__name__} must have at least two parameters: "
                                         f"input and ctx. Additional parameters can be dependencies.")
        self._fn = fn

    def __repr__(self) -> str:
        return f"Depends({self._fn.__qualname__})"


def _dependency(annotation: Any) -> Depends[Any, Any] | None:
    if type(annotation).__name__ == "TypeAliasType":  # ``type Db = Annotated[...]`` (Python 3.12)
        annotation = annotation.__value__
    if get_origin(annotation) is not Annotated:
        return None
    return next((m for m in get_args(annotation)[1:] if isinstance(m, Depends)), None)


def plan(fn: Callable[..., Any], skip: int = 0) -> list[tuple[str, Depends[Any, Any]]]:
    """The injected parameters of ``fn`` (a dependency function skips its ``input, ctx``)."""
    params = list(inspect.signature(fn).parameters.values())[skip:]
    return [(p.name, dep) for p in params if (dep := _dependency(p.annotation)) is not None]


async def resolve(deps: Plan, input: Any, ctx: Any, exits: contextlib.AsyncExitStack,
                  resolving: tuple[str, ...] = ()) -> dict[str, Any]:
    """Call each dependency (after its own), entering context managers on ``exits``.

    Raises:
        InvalidDependencyError: a dependency depends on itself, directly or not.
    """
    values: dict[str, Any] = {}
    for name, dep in deps:
        fn = dep._fn
        if fn.__name__ in resolving:
            raise InvalidDependencyError(f"Circular dependency detected: {fn.__name__} is already being resolved. "
                                         f"Dependency chain: {' -> '.join((*resolving, fn.__name__))}")
        kwargs = await resolve(plan(fn, skip=2), input, ctx, exits, (*resolving, fn.__name__))
        if inspect.iscoroutinefunction(fn):
            value = await fn(input, ctx, **kwargs)
        else:
            value = await asyncio.to_thread(fn, input, ctx, **kwargs)
        values[name] = await _enter(value, exits)
    return values


async def _enter(value: Any, exits: contextlib.AsyncExitStack) -> Any:
    # Exited with no exception information even when the task failed, as the official SDK does.
    if hasattr(value, "__aenter__") and hasattr(value, "__aexit__"):
        entered = await value.__aenter__()
        exits.push_async_callback(value.__aexit__, None, None, None)
        return entered
    if hasattr(value, "__enter__") and hasattr(value, "__exit__"):
        entered = await asyncio.to_thread(value.__enter__)
        exits.push_async_callback(asyncio.to_thread, value.__exit__, None, None, None)
        return entered
    return value
