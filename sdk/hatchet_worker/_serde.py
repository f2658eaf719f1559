"""Task output and error encoding, as the engine expects them."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json
import traceback
import uuid
from typing import Any

from pydantic import BaseModel

from hatchet_worker.exceptions import IllegalTaskOutputError

ERROR_METADATA_KEY = "__hatchet_error_metadata__"


def _default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dump_output(value: Any) -> str:
    """The COMPLETED payload for a task's return value: a JSON object, or "" for None.

    Raises:
        IllegalTaskOutputError: the value is not a dict, pydantic model or dataclass, or its JSON
            contains a NUL character (the engine cannot store it).
    """
    if value is None:
        return ""
    try:
        if isinstance(value, BaseModel):
            text = value.model_dump_json()
        elif isinstance(value, dict):
            text = json.dumps(value, default=_default, separators=(",", ":"), ensure_ascii=False)
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            text = json.dumps(dataclasses.asdict(value), default=_default, separators=(",", ":"),
                              ensure_ascii=False)
        else:
            raise IllegalTaskOutputError(
                f"a task must return a dict, a pydantic model or a dataclass (a JSON object), "
                f"not {type(value).__name__}")
    except (TypeError, ValueError) as exc:
        raise IllegalTaskOutputError(f"task output is not JSON serialisable: {exc}") from exc
    if "\\u0000" in text:
        raise IllegalTaskOutputError("task output contains a NUL character (\\u0000), which the engine "
                                     "cannot store; strip it from the output")
    return text


def format_error(exc: BaseException, task_run_external_id: str) -> str:
    """The FAILED payload: ``Type: message``, the traceback, and a JSON trailer naming the run."""
    message = str(exc).replace("\n", "\\\n")
    header = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    trailer = json.dumps({ERROR_METADATA_KEY: {"task_run_external_id": task_run_external_id}})
    return f"{header}\n{trace}\n\n{trailer}".replace("\x00", "\\0")


def error_text(payload: str) -> str:
    """An error payload without the metadata trailer (for showing to users)."""
    head, sep, tail = payload.rpartition("\n\n")
    if sep and ERROR_METADATA_KEY in tail:
        return head
    return payload
