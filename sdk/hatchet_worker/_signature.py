"""Reading a task function's signature: what it returns (dependencies are ``_di``'s job)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any


def return_type(fn: Callable[..., Any]) -> Any:
    """The evaluated return annotation of ``fn``, or None when absent, ``None`` or ``Any``.

    Only the return annotation is evaluated (not the parameters'), so a parameter annotated with a
    name imported under ``TYPE_CHECKING`` does not break declaring the task.

    Raises:
        TypeError: the annotation is a string that does not resolve in the function's module.
    """
    target = inspect.unwrap(fn)
    annotations = getattr(target, "__annotations__", None) or {}
    ann = annotations.get("return")
    if isinstance(ann, str):
        try:
            ann = eval(ann, getattr(target, "__globals__", {}))  # what typing.get_type_hints does
        except Exception as exc:
            raise TypeError(f"cannot resolve the return annotation {ann!r} of {target.__qualname__}: {exc}; "
                            f"define that type at module level") from exc
    if ann is None or ann is type(None) or ann is Any:
        return None
    return ann
