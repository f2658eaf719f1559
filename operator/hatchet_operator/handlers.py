"""kopf registrations: thin raw-event handlers that keep the cache current and call ``reconcile``.

HatchetWorkers come through kopf; managed Deployments through the cache's own label-selected watch
(``cache.Cache.watch_deployments``); referenced Secrets are read by GET (``secretcheck``), before
the first reconcile of a HatchetWorker that names a new one and then by a background re-check.

Only raw-event handlers (``on.event``) are used: kopf then writes nothing of its own to the objects
(no finalizers, no last-handled-configuration annotation), so an idle fleet costs zero writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from typing import Any

import kopf

from hatchet_operator.api import v1alpha1 as api
from hatchet_operator.cache import Cache, referenced_secrets
from hatchet_operator.reconcile import Reconciler

log = logging.getLogger(__name__)


def register(
    registry: kopf.OperatorRegistry,
    reconciler: Reconciler,
    cache: Cache,
    *,
    login: Callable[[], kopf.ConnectionInfo],
    check_secrets: bool,
) -> None:
    """Register all handlers on ``registry`` (no import-time side effects)."""
    on = {"registry": registry}

    @kopf.on.login(**on)  # type: ignore[arg-type]
    def login_handler(**_: Any) -> kopf.ConnectionInfo:
        return login()

    @kopf.on.event(api.GROUP, api.VERSION, api.PLURAL, id="hatchetworker", **on)  # type: ignore[arg-type]
    async def worker_event(event: Mapping[str, Any], namespace: str, name: str, body: kopf.Body, **_: Any) -> None:
        key = (namespace, name)
        if event.get("type") == "DELETED":
            cache.put_worker(key, None)
            reconciler.forget(key)
        else:
            slim = cache.put_worker(key, body)
            if check_secrets and slim is not None:
                await cache.secrets.ensure((namespace, s) for s in referenced_secrets(slim["spec"]))
            await reconciler.reconcile(key, slim)
        reconciler.metrics.managed.set(len(cache.workers))

    if not check_secrets:
        return

    async def secret_changed(secret: tuple[str, str]) -> None:
        namespace, name = secret
        for owner in cache.secret_users(namespace, name):
            await reconciler.reconcile((namespace, owner))

    tasks: list[asyncio.Task[None]] = []

    @kopf.on.startup(**on)  # type: ignore[arg-type]
    async def start_secret_checks(**_: Any) -> None:
        tasks.append(asyncio.create_task(cache.secrets.poll(cache.needed_secret_keys, secret_changed)))

    @kopf.on.cleanup(**on)  # type: ignore[arg-type]
    async def stop_secret_checks(**_: Any) -> None:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
