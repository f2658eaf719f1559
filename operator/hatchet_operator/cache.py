"""The operator's in-memory view of the cluster: HatchetWorkers, their Deployments, Secret key names.

Filled once by paginated LISTs before kopf starts (``prime``), then kept current by kopf's watch
events (``handlers``). Priming first means the first reconcile of every HatchetWorker already sees
its existing Deployment, so a restarted operator re-applies nothing; doing it here rather than with
kopf indices avoids kopf's start-up barrier, whose cost grows with the square of the object count.
Referenced Secrets are read one by one by GET (``secretcheck``: no list/watch of Secrets) and reduced
to their key names at once: the operator never keeps Secret values.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from typing import Any

from hatchet_operator import render
from hatchet_operator.api import v1alpha1 as api
from hatchet_operator.kube import ApiError, Client
from hatchet_operator.observed import ObservedDeployment, slim_worker
from hatchet_operator.secretcheck import SecretChecker

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


def needed_keys(spec: Mapping[str, Any]) -> dict[str, set[str]]:
    """Secret name -> data keys a HatchetWorker's pods need (from the raw spec; as render.secret_references)."""
    conn = spec.get("hatchet") or {}
    token = conn.get("tokenSecretRef") or {}
    out: dict[str, set[str]] = {
        token.get("name") or api.DEFAULT_TOKEN_SECRET: {token.get("key") or api.DEFAULT_TOKEN_KEY}
    }
    tls = conn.get("tls") or {}
    ca = tls.get("caSecretRef") or {}
    if ca.get("name"):
        out.setdefault(ca["name"], set()).add(ca.get("key") or api.DEFAULT_CA_KEY)
    cert = tls.get("clientCertSecretRef") or {}
    if cert.get("name"):
        out.setdefault(cert["name"], set()).update({"tls.crt", "tls.key"})
    return out


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
        self.secrets = SecretChecker()
        self._users: dict[Key, set[str]] = {}  # (namespace, secret) -> HatchetWorker names
        self._refs: dict[Key, set[str]] = {}  # (namespace, worker) -> secret names
        self._deployment_rv: dict[str | None, str] = {}  # scope -> resourceVersion to watch from

    # ---- Views -----------------------------------------------------------------------------------
    def worker(self, key: Key) -> Mapping[str, Any] | None:
        return self.workers.get(key)

    def deployment(self, key: Key) -> ObservedDeployment | None:
        return self.deployments.get(key)

    def secret_keys(self, namespace: str, name: str) -> frozenset[str] | None:
        return self.secrets.keys(namespace, name)

    def drop_worker(self, key: Key) -> None:
        self.put_worker(key, None)

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

    def referenced_secret_keys(self) -> set[Key]:
        """(namespace, Secret) of every Secret some cached HatchetWorker references."""
        return set(self._users)

    def needed_secret_keys(self) -> dict[Key, frozenset[str]]:
        """(namespace, Secret) -> the data keys the HatchetWorkers referencing it need."""
        out: dict[Key, set[str]] = {}
        for (namespace, _), body in self.workers.items():
            for secret, keys in needed_keys(body.get("spec") or {}).items():
                out.setdefault((namespace, secret), set()).update(keys)
        return {k: frozenset(v) for k, v in out.items()}

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
            self._deployment_rv[ns] = await self._list_deployments(client, ns)
        self.secrets.client = client
        if check_secrets:  # one GET per distinct referenced Secret, a few at a time
            await self.secrets.ensure(self.referenced_secret_keys())
        log.info(
            "primed: %d HatchetWorkers, %d Deployments, %d Secrets",
            len(self.workers),
            len(self.deployments),
            len(self.referenced_secret_keys()) if check_secrets else 0,
        )

    async def _list_deployments(self, client: Client, ns: str | None) -> str:
        """LIST the managed Deployments of one scope into the cache; returns the list's resourceVersion."""
        versions: list[str] = []
        seen: set[Key] = set()
        async for item in _list(client, "/apis/apps/v1", "deployments", ns, MANAGED_SELECTOR, versions):
            owner = deployment_owner(item)
            if owner:
                key = (item["metadata"]["namespace"], owner)
                seen.add(key)
                self.put_deployment(key, item)
        for key in [k for k in self.deployments if (ns is None or k[0] == ns) and k not in seen]:
            self.put_deployment(key, None)
        return versions[-1] if versions else ""

    async def watch_deployments(
        self, client: Client, namespaces: tuple[str, ...], changed: Callable[[Key, bool], Coroutine[Any, Any, Any]]
    ) -> None:
        """Watch the managed Deployments (server-side label selector); call ``changed(key, deleted)``.

        The operator's own watch rather than kopf's: kopf filters labels on the client, so it would
        stream, parse and track every Deployment in the watched namespaces.
        """
        scopes: list[str | None] = list(namespaces) or [None]
        await asyncio.gather(*(self._watch_scope(client, ns, changed) for ns in scopes))

    async def _watch_scope(
        self, client: Client, ns: str | None, changed: Callable[[Key, bool], Coroutine[Any, Any, Any]]
    ) -> None:
        path = f"/apis/apps/v1/namespaces/{ns}/deployments" if ns else "/apis/apps/v1/deployments"
        tasks: set[asyncio.Task[Any]] = set()

        def dispatch(key: Key, deleted: bool) -> None:
            task: asyncio.Task[Any] = asyncio.get_running_loop().create_task(changed(key, deleted))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        while True:
            try:
                rv = self._deployment_rv.get(ns) or ""
                if not rv:  # First start without a LIST, or the watch fell too far behind: list again.
                    before = dict(self.deployments)
                    rv = self._deployment_rv[ns] = await self._list_deployments(client, ns)
                    for key in set(before) | set(self.deployments):
                        if before.get(key) is not self.deployments.get(key):
                            dispatch(key, key not in self.deployments)
                params = {
                    "watch": "true",
                    "labelSelector": MANAGED_SELECTOR,
                    "resourceVersion": rv,
                    "allowWatchBookmarks": "true",
                    "timeoutSeconds": "300",
                }
                async for line in client.stream(path, params=params, read_timeout=WATCH_SILENCE):
                    event = json.loads(line)
                    obj = event.get("object") or {}
                    kind = event.get("type")
                    if kind == "ERROR":
                        if obj.get("code") == 410:
                            self._deployment_rv[ns] = ""
                        break
                    new_rv = (obj.get("metadata") or {}).get("resourceVersion")
                    if new_rv:
                        self._deployment_rv[ns] = new_rv
                    if kind == "BOOKMARK":
                        continue
                    owner = deployment_owner(obj)
                    if owner:
                        key = (obj["metadata"]["namespace"], owner)
                        self.put_deployment(key, None if kind == "DELETED" else obj)
                        dispatch(key, kind == "DELETED")
            except asyncio.CancelledError:
                raise
            except ApiError as e:
                if e.status == 410:
                    self._deployment_rv[ns] = ""
                else:
                    log.warning("Deployment watch: %s; reconnecting", e)
                    await asyncio.sleep(1.0)
            except Exception as e:  # a dropped or silent stream: reconnect from the last version
                log.info("Deployment watch ended (%r); reconnecting", e)
                await asyncio.sleep(1.0)


# A watch stream silent for this long is considered dead (bookmarks arrive about every minute).
WATCH_SILENCE = 90.0


async def _list(
    client: Client,
    prefix: str,
    plural: str,
    namespace: str | None,
    selector: str | None = None,
    versions: list[str] | None = None,
) -> AsyncIterator[dict[str, Any]]:
    path = f"{prefix}/namespaces/{namespace}/{plural}" if namespace else f"{prefix}/{plural}"
    params = {"limit": str(PAGE)}
    if selector:
        params["labelSelector"] = selector
    while True:
        page = await client.request("GET", path, params=params, resource=plural)
        for item in page.get("items", []):
            yield item
        if versions is not None:
            versions.append(str((page.get("metadata") or {}).get("resourceVersion") or ""))
        token = (page.get("metadata") or {}).get("continue") or ""
        if not token:
            return
        params["continue"] = token
