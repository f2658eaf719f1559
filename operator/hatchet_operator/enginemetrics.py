"""The autoscaler's inputs, read from the Hatchet engine's REST API: one poll per tenant.

Two requests per tenant and interval, whatever the number of HatchetWorkers on it:

- ``GET /api/v1/tenants/{tenant}/worker`` (statuses ACTIVE and PAUSED): every worker with its
  registered actions, labels and slot config (``available``/``limit`` per slot type). Workers are
  attributed to HatchetWorkers by the ``hatchetworker`` label the operator injects; the slots in use
  (limit - available) are the running work of exactly that HatchetWorker.
- ``GET /api/v1/tenants/{tenant}/task-stats?taskNames=...`` with the explicit task names of every
  action any registered HatchetWorker serves (missing names read as zero, not as absent), whose
  ``queued.queues`` map gives the queued count per action (``workflow:task``), so tasks of the same
  name in different workflows are told apart.

Plus, only when an action is first seen or a new worker registers it, the workflow definitions
(``enginedefs.Definitions``): what one task of each action costs in slots, per pool, and which
worker labels it requires. Those reads are per tenant too, and per workflow version, not per poll.

Polling (``TenantPoller``): a bounded interval with jitter (so many operators or tenants do not
poll in step), exponential back-off on errors up to a ceiling, and the last good reading kept but
marked stale while the engine cannot be read: consumers must not scale down on it (see
``autoscale.decide``'s ``metrics_available``). Per-HatchetWorker views (``Reading``) are derived
from the one tenant-wide reading.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from hatchet_operator import autoscale
from hatchet_operator.enginedefs import ActionDef, Definitions, shape

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 15.0
MIN_INTERVAL = 2.0
MAX_INTERVAL = 300.0
MAX_BACKOFF = 300.0
# taskNames go in the query string; beyond this many characters they are split over several
# requests (still per tenant, not per HatchetWorker).
MAX_NAMES_CHARS = 6000
LISTED_STATUSES = ("ACTIVE", "PAUSED")


class EngineError(Exception):
    """The engine answered with an error, or could not be reached."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def token_claims(token: str) -> dict[str, Any]:
    """The claims of a Hatchet API token (a JWT), read without verifying it: the engine verifies
    it; the operator only needs the tenant (``sub``) and the REST address (``server_url``)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError) as e:
        raise ValueError("the Hatchet token is not a JWT (three base64url parts)") from e
    if not isinstance(claims, dict) or not isinstance(claims.get("sub"), str):
        raise ValueError("the Hatchet token has no tenant (sub claim)")
    return claims


def task_name(action: str) -> str:
    """The task-stats key of an action: the task's readable id, after the ``workflow:`` part."""
    return action.split(":", 1)[1] if ":" in action else action


@dataclass(frozen=True)
class EngineWorker:
    """One worker as the engine lists it."""

    id: str
    name: str
    status: str
    actions: frozenset[str]
    labels: Mapping[str, str]
    slots: Mapping[str, tuple[int, int]]
    """Per slot type (``default``, ``durable``): (available, limit)."""

    def carries(self, labels: Mapping[str, str]) -> bool:
        """Whether this worker has every one of ``labels`` (how a HatchetWorker's workers are told)."""
        return all(self.labels.get(k) == v for k, v in labels.items())

    @property
    def used_slots(self) -> int:
        return sum(max(0, limit - available) for available, limit in self.slots.values())

    @property
    def slot_limit(self) -> int | None:
        """Slots of the default pool (what ``spec.slots`` sets), None if the engine reports none."""
        pool = self.slots.get("default")
        return pool[1] if pool else None

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> EngineWorker:
        slots = {
            str(kind): (int(v.get("available") or 0), int(v.get("limit") or 0))
            for kind, v in (row.get("slotConfig") or {}).items()
            if isinstance(v, Mapping)
        }
        labels = {str(lab["key"]): str(lab.get("value", "")) for lab in row.get("labels") or () if "key" in lab}
        return cls(
            id=str((row.get("metadata") or {}).get("id", "")),
            name=str(row.get("name", "")),
            status=str(row.get("status", "")),
            actions=frozenset(str(a) for a in row.get("actions") or ()),
            labels=labels,
            slots=slots,
        )


