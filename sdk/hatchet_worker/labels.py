"""Worker labels and the labels a task asks of its worker (affinity)."""

from __future__ import annotations

from enum import IntEnum

from pydantic import BaseModel


class WorkerLabelComparator(IntEnum):
    """How a desired label's value is compared with the worker's (the engine's enum values)."""

    EQUAL = 0
    NOT_EQUAL = 1
    GREATER_THAN = 2
    GREATER_THAN_OR_EQUAL = 3
    LESS_THAN = 4
    LESS_THAN_OR_EQUAL = 5


class WorkerLabel(BaseModel):
    """A label a worker offers; ``value`` is a string or an integer."""

    key: str | None = None
    value: str | int


class DesiredWorkerLabel(WorkerLabel):
    """A label a task wants on its worker.

    ``required=True`` means only a matching worker may run the task; otherwise a match only adds
    ``weight`` (default 100 at the engine) to a worker's score.
    """

    required: bool = False
    weight: int | None = None
    comparator: WorkerLabelComparator | int | None = None


DesiredLabels = dict[str, DesiredWorkerLabel] | list[DesiredWorkerLabel] | None
"""Desired worker labels: ``{key: DesiredWorkerLabel}`` or a list of labels with ``key`` set (both
forms the official SDK accepts)."""


def labels_by_key(labels: DesiredLabels) -> dict[str, DesiredWorkerLabel]:
    """Either form as ``{key: label}``.

    Raises:
        ValueError: a label of the list form has no ``key``.
    """
    if labels is None:
        return {}
    if isinstance(labels, dict):
        return dict(labels)
    out: dict[str, DesiredWorkerLabel] = {}
    for label in labels:
        if not label.key:
            raise ValueError("a DesiredWorkerLabel in a list needs its key set")
        out[label.key] = label
    return out
