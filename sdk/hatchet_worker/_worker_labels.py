"""``ctx.upsert_worker_labels``: a task changes the labels of the worker it runs on.

The labels go to the engine with ``Dispatcher/UpsertWorkerLabels`` for this worker's id, so the
engine's affinity scheduling (``desired_worker_labels``) sees them for the next assignments. The
worker's own view (``ctx.worker_labels``) is updated at the call, for every task of this worker;
the official SDK updates only the calling task's view. If the engine forgets this worker and it
registers again, it registers with its declared labels.
"""

from __future__ import annotations

from collections.abc import Coroutine, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from hatchet_worker._proto import dispatcher_pb2

if TYPE_CHECKING:
    from hatchet_worker.context import Context


def upsert_request(worker_id: str, labels: Mapping[str, str | int]) -> dispatcher_pb2.UpsertWorkerLabelsRequest:
    """As the official SDK sends it: an int (a bool too) as ``int_value``, anything else as text."""
    msg = dispatcher_pb2.UpsertWorkerLabelsRequest(worker_id=worker_id)
    for key, value in labels.items():
        if isinstance(value, int):
            msg.labels[key].int_value = int(value)  # a bool as 0/1, as protobuf will require
        else:
            msg.labels[key].str_value = str(value)
    return msg


class _LabelsRuntime(Protocol):
    labels: dict[str, str | int]

    def upsert_worker_labels(self, ctx: Context, labels: dict[str, str | int]) -> Coroutine[Any, Any, None]: ...


class LabelsContext:
    """``worker_labels`` / ``upsert_worker_labels`` of :class:`~hatchet_worker.context.Context`."""

    if TYPE_CHECKING:
        def _call(self, coro: Coroutine[Any, Any, None]) -> None: ...

    def _labels_runtime(self) -> _LabelsRuntime:
        runtime: _LabelsRuntime = self.__dict__["_runtime"]  # the Context's (its TaskRuntime has them)
        return runtime

    @property
    def worker_labels(self) -> dict[str, str | int]:
        """The labels of the worker running this task, with the upserts made so far."""
        return dict(self._labels_runtime().labels)

    def upsert_worker_labels(self, labels: dict[str, str | int]) -> None:
        """Set (add or change) labels of this worker at the engine."""
        runtime = self._labels_runtime()
        self._call(runtime.upsert_worker_labels(self, dict(labels)))  # type: ignore[arg-type]

    async def aio_upsert_worker_labels(self, labels: dict[str, str | int]) -> None:
        await self._labels_runtime().upsert_worker_labels(self, dict(labels))  # type: ignore[arg-type]
