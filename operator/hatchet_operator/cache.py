"""The operator's in-memory view of the cluster: HatchetWorkers, their Deployments, Secret key names.

Filled once by paginated LISTs before kopf starts (``prime``), then kept current by kopf's watch
events (``handlers``). Priming first means the first reconcile of every HatchetWorker already sees
its existing Deployment, so a restarted operator re-applies nothing; doing it here rather than with
kopf indices avoids kopf's start-up barrier, whose cost grows with the square of the object count.
Secrets are reduced to their key names at once: the operator never keeps Secret values.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

from hatchet_operator import render
from hatchet_operator.api import v1alpha1 as api
from hatchet_operator.kube import Client
from hatchet_operator.observed import ObservedDeployment, slim_worker

log = logging.getLogger(__name__)

Key = tuple[str, str]
MANAGED_SELECTOR = f"{render.LABEL_MANAGED_BY}={render.MANAGED_BY}"
PAGE = 500


def referenced_secrets(spec: Mapping[str, Any]) -> set[str]:
    """Names of the Secrets a HatchetWorker's pods need (from the raw spec)."""
    conn = spec.get("hatchet") or {}
    names = {(conn.get("tokenSecretRef") or {}).get("name") or api.DEFAULT_TOKEN_SECRET}
    tls = conn.get("tls") or {}
    for ref in ("caSecretRef", "clientCertSecretRef"):
        if (tls.get(ref) or {}).get("name"):
            names.add(tls[ref]["name"])
    return names


def deployment_owner(body: Mapping[str, Any]) -> str | None:
    """The HatchetWorker a managed Deployment belongs to."""
    meta = body.get("metadata", {}) or {}
    for ref in meta.get("ownerReferences", []) or []:
        if ref.get("kind") == api.KIND and str(ref.get("apiVersion", "")).startswith(api.GROUP + "/"):
            return str(ref.get("name"))
    instance = (meta.get("labels") or {}).get(render.LABEL_INSTANCE)
    return str(instance) if instance else None


class Cache:
    """Implements ``reconcile.Views``."""

    def __init__(self) -> None:
        self.workers: dict[Key, dict[str, Any]] = {}
        self.deployments: dict[Key, ObservedDeployment] = {}
        self.secrets: dict[Key, frozenset[str]] = {}
        self._users: dict[Key, set[str]] = {}  # (namespace, secret) -> HatchetWorker names
        self._refs: dict[Key, set[str]] = {}  # (namespace, worker) -> secret names

    # ---- Views -----------------------------------------------------------------------------------
    def worker(self, key: Key) -> Mapping[str, Any] | None:
        return self.workers.get(key)

    def deployment(self, key: Key) -> ObservedDeployment | None:
        return self.deployments.get(key)

    def secret_keys(self, namespace: str, name: str) -> frozenset[str] | None:
        return self.secrets.get((namespace, name))

    # ---- updates from LISTs and watch events ------------------------------------------------------
    def put_worker(self, key: Key, body: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """Store (or, with None, drop) a HatchetWorker; returns the slim copy stored."""
        namespace, name = key
        for secret in self._refs.pop(key, set()):
            users = self._users.get((namespace, secret))
            if users is not None:
                users.discard(name)
                if not users:
                    del self._users[(namespace, secret)]
        if body is None:
            self.workers.pop(key, None)
            return None
        slim = slim_worker(body)
        self.workers[key] = slim
        refs = referenced_secrets(slim["spec"])
        self._refs[key] = refs
        for secret in refs:
            self._users.setdefault((namespace, secret), set()).add(name)
        return slim

    def put_deployment(self, key: Key, body: Mapping[str, Any] | None) -> None:
        if body is None:
            self.deployments.pop(key, None)
        else:
            self.deployments[key] = ObservedDeployment.of(body)

    def put_secret(self, key: Key, body: Mapping[str, Any] | None) -> None:
        if body is None:
            self.secrets.pop(key, None)
        else:
            self.secrets[key] = frozenset((body.get("data") or {}).keys())

    def secret_users(self, namespace: str, secret: str) -> list[str]:
        """HatchetWorkers in ``namespace`` that reference Secret ``secret``."""
        return sorted(self._users.get((namespace, secret), ()))

    # ---- priming ----------------------------------------------------------------------------------
    async def prime(self, client: Client, namespaces: tuple[str, ...], check_secrets: bool) -> None:
        """LIST everything the operator watches, page by page."""
        scopes: list[str | None] = list(namespaces) or [None]
        for ns in scopes:
            async for item in _list(client, f"/apis/{api.GROUP}/{api.VERSION}", api.PLURAL, ns):
                meta = item["metadata"]
                # Items of a LIST carry no apiVersion/kind; events posted about them need both.
                self.put_worker(
                    (meta["namespace"], meta["name"]), {**item, "apiVersion": api.API_VERSION, "kind": api.KIND}
                )
            async for item in _list(client, "/apis/apps/v1", "deployments", ns, MANAGED_SELECTOR):
                owner = deployment_owner(item)
                if owner:
                    self.put_deployment((item["metadata"]["namespace"], owner), item)
            if check_secrets:
                async for item in _list(client, "/api/v1", "secrets", ns):
                    meta = item["metadata"]
                    self.put_secret((meta["namespace"], meta["name"]), item)
        log.info(
            "primed: %d HatchetWorkers, %d Deployments, %d Secrets",
            len(self.workers),
            len(self.deployments),
            len(self.secrets),
        )


async def _list(
    client: Client, prefix: str, plural: str, namespace: str | None, selector: str | None = None
) -> AsyncIterator[dict[str, Any]]:
    path = f"{prefix}/namespaces/{namespace}/{plural}" if namespace else f"{prefix}/{plural}"
    # Secrets can be large (Helm keeps releases in them): smaller pages bound the transient memory.
    params = {"limit": str(100 if plural == "secrets" else PAGE)}
    if selector:
        params["labelSelector"] = selector
    while True:
        page = await client.request("GET", path, params=params, resource=plural)
        for item in page.get("items", []):
            yield item
        token = (page.get("metadata") or {}).get("continue") or ""
        if not token:
            return
        params["continue"] = token
