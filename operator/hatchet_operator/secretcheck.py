"""Check the Secrets HatchetWorkers reference by GET of each named Secret (no list/watch of Secrets).

The operator needs only to know whether a referenced Secret exists and which keys it has, so it
asks for exactly those Secrets (RBAC: ``get`` on secrets) and never receives an unrelated Secret's
body. The price, compared with a watch, is latency: a Secret is re-read when a HatchetWorker that
names it changes, and in the background every ``MISSING_TTL`` seconds while it is missing or lacks a
key a HatchetWorker needs (so creating a forgotten Secret or key heals the resource quickly) and
every ``PRESENT_TTL`` seconds otherwise (so a deletion or a removed key is noticed within that
time). Only key names are kept.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from hatchet_operator.kube import ApiError, Client

log = logging.getLogger(__name__)

Key = tuple[str, str]  # (namespace, Secret name)
MISSING_TTL = 5.0
PRESENT_TTL = 60.0
POLL_INTERVAL = 2.0
CONCURRENCY = 8


@dataclass
class _Entry:
    keys: frozenset[str] | None  # None: the Secret does not exist
    checked: float  # time.monotonic() of the last answer


class SecretChecker:
    """Key names of referenced Secrets, fetched by GET and refreshed on a TTL."""

    def __init__(self, client: Client | None = None) -> None:
        self.client = client
        self._entries: dict[Key, _Entry] = {}
        self._inflight: dict[Key, asyncio.Future[bool]] = {}
        self._gate = asyncio.Semaphore(CONCURRENCY)
        self.gets = 0
        """GET requests made (for tests and logs)."""

    def keys(self, namespace: str, name: str) -> frozenset[str] | None:
        entry = self._entries.get((namespace, name))
        return entry.keys if entry else None

    def known(self, key: Key) -> bool:
        return key in self._entries

    def forget_unreferenced(self, referenced: set[Key]) -> None:
        for key in [k for k in self._entries if k not in referenced]:
            del self._entries[key]

    def stale(self, key: Key, now: float, needed: frozenset[str] = frozenset()) -> bool:
        entry = self._entries.get(key)
        if entry is None:
            return True
        lacking = entry.keys is None or not needed <= entry.keys
        return now - entry.checked >= (MISSING_TTL if lacking else PRESENT_TTL)

    async def refresh(self, key: Key) -> bool:
        """GET one Secret; True when its existence or key names changed. Concurrent calls share one GET."""
        running = self._inflight.get(key)
        if running is not None:
            return await asyncio.shield(running)
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            changed = await self._fetch(key)
            future.set_result(changed)
            return changed
        except BaseException as e:
            future.set_exception(e)
            future.exception()  # retrieved: no "never retrieved" warning when nobody else waited
            raise
        finally:
            del self._inflight[key]

    async def _fetch(self, key: Key) -> bool:
        if self.client is None:
            raise RuntimeError("no client yet")
        namespace, name = key
        async with self._gate:
            self.gets += 1
            try:
                body = await self.client.get(f"/api/v1/namespaces/{namespace}/secrets/{name}", resource="secrets")
            except ApiError as e:
                # Keep what was known (a 403 or a 5xx says nothing about the Secret); try again soon.
                log.warning("cannot read Secret %s/%s: %s", namespace, name, e)
                return False
        keys = None if body is None else frozenset((body.get("data") or {}).keys())
        before = self._entries.get(key)
        self._entries[key] = _Entry(keys, time.monotonic())
        return before is None or before.keys != keys

    async def ensure(self, keys: Iterable[Key]) -> None:
        """Fetch the Secrets never read yet (a new HatchetWorker naming a new Secret)."""
        todo = [k for k in set(keys) if k not in self._entries]
        if todo:
            await asyncio.gather(*(self.refresh(k) for k in todo), return_exceptions=True)

    async def poll(
        self,
        referenced: Callable[[], Mapping[Key, frozenset[str]]],
        changed: Callable[[Key], Coroutine[Any, Any, Any]],
        interval: float = POLL_INTERVAL,
    ) -> None:
        """Forever: re-read stale referenced Secrets (``referenced``: Secret -> keys needed); call
        ``changed`` for each whose keys changed."""
        while True:
            await asyncio.sleep(interval)
            try:
                wanted = referenced()
                self.forget_unreferenced(set(wanted))
                now = time.monotonic()
                for key in sorted(k for k, needed in wanted.items() if self.stale(k, now, needed)):
                    if await self.refresh(key):
                        await changed(key)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # a dropped connection: next round
                log.info("Secret check round failed: %r", e)
