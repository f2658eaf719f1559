"""``Depends``: which parameters are injected, and the errors the official SDK raises for bad ones.

Injection itself (values, context managers, order of exits) is proven on the real engine under both
SDKs in ``tests/integration/sdk/test_parity_hooks.py``.
"""

# No ``from __future__ import annotations`` here: injection reads the annotations as objects.
import asyncio
import contextlib
import inspect
from typing import Annotated, Any

import pytest

from hatchet_worker import Depends
from hatchet_worker._di import plan, resolve
from hatchet_worker.exceptions import InvalidDependencyError


def dep(input: Any, ctx: Any) -> str:
    return "v"


Alias = Annotated[str, Depends(dep)]


def test_a_dependency_needs_input_and_ctx() -> None:
    with pytest.raises(InvalidDependencyError, match="must have at least two parameters"):
        Depends(lambda input: input)


def test_only_annotated_depends_parameters_are_injected() -> None:
    def task(input: Any, ctx: Any, a: Annotated[str, Depends(dep)], b: Alias, c: Annotated[str, "doc"],
             d: int = 0) -> None:
        return None

    assert [name for name, _ in plan(task)] == ["a", "b"]
    # String annotations (``from __future__ import annotations`` in the user's module) are not
    # evaluated, as in the official SDK.
    task.__annotations__["a"] = "Annotated[str, Depends(dep)]"
    assert [name for name, _ in plan(task)] == ["b"]


def test_a_cycle_is_refused() -> None:
    def again(input: Any, ctx: Any) -> str:
        return "never"

    loop = Depends(again)
    params = [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in ("input", "ctx")]
    again.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [*params, inspect.Parameter("x", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Annotated[str, loop])])

    async def go() -> None:
        async with contextlib.AsyncExitStack() as exits:
            await resolve([("x", loop)], None, None, exits)

    with pytest.raises(InvalidDependencyError, match="Circular dependency detected: again"):
        asyncio.run(go())
