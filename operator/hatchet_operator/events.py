"""Kubernetes Events about HatchetWorkers, posted fire-and-forget through the operator's own client.

Events are best effort: one attempt each, a few in flight, a bounded backlog that drops the newest
when full. (kopf's poster retries each failed Event for up to a minute, one at a time, so a burst of
Events into terminating namespaces used to hold up every later Event and grow the process.)
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Mapping
from typing import Any

import aiohttp

from hatchet_operator import status
from hatchet_operator.kube import ApiError, Client

log = logging.getLogger(__name__)

COMPONENT = "hatchet-operator"


def event_body(obj: Mapping[str, Any], event: status.Event, instance: str, now: datetime.datetime) -> dict[str, Any]:
    """A core/v1 Event about ``obj`` (pure)."""
    meta = obj.get("metadata", {}) or {}
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"{meta.get('name')}.", "namespace": meta.get("namespace")},
        "involvedObject": {
            "apiVersion": obj.get("apiVersion"),
            "kind": obj.get("kind"),
            "name": meta.get("name"),
            "namespace": meta.get("namespace"),
            "uid": meta.get("uid"),
        },
        "type": event.type,
        "reason": event.reason,
        "message": event.message[:1024],
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "reportingInstance": instance[:128],
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }


class EventPoster:
    """Posts Events in the background with bounded concurrency and backlog."""

    def __init__(self, client: Client, instance: str, *, concurrency: int = 4, backlog: int = 1000) -> None:
        self.client = client
        self.instance = instance
        self._slots = asyncio.Semaphore(concurrency)
        self._backlog = backlog
        self._tasks: set[asyncio.Task[None]] = set()
        self.dropped = 0

    def __call__(self, obj: Mapping[str, Any], event: status.Event) -> None:
        if len(self._tasks) >= self._backlog:
            self.dropped += 1
            return
        body = event_body(obj, event, self.instance, datetime.datetime.now(datetime.UTC))
        task = asyncio.get_running_loop().create_task(self._post(body))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _post(self, body: dict[str, Any]) -> None:
        async with self._slots:
            ns = body["metadata"]["namespace"]
            try:
                await self.client.request("POST", f"/api/v1/namespaces/{ns}/events", body=body, resource="events")
            except (ApiError, aiohttp.ClientError, TimeoutError) as e:
                log.info("event %s for %s/%s not posted: %s", body["reason"], ns, body["involvedObject"]["name"], e)
