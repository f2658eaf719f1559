"""kopf registrations: watch-fed indices and thin event handlers that call ``Reconciler.reconcile``.

Only raw-event handlers (``on.event``) and indices are used: kopf then writes nothing of its own to
the objects (no finalizers, no last-handled-configuration annotation), so an idle fleet costs zero
writes. kopf fills every index from the initial listing before calling any handler, so a restarted
operator sees the existing Deployments before it decides anything and re-applies nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import kopf

from hatchet_operator import render, status
from hatchet_operator.api import v1alpha1 as api
from hatchet_operator.reconcile import Key, Reconciler, strip

log = logging.getLogger(__name__)

MANAGED = {render.LABEL_MANAGED_BY: render.MANAGED_BY}


def _first(index: Any, key: Any) -> Any:
    store = index.get(key) if index is not None else None
    if store is None:
        return None
    return next(iter(store), None)


class KopfViews:
    """The ``reconcile.Views`` protocol over kopf indices (live objects, updated by the watches)."""

    def __init__(self, workers: Any, deployments: Any, secrets: Any) -> None:
        self.workers = workers
        self.deployments = deployments
        self.secrets = secrets

    def worker(self, key: Key) -> Mapping[str, Any] | None:
        return _first(self.workers, key)  # type: ignore[no-any-return]

    def deployment(self, key: Key) -> Mapping[str, Any] | None:
        return _first(self.deployments, key)  # type: ignore[no-any-return]

    def secret_keys(self, namespace: str, name: str) -> frozenset[str] | None:
        return _first(self.secrets, (namespace, name))  # type: ignore[no-any-return]


def post_event(body: Mapping[str, Any], event: status.Event) -> None:
    """Post a Kubernetes Event about a HatchetWorker (kopf queues and sends it)."""
    kopf.event(dict(body), type=event.type, reason=event.reason, message=event.message[:1024])  # type: ignore[arg-type]


def _secret_names(spec: Mapping[str, Any]) -> set[str]:
    conn = spec.get("hatchet") or {}
    names = {(conn.get("tokenSecretRef") or {}).get("name") or api.DEFAULT_TOKEN_SECRET}
    tls = conn.get("tls") or {}
    for ref in ("caSecretRef", "clientCertSecretRef"):
        if (tls.get(ref) or {}).get("name"):
            names.add(tls[ref]["name"])
    return names


def register(
    registry: kopf.OperatorRegistry,
    reconciler: Reconciler,
    *,
    login: Callable[[], kopf.ConnectionInfo],
    check_secrets: bool,
) -> None:
    """Register all handlers on ``registry`` (no import-time side effects)."""
    on = {"registry": registry}

    def wire(kwargs: Mapping[str, Any]) -> None:
        if reconciler.views is None:
            reconciler.views = KopfViews(
                kwargs.get("hw_index"), kwargs.get("deployment_index"), kwargs.get("secret_index")
            )

    @kopf.on.login(**on)  # type: ignore[arg-type]
    def login_handler(**_: Any) -> kopf.ConnectionInfo:
        return login()

    @kopf.index(api.GROUP, api.VERSION, api.PLURAL, id="hw_index", **on)  # type: ignore[arg-type]
    def hw_index(namespace: str, name: str, body: kopf.Body, **_: Any) -> dict[Key, dict[str, Any]]:
        return {(namespace, name): dict(body)}

    @kopf.index(api.GROUP, api.VERSION, api.PLURAL, id="secret_refs_index", **on)  # type: ignore[arg-type]
    def secret_refs_index(namespace: str, name: str, spec: kopf.Spec, **_: Any) -> dict[Key, str]:
        return {(namespace, secret): name for secret in _secret_names(spec)}

    @kopf.index("apps", "v1", "deployments", labels=MANAGED, id="deployment_index", **on)  # type: ignore[arg-type]
    def deployment_index(namespace: str, name: str, body: kopf.Body, **_: Any) -> dict[Key, dict[str, Any]]:
        return {(namespace, name): strip(body)}

    @kopf.on.event(api.GROUP, api.VERSION, api.PLURAL, id="hatchetworker", **on)  # type: ignore[arg-type]
    async def worker_event(event: Mapping[str, Any], namespace: str, name: str, body: kopf.Body, **kwargs: Any) -> None:
        wire(kwargs)
        reconciler.metrics.managed.set(len(kwargs.get("hw_index") or ()))
        if event.get("type") == "DELETED":
            reconciler.forget((namespace, name))
            return
        await reconciler.reconcile((namespace, name), dict(body))

    @kopf.on.event("apps", "v1", "deployments", labels=MANAGED, id="deployment", **on)  # type: ignore[arg-type]
    async def deployment_event(
        event: Mapping[str, Any], namespace: str, name: str, body: kopf.Body, **kwargs: Any
    ) -> None:
        wire(kwargs)
        owners = [
            ref.get("name")
            for ref in body.get("metadata", {}).get("ownerReferences", []) or []
            if ref.get("kind") == api.KIND and ref.get("apiVersion", "").startswith(api.GROUP + "/")
        ]
        owner = owners[0] if owners else body.get("metadata", {}).get("labels", {}).get(render.LABEL_INSTANCE)
        if not owner:
            return
        if event.get("type") == "DELETED":
            reconciler.deployment_gone((namespace, owner))
        await reconciler.reconcile((namespace, owner))

    if not check_secrets:
        return

    @kopf.index("v1", "secrets", id="secret_index", **on)  # type: ignore[arg-type]
    def secret_index(namespace: str, name: str, body: kopf.Body, **_: Any) -> dict[Key, frozenset[str]]:
        # Only the key names: the operator never keeps Secret values in memory.
        return {(namespace, name): frozenset((body.get("data") or {}).keys())}

    @kopf.on.event("v1", "secrets", id="secret", **on)  # type: ignore[arg-type]
    async def secret_event(namespace: str, name: str, **kwargs: Any) -> None:
        wire(kwargs)
        refs = kwargs.get("secret_refs_index")
        store = refs.get((namespace, name)) if refs is not None else None
        for owner in sorted(set(store or ())):
            await reconciler.reconcile((namespace, owner))