@dataclass(frozen=True)
class TaskStat:
    queued: int
    running: int
    queues: Mapping[str, int]
    """Queued count per action (``workflow:task``)."""


class EngineClient:
    """The two REST reads the autoscaler needs, for one tenant (bearer-token auth)."""

    def __init__(self, rest_url: str, token: str, session: aiohttp.ClientSession, timeout: float = 10.0) -> None:
        self.rest_url = rest_url.rstrip("/")
        self.tenant = str(token_claims(token)["sub"])
        self._headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self.requests = 0
        """Requests sent (a test counts one poll per tenant with it)."""

    async def _get(self, path: str, params: list[tuple[str, str]]) -> Any:
        self.requests += 1
        try:
            async with self._session.get(
                f"{self.rest_url}{path}", params=params, headers=self._headers, timeout=self._timeout
            ) as r:
                body = await r.read()
                if r.status != 200:
                    raise EngineError(f"GET {path}: HTTP {r.status}: {body[:300]!r}", r.status)
                return json.loads(body)
        except (aiohttp.ClientError, TimeoutError, ValueError) as e:
            raise EngineError(f"GET {path}: {e!r}") from e

    async def set_paused(self, worker_id: str, paused: bool) -> None:
        """Pause (no new task is assigned to it) or unpause one worker: ``PATCH /api/v1/workers/{id}``."""
        self.requests += 1
        path = f"/api/v1/workers/{worker_id}"
        try:
            async with self._session.patch(
                f"{self.rest_url}{path}", json={"isPaused": paused}, headers=self._headers, timeout=self._timeout
            ) as r:
                body = await r.read()
                if r.status != 200:
                    raise EngineError(f"PATCH {path}: HTTP {r.status}: {body[:300]!r}", r.status)
        except (aiohttp.ClientError, TimeoutError) as e:
            raise EngineError(f"PATCH {path}: {e!r}") from e

    async def workers(self) -> list[EngineWorker]:
        """Active and paused workers of the tenant (all pages)."""
        out: list[EngineWorker] = []
        offset, limit = 0, 1000
        while True:
            params = [("statuses", s) for s in LISTED_STATUSES] + [("offset", str(offset)), ("limit", str(limit))]
            page = await self._get(f"/api/v1/tenants/{self.tenant}/worker", params)
            rows = page.get("rows") or []
            out.extend(EngineWorker.of(r) for r in rows)
            pagination = page.get("pagination") or {}
            if (
                len(rows) < limit
                or not pagination.get("next_page")
                or pagination.get("next_page") == pagination.get("current_page")
            ):
                return out
            offset += limit

    async def task_stats(self, names: Iterable[str]) -> dict[str, TaskStat]:
        """Queued and running counts for exactly these task names (absent ones read as zero)."""
        out: dict[str, TaskStat] = {}
        for chunk in _chunks(sorted(set(names))):
            body = await self._get(f"/api/v1/tenants/{self.tenant}/task-stats", [("taskNames", ",".join(chunk))])
            for name in chunk:
                entry = body.get(name) or {}
                queued = entry.get("queued") or {}
                running = entry.get("running") or {}
                out[name] = TaskStat(
                    queued=int(queued.get("total") or 0),
                    running=int(running.get("total") or 0),
                    queues={str(k): int(v) for k, v in (queued.get("queues") or {}).items()},
                )
        return out


def _chunks(names: list[str]) -> list[list[str]]:
    out: list[list[str]] = []
    size = 0
    for name in names:
        if not out or size + len(name) + 1 > MAX_NAMES_CHARS:
            out.append([])
            size = 0
        out[-1].append(name)
        size += len(name) + 1
    return out


@dataclass(frozen=True)
class Reading:
    """What one HatchetWorker's autoscaling decision needs, cut from one tenant-wide poll."""

    at: float
    """Wall-clock time the poll that produced it started: its data is no older than this."""
    ok: bool
    """False: the last poll failed; the rest is from the last good poll (or empty) and is stale."""
    error: str | None
    workers: tuple[EngineWorker, ...]
    actions: frozenset[str]
    """The workers' registered actions plus those the caller remembered (spec history, status)."""
    queued: Mapping[str, int]
    """Queued tasks per action of ``actions``."""
    running_by_task: Mapping[str, int]
    """task-stats running totals per task name (all workers of the tenant, for cross-checks)."""
    definitions: Mapping[str, ActionDef] = field(default_factory=dict)
    """Slot requests and required labels per action of ``actions`` (absent: one default slot)."""


