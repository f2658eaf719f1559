"""``hatchet.event``: push one event or many (``EventsService/Push`` and ``BulkPush``), as the official
SDK builds the requests.

Field by field as there: the key gets the namespace (``options.namespace`` over the configured
one); the keyword ``additional_metadata`` replaces ``options.additional_metadata`` rather than merging
with it, and the metadata always goes as a JSON object (``{}`` when empty), with the pushing task's
run ids added when pushed from inside a task; ``priority`` and ``scope`` from the keyword, else from
``options``. ``options=`` warns that it is deprecated, as the official SDK does. Both return the
official ``Event`` model made from the engine's answer.
"""

from __future__ import annotations

import datetime
import json
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from google.protobuf import timestamp_pb2
from pydantic import BaseModel, ConfigDict, Field, field_validator

from hatchet_worker import _serde, _tracing
from hatchet_worker._proto import events_pb2
from hatchet_worker._task_scope import current_context

if TYPE_CHECKING:
    from hatchet_worker.config import ClientConfig
    from hatchet_worker.runs import RunsClient

_DEPRECATED_OPTIONS = ("the `options` parameter is deprecated in the official SDK (removed in v2.0.0); "
                       "set the namespace on ClientConfig")


def _warn_namespace(value: str | None) -> str | None:
    if value:
        warnings.warn("the `namespace` option is deprecated in the official SDK (removed in v2.0.0); set the "
                      "namespace on ClientConfig", DeprecationWarning, stacklevel=3)
    return value


class PushEventOptions(BaseModel):
    """Per-event options of ``hatchet.event.push`` (the official fields)."""

    model_config = ConfigDict(extra="forbid")

    additional_metadata: dict[str, Any] = Field(default_factory=dict)
    namespace: str | None = None
    priority: int | None = None
    scope: str | None = None

    @field_validator("namespace", mode="before")
    @classmethod
    def validate_namespace(cls, v: str | None) -> str | None:
        return _warn_namespace(v)


class BulkPushEventWithMetadata(BaseModel):
    """One event of ``hatchet.event.bulk_push``."""

    model_config = ConfigDict(extra="forbid")

    key: str = ""
    payload: dict[str, Any] = Field(default_factory=dict)
    additional_metadata: dict[str, Any] = Field(default_factory=dict)
    priority: int | None = None
    scope: str | None = None


class BulkPushEventOptions(BulkPushEventWithMetadata):
    """``bulk_push(options=)``: of its fields only ``namespace`` is used, as in the official SDK."""

    namespace: str | None = None

    @field_validator("namespace", mode="before")
    @classmethod
    def validate_namespace(cls, v: str | None) -> str | None:
        return _warn_namespace(v)


