"""kopf registrations: thin raw-event handlers that keep the cache current and call ``reconcile``.

HatchetWorkers and Secrets come through kopf; managed Deployments through the cache's own
label-selected watch (``cache.Cache.watch_deployments``).

Only raw-event handlers (``on.event``) are used: kopf then writes nothing of its own to the objects
(no finalizers, no last-handled-configuration annotation), so an idle fleet costs zero writes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import kopf

from hatchet_operator.api import v1alpha1 as api
from hatchet_operator.cache import Cache
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
            await reconciler.reconcile(key, slim)
        reconciler.metrics.managed.set(len(cache.workers))

    if not check_secrets:
        return

    @kopf.on.event("v1", "secrets", id="secret", **on)  # type: ignore[arg-type]
    async def secret_event(event: Mapping[str, Any], namespace: str, name: str, body: kopf.Body, **_: Any) -> None:
        before = cache.secret_keys(namespace, name)
        cache.put_secret((namespace, name), None if event.get("type") == "DELETED" else body)
        if cache.secret_keys(namespace, name) == before:
            return  # Same key names: nothing a HatchetWorker depends on has changed.
        for owner in cache.secret_users(namespace, name):
            await reconciler.reconcile((namespace, owner))