@dataclass
class _Interest:
    owner: Mapping[str, str]
    actions: frozenset[str] = frozenset()


@dataclass
class TenantPoller:
    """Polls one tenant for every HatchetWorker registered with ``watch``; one poll serves them all."""

    client: EngineClient
    interval: float = DEFAULT_INTERVAL
    jitter: float = 0.1
    max_backoff: float = MAX_BACKOFF
    clock: Callable[[], float] = time.time
    on_poll: Callable[[list[Any]], Awaitable[None]] | None = None
    """Called after each poll with the keys whose readings were refreshed."""
    errors: int = 0
    polls: int = 0
    _interest: dict[Any, _Interest] = field(default_factory=dict)
    _workers: tuple[EngineWorker, ...] = ()
    _stats: dict[str, TaskStat] = field(default_factory=dict)
    _at: float | None = None
    _error: str | None = None
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    """Set to make the sleeping loop look again at when the next poll is due."""
    _now: bool = False
    """Poll at once (``watch`` with new names to read)."""
    _soon: float | None = None
    """A poll asked for before the interval ends (``poll_soon``), on the monotonic clock."""
    _polled: float = float("-inf")
    """When the last poll started, on the monotonic clock."""
    definitions: Definitions = field(default_factory=Definitions)
    _seen_workers: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        if not MIN_INTERVAL <= self.interval <= MAX_INTERVAL:
            raise ValueError(f"poll interval must be {MIN_INTERVAL:g}-{MAX_INTERVAL:g} s, not {self.interval:g}")

    def watch(self, key: Any, owner: Mapping[str, str], actions: Iterable[str] = ()) -> None:
        """Register (or update) a HatchetWorker: ``owner`` the worker labels its workers all carry,
        ``actions`` those known from before (so a fleet at zero still has its queue read)."""
        known = frozenset(actions)
        previous = self._interest.get(key)
        self._interest[key] = _Interest(dict(owner), known)
        if (previous is None or not known <= previous.actions) and self.errors == 0:
            self._now = True  # new names to read: do not wait a whole interval (nor skip a back-off)
            self._wake.set()

    def poll_soon(self, delay: float) -> None:
        """Poll again within ``delay`` seconds instead of at the end of the interval (once: the
        interval resumes after it). A back-off after errors is not shortened, and no poll comes
        sooner than ``MIN_INTERVAL`` after the one before, however many HatchetWorkers ask."""
        if self.errors:
            return
        at = max(time.monotonic() + delay, self._polled + MIN_INTERVAL)
        if self._soon is None or at < self._soon:
            self._soon = at
            self._wake.set()

    def unwatch(self, key: Any) -> None:
        self._interest.pop(key, None)

    @property
    def watched(self) -> int:
        return len(self._interest)

    def next_delay(self) -> float:
        """Seconds to the next poll: the interval with jitter, doubled per consecutive error."""
        base = self.interval * (2 ** min(self.errors, 16)) if self.errors else self.interval
        base = min(base, max(self.max_backoff, self.interval))
        return base * (1 + random.uniform(-self.jitter, self.jitter))  # a spread, not a secret

    def _actions_of(self, interest: _Interest) -> frozenset[str]:
        mine = [w for w in self._workers if w.carries(interest.owner)]
        return interest.actions.union(*(w.actions for w in mine))

    async def poll_once(self) -> bool:
        """One tenant-wide poll; True if it succeeded. On failure the last good data is kept."""
        self.polls += 1
        self._polled = time.monotonic()
        started = self.clock()
        try:
            workers = tuple(await self.client.workers())
            self._workers = workers
            needed = {a for i in self._interest.values() for a in self._actions_of(i)}
            names = {task_name(a) for a in needed}
            stats = await self.client.task_stats(names) if names else {}
        except EngineError as e:
            self.errors += 1
            self._error = str(e)
            log.warning(
                "engine %s tenant %s: %s (attempt %d)", self.client.rest_url, self.client.tenant, e, self.errors
            )
            return False
        await self._read_definitions(needed)
        self._stats = stats
        self._at = started
        self._error = None
        self.errors = 0
        return True

    async def _read_definitions(self, needed: set[str]) -> None:
        """Definitions of actions first seen, and of those a new worker registered (it may come
        with a new workflow version). A failure leaves them as they were (unknown: one default
        slot, nothing required) and is tried again next poll; it does not make the reading stale."""
        renewed = {a for w in self._workers if w.id not in self._seen_workers for a in w.actions}
        try:
            await self.definitions.refresh(self.client._get, self.client.tenant, needed, renewed)
        except (EngineError, ValueError, TypeError, AttributeError) as e:
            log.warning("engine %s tenant %s: workflow definitions: %s", self.client.rest_url, self.client.tenant, e)
            return
        self._seen_workers = {w.id for w in self._workers}

    def reading(self, key: Any) -> Reading | None:
        """The latest view for one registered HatchetWorker; None before any successful poll."""
        interest = self._interest.get(key)
        if interest is None or self._at is None:
            if interest is not None and self._error is not None:
                return Reading(self.clock(), False, self._error, (), interest.actions, {}, {})
            return None
        mine = tuple(w for w in self._workers if w.carries(interest.owner))
        actions = self._actions_of(interest)
        queued: dict[str, int] = {}
        running: dict[str, int] = {}
        for action in sorted(actions):
            stat = self._stats.get(task_name(action))
            if stat is None:
                continue
            # Per action from the queues map; an absent action has nothing queued.
            queued[action] = int(stat.queues.get(action, 0))
            running[task_name(action)] = stat.running
        defs = {a: self.definitions.get(a) for a in sorted(actions)}
        return Reading(self._at, self._error is None, self._error, mine, actions, queued, running, defs)

    async def run(self) -> None:
        """Poll until cancelled."""
        while True:
            await self.poll_once()
            if self.on_poll is not None:
                try:
                    await self.on_poll(list(self._interest))
                except Exception:
                    log.exception("autoscaling callback failed")
            await self._sleep(time.monotonic() + self.next_delay())

    async def _sleep(self, due: float) -> None:
        """Until ``due``, an earlier ``poll_soon`` time, or a ``watch`` that needs new names read."""
        while not self._now:
            until = due if self._soon is None or self.errors else min(due, self._soon)
            if until <= time.monotonic():
                break
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), until - time.monotonic())
        self._now = False
        self._soon = None