class Event(BaseModel):
    """An event as the engine recorded it (the official model: JSON text fields as sent)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    tenant_id: str
    event_id: str
    key: str
    payload: str
    event_timestamp: timestamp_pb2.Timestamp
    additional_metadata: str | None = None
    scope: str | None = None
    seen_at: datetime.datetime

    @property
    def eventTimestamp(self) -> timestamp_pb2.Timestamp:
        return self.event_timestamp

    @property
    def additionalMetadata(self) -> str | None:
        return self.additional_metadata

    @classmethod
    def from_proto(cls, proto: events_pb2.Event) -> Event:
        # A Timestamp of its own: the decoded message's field is not always the class pydantic checks for.
        stamp = timestamp_pb2.Timestamp(seconds=proto.event_timestamp.seconds, nanos=proto.event_timestamp.nanos)
        return cls(tenant_id=proto.tenant_id, event_id=proto.event_id, key=proto.key, payload=proto.payload,
                   event_timestamp=stamp,
                   additional_metadata=proto.additional_metadata if proto.HasField("additional_metadata") else None,
                   scope=proto.scope if proto.HasField("scope") else None,
                   seen_at=proto.event_timestamp.ToDatetime(tzinfo=datetime.UTC))


def push_request(config: ClientConfig, key: str, payload: Mapping[str, Any], options: PushEventOptions,
                 additional_metadata: Mapping[str, Any] | None = None, priority: int | None = None,
                 scope: str | None = None, namespace: str | None = None) -> events_pb2.PushEventRequest:
    """The request the official SDK sends for one event (pure but for the pushing task's ids)."""
    meta = dict(additional_metadata or options.additional_metadata)
    ctx = current_context.get()
    if ctx is not None:
        # As the official SDK: the source run ids overwrite same-named user keys.
        meta.update(hatchet__source_workflow_run_id=ctx.workflow_run_id,
                    hatchet__source_step_run_id=ctx.task_run_id)
    req = events_pb2.PushEventRequest(
        key=config.apply_namespace(key, namespace or options.namespace),
        payload=json.dumps(payload, default=_serde._default), additional_metadata=json.dumps(meta, default=str))
    req.event_timestamp.GetCurrentTime()
    if (chosen := priority or options.priority) is not None:
        req.priority = int(chosen)
    if (where := scope or options.scope) is not None:
        req.scope = where
    return req


def bulk_request(config: ClientConfig, events: list[BulkPushEventWithMetadata],
                 options: BulkPushEventOptions | None) -> events_pb2.BulkPushEventRequest:
    namespace = options.namespace if options else None
    return events_pb2.BulkPushEventRequest(events=[
        push_request(config, e.key, e.payload, PushEventOptions(), e.additional_metadata, e.priority, e.scope,
                     namespace) for e in events])


class EventClient:
    """``hatchet.event``: push events over the runs client's gRPC channels (shared, as the rate limit and
    schedule calls share them)."""

    def __init__(self, runs: RunsClient) -> None:
        self._runs = runs

    def _request(self, event_key: str, payload: Mapping[str, Any], options: PushEventOptions | None,
                 additional_metadata: Mapping[str, Any] | None, priority: int | None,
                 scope: str | None) -> events_pb2.PushEventRequest:
        if options is not None:
            warnings.warn(_DEPRECATED_OPTIONS, DeprecationWarning, stacklevel=3)
        return push_request(self._runs._client.config, event_key, payload, options or PushEventOptions(),
                            additional_metadata, priority, scope)

    def push(self, event_key: str, payload: Mapping[str, Any], options: PushEventOptions | None = None,
             additional_metadata: Mapping[str, Any] | None = None, priority: int | None = None,
             scope: str | None = None) -> Event:
        """Push an event; workflows whose ``on_events`` match its key are triggered."""
        req = self._request(event_key, payload, options, additional_metadata, priority, scope)
        with _tracing.current().push(req):
            return Event.from_proto(self._runs._calls()["push"](req, timeout=30.0, metadata=self._runs._md()))

    async def aio_push(self, event_key: str, payload: Mapping[str, Any], options: PushEventOptions | None = None,
                       additional_metadata: Mapping[str, Any] | None = None, priority: int | None = None,
                       scope: str | None = None) -> Event:
        req = self._request(event_key, payload, options, additional_metadata, priority, scope)
        with _tracing.current().push(req):
            answer = await self._runs._aio_calls()["push"](req, timeout=30.0, metadata=self._runs._md())
        return Event.from_proto(answer)

    def bulk_push(self, events: list[BulkPushEventWithMetadata],
                  options: BulkPushEventOptions | None = None) -> list[Event]:
        """Push many events in one ``BulkPush`` call; the engine's events in order."""
        if options:
            warnings.warn(_DEPRECATED_OPTIONS, DeprecationWarning, stacklevel=2)
        req = bulk_request(self._runs._client.config, events, options)
        with _tracing.current().bulk_push(req):
            answer = self._runs._calls()["bulk_push"](req, timeout=60.0, metadata=self._runs._md())
        return [Event.from_proto(e) for e in answer.events]

    async def aio_bulk_push(self, events: list[BulkPushEventWithMetadata],
                            options: BulkPushEventOptions | None = None) -> list[Event]:
        if options:
            warnings.warn(_DEPRECATED_OPTIONS, DeprecationWarning, stacklevel=2)
        req = bulk_request(self._runs._client.config, events, options)
        with _tracing.current().bulk_push(req):
            answer = await self._runs._aio_calls()["bulk_push"](req, timeout=60.0, metadata=self._runs._md())
        return [Event.from_proto(e) for e in answer.events]
