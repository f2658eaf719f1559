"""A small asynchronous Kubernetes API client: the only module that writes to the apiserver.

Built on aiohttp (which kopf already uses) and kopf's connection info, instead of the official
``kubernetes`` package: that package's import alone costs tens of megabytes of resident memory and
its calls are synchronous. The operator needs only a handful of verbs: server-side apply, a merge
patch of ``/status``, and get/create/replace for its Lease.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import kopf

log = logging.getLogger(__name__)

WriteHook = Callable[[str, str, int], None]


class ApiError(Exception):
    """A non-2xx answer from the apiserver."""

    def __init__(self, status: int, reason: str, message: str, causes: tuple[str, ...] = ()) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message
        self.causes = causes

    @property
    def namespace_terminating(self) -> bool:
        """The namespace is being deleted: nothing new can be created in it, ever."""
        return "NamespaceTerminating" in self.causes


def _error(status: int, text: str) -> ApiError:
    try:
        body = json.loads(text)
        causes = tuple(str(c.get("reason", "")) for c in (body.get("details") or {}).get("causes", []) or [])
        return ApiError(status, str(body.get("reason", "")), str(body.get("message", text)), causes)
    except (ValueError, AttributeError):
        return ApiError(status, "", text[:500])


class Client:
    """Authenticated HTTP access to one apiserver."""

    def __init__(
        self,
        login: Callable[[], kopf.ConnectionInfo],
        *,
        user_agent: str,
        timeout: float = 30.0,
        on_write: WriteHook | None = None,
    ) -> None:
        self._login = login
        self._user_agent = user_agent
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._on_write = on_write
        self._session: aiohttp.ClientSession | None = None
        self._server = ""
        self._lock = asyncio.Lock()
        self.relogins = 0
        """How often a 401 made the client log in again (for logs and tests)."""

    async def _open(self, stale: aiohttp.ClientSession | None = None) -> aiohttp.ClientSession:
        """The current session; with ``stale``, log in again first unless someone already replaced it.

        A 401 means the credentials were rotated or revoked (a projected service-account token is
        renewed on disk about hourly). Only the caller still holding the rejected session logs in
        again: concurrent 401s cause one new login, not one per request, and no request in flight on
        a fresh session has it closed under it.
        """
        async with self._lock:
            if self._session is not None and (stale is None or self._session is not stale):
                return self._session
            if self._session is not None:
                self.relogins += int(stale is not None)
                await self._session.close()
            info = self._login()
            self._server = info.server.rstrip("/")
            headers = {**info.as_http_headers(), "User-Agent": self._user_agent}
            self._session = aiohttp.ClientSession(
                # A few connections suffice (HTTP/1.1 keep-alive); each TLS connection costs ~300 KB.
                connector=aiohttp.TCPConnector(ssl=info.as_ssl_context(), limit=16),
                headers=headers,
                timeout=self._timeout,
            )
            return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        content_type: str = "application/json",
        params: dict[str, str] | None = None,
        resource: str = "",
    ) -> Any:
        """Send one request; return the decoded JSON body, raise ApiError on non-2xx."""
        data = None if body is None else json.dumps(body, separators=(",", ":"))
        session = await self._open()
        for attempt in (0, 1):
            async with session.request(
                method,
                self._server + path,
                data=data,
                params=params,
                headers={"Content-Type": content_type} if data is not None else None,
            ) as response:
                text = await response.text()
                if method != "GET" and self._on_write is not None:
                    self._on_write(resource or path, method, response.status)
                if response.status == 401 and attempt == 0:
                    log.info("401 from the apiserver; logging in again")
                    session = await self._open(stale=session)
                    continue
                if response.status >= 300:
                    raise _error(response.status, text)
                return json.loads(text) if text else None
        raise AssertionError("unreachable")

    async def stream(self, path: str, *, params: dict[str, str], read_timeout: float) -> AsyncIterator[bytes]:
        """Yield the lines of a streaming (watch) response; a silent stream ends after read_timeout.

        A 401 logs in again and retries once, as ``request`` does: without it a rotated token would
        leave the watch reconnecting forever with the old one while liveness stays green.
        """
        session = await self._open()
        timeout = aiohttp.ClientTimeout(total=None, sock_read=read_timeout)
        for attempt in (0, 1):
            async with session.get(self._server + path, params=params, timeout=timeout) as response:
                if response.status == 401 and attempt == 0:
                    log.info("401 from the apiserver on a watch; logging in again")
                    session = await self._open(stale=session)
                    continue
                if response.status >= 300:
                    raise _error(response.status, await response.text())
                async for line in response.content:
                    if line.strip():
                        yield line
                return

    async def get(self, path: str, resource: str = "") -> Any | None:
        """GET, or None on 404."""
        try:
            return await self.request("GET", path, resource=resource)
        except ApiError as e:
            if e.status == 404:
                return None
            raise

    async def apply(self, path: str, config: dict[str, Any], field_manager: str, resource: str) -> dict[str, Any]:
        """Server-side apply (force: the operator owns these fields) and return the live object."""
        result: dict[str, Any] = await self.request(
            "PATCH",
            path,
            body=config,
            content_type="application/apply-patch+yaml",
            params={"fieldManager": field_manager, "force": "true"},
            resource=resource,
        )
        return result

    async def patch_status(self, path: str, status: dict[str, Any], field_manager: str, resource: str) -> Any:
        """Merge-patch the /status subresource."""
        return await self.request(
            "PATCH",
            path + "/status",
            body={"status": status},
            content_type="application/merge-patch+json",
            params={"fieldManager": field_manager},
            resource=resource,
        )


def deployment_path(namespace: str, name: str | None = None) -> str:
    base = f"/apis/apps/v1/namespaces/{namespace}/deployments"
    return f"{base}/{name}" if name else base


def worker_path(namespace: str, name: str) -> str:
    from hatchet_operator.api import v1alpha1 as api

    return f"/apis/{api.GROUP}/{api.VERSION}/namespaces/{namespace}/{api.PLURAL}/{name}"


def lease_path(namespace: str, name: str | None = None) -> str:
    base = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"
    return f"{base}/{name}" if name else base