class IdleClock:
    """Remembers since when each worker has had no slot in use (the engine reports only the now)."""

    def __init__(self) -> None:
        self._since: dict[str, float] = {}

    def update(self, workers: Iterable[EngineWorker], now: float) -> dict[str, float | None]:
        seen: dict[str, float | None] = {}
        for w in workers:
            if w.used_slots > 0:
                self._since.pop(w.id, None)
                seen[w.id] = None
            else:
                seen[w.id] = self._since.setdefault(w.id, now)
        for gone in set(self._since) - set(seen):
            del self._since[gone]
        return seen


def to_inputs(
    reading: Reading,
    *,
    now: float,
    current_replicas: int,
    spec_slots: int | None,
    labels: Mapping[str, str],
    idle_since: Mapping[str, float | None],
) -> autoscale.Inputs:
    """The decision's inputs from one reading, in the slot pool that limits the fleet
    (``enginedefs.shape``): slots per worker are the largest that pool's size the engine reports
    for this HatchetWorker's workers (the default pool's else ``spec.slots``), each queued task
    costs its units in that pool, and work whose required labels ``labels`` do not meet is not
    counted. A worker is busy with a slot in use in any pool."""
    cut = shape(reading.queued, reading.definitions, [(w.id, w.slots) for w in reading.workers], spec_slots, labels)
    workers = [
        autoscale.Worker(
            id=w.id, used_slots=cut.used.get(w.id, 0), running=w.used_slots, idle_since=idle_since.get(w.id)
        )
        for w in reading.workers
    ]
    return autoscale.Inputs(
        now=now,
        current_replicas=current_replicas,
        slots_per_worker=cut.slots_per_worker,
        work=list(cut.work),
        workers=workers,
        labels=labels,
        metrics_available=reading.ok,
    )
