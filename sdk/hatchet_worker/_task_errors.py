"""``ctx.get_task_run_error(task)``: a failed parent's error read back into its parts.

A failed attempt's error is stored by the engine as the worker sent it: ``Type: message`` (newlines
in the message escaped), the traceback, and a JSON trailer naming the task run (the official SDK's
format, which this SDK sends too: ``_serde.format_error``). Reading it back gives the official
``TaskRunError`` attributes: ``exc`` (the message), ``exc_type``, ``trace`` and
``task_run_external_id``. A text in another form is kept whole as ``exc`` with the type
``HatchetError``, as the official SDK reads it.
"""

from __future__ import annotations

import json

from hatchet_worker._serde import ERROR_METADATA_KEY
from hatchet_worker.exceptions import TaskRunError


def _split_trailer(text: str) -> tuple[str, str | None]:
    last = text.split("\n")[-1]
    try:
        meta = json.loads(last)
    except ValueError:
        return text, None
    if isinstance(meta, dict) and isinstance(meta.get(ERROR_METADATA_KEY), dict):
        run_id = meta[ERROR_METADATA_KEY].get("task_run_external_id")
        return text[: len(text) - len(last)].strip(), run_id if isinstance(run_id, str) else None
    return text, None


def parse(task_name: str, serialized: str) -> TaskRunError:
    """The parts of a stored error text (see the module docstring)."""
    body, run_id = _split_trailer(serialized)
    header, newline, trace = body.partition("\n")
    exc_type, sep, message = header.partition(": ")
    if not newline or not sep:
        return _error(task_name, serialized, "HatchetError", "", run_id)
    return _error(task_name, message.replace("\\\n", "\n"), exc_type.replace(":::", ": "), trace, run_id)


def _error(task_name: str, message: str, exc_type: str, trace: str, run_id: str | None) -> TaskRunError:
    err = TaskRunError(task_name, message, run_id or "")
    err.exc, err.exc_type, err.trace = message, exc_type, trace
    err.task_run_external_id = run_id  # type: ignore[assignment]  # None when unknown, as in the official SDK
    return err


def task_run_error(task_name: str, serialized: str | None) -> TaskRunError | None:
    """``task_name``'s error from an on-failure task's ``task_run_errors``; None if it has none."""
    return parse(task_name, serialized) if serialized else None
