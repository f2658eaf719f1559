"""Event filters as declared with a workflow: ``DefaultFilter``, ``idempotency`` and ``workflow.create_filter``.

Pure declarations (``_filters`` holds the REST client, ``hatchet.filters``): ``workflow.id`` and
``workflow.create_filter`` go through the client the workflow was declared with, so ``workflow``
does not import the transport.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from hatchet_worker._idempotency import IdempotencyConfig, StatusBasedIdempotencyConfig, TTLBasedIdempotencyConfig
from hatchet_worker._proto import v1_workflows_pb2

if TYPE_CHECKING:
    from hatchet_worker.client import Hatchet
    from hatchet_worker.clients.rest.models.feature_parts import V1Filter


class DefaultFilter(BaseModel):
    """A filter declared with the workflow (``hatchet.workflow(default_filters=[...])``)."""

    expression: str
    scope: str
    payload: dict[str, Any] = Field(default_factory=dict)

    def to_proto(self) -> v1_workflows_pb2.DefaultFilter:
        # The official SDK always sends the payload, as JSON (an empty object when none was given).
        return v1_workflows_pb2.DefaultFilter(expression=self.expression, scope=self.scope,
                                              payload=json.dumps(self.payload, default=str).encode())


def declared(workflow: WorkflowFilterMethods, default_filters: Sequence[Any] | None, idempotency: Any) -> None:
    """Record a declaration's ``default_filters`` and ``idempotency`` on its workflow (checked here, so a
    wrong value fails at the declaration rather than at registration)."""
    workflow.default_filters = tuple(f if isinstance(f, DefaultFilter) else
                                     DefaultFilter.model_validate(f, from_attributes=True)
                                     for f in default_filters or ())
    if idempotency is not None and not isinstance(idempotency, TTLBasedIdempotencyConfig |
                                                  StatusBasedIdempotencyConfig):
        raise TypeError("idempotency must be a TTLBasedIdempotencyConfig or a StatusBasedIdempotencyConfig, "
                        f"not {type(idempotency).__name__}")
    workflow.idempotency = idempotency


class WorkflowFilterMethods:
    """``workflow.id``, ``workflow.create_filter`` and the declared ``default_filters`` and ``idempotency``
    (mixed into ``Workflow``; ``hatchet.workflow``/``task``/``durable_task`` set the two declarations,
    ``_register`` sends them)."""

    _client: Hatchet
    default_filters: tuple[DefaultFilter, ...] = ()
    idempotency: IdempotencyConfig | None = None

    if TYPE_CHECKING:
        @property
        def name(self) -> str: ...  # the registered (namespaced) name, provided by Workflow

    @property
    def id(self) -> str:
        """The engine's id of this workflow (looked up by name; it must be registered)."""
        return self._client.filters._workflow_id(self.name)

    def create_filter(self, expression: str, scope: str, payload: Mapping[str, Any] | None = None) -> V1Filter:
        """Create a filter of this workflow (``hatchet.filters.create`` with this workflow's id)."""
        return self._client.filters.create(workflow_id=self.id, expression=expression, scope=scope,
                                           payload=payload)

    async def aio_create_filter(self, expression: str, scope: str,
                                payload: Mapping[str, Any] | None = None) -> V1Filter:
        return await asyncio.to_thread(self.create_filter, expression, scope, payload)
