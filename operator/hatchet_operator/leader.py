"""Lease-based leader election (coordination.k8s.io/v1), the way Kubernetes' own controllers do it.

A replica becomes leader by writing its identity into the Lease; from that moment it renews
``renewTime`` every ``retry_period`` (also while its caches are still being primed). A standby takes
over when the Lease record has not changed for ``lease_duration`` seconds *as measured by its own
monotonic clock* (so clock skew between machines does not matter).

What keeps two replicas from writing at once:

- Every renewal attempt is bounded by what is left of ``renew_deadline`` since the start of the last
  successful one, so a hung connection cannot keep a deposed leader acting.
- Writers use a ``GuardedClient``: a write is sent only while ``may_write()`` holds (leader, and the
  deadline not passed) and is cancelled if it has not completed by the deadline. Anything that
  reaches the apiserver was therefore sent less than ``renew_deadline`` after the start of a renewal
  the server accepted, while a standby waits at least ``lease_duration`` after seeing that renewal.
- When leadership is lost (another holder, or the deadline passed) ``hold`` returns and the caller
  exits the process at once; on a graceful stop the caller closes the guard, waits for writes in
  flight, and only then releases the Lease.

The leader also watches its own Lease: each renewal must come back through the watch. If it does
not within ``watch_stale_seconds``, the watch pipeline is stuck and liveness fails.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from hatchet_operator.kube import ApiError, Client, lease_path
from hatchet_operator.metrics import Metrics
from hatchet_operator.settings import LeaderElection

log = logging.getLogger(__name__)


def micro_time(now: datetime.datetime | None = None) -> str:
    now = now or datetime.datetime.now(datetime.UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Decision:
    """What a replica should do after reading the Lease."""

    write: bool
    """Write the Lease (take over or renew)."""
    transition: bool = False
    """The write changes the holder (leaseTransitions + 1, new acquireTime)."""


def decide(spec: dict[str, Any], identity: str, record_changed_at: float, now: float) -> Decision:
    """Pure: given the Lease spec and when its record last changed (monotonic), decide."""
    holder = spec.get("holderIdentity") or ""
    if holder == identity:
        return Decision(write=True)
    if not holder:
        return Decision(write=True, transition=True)
    duration = float(spec.get("leaseDurationSeconds") or 0)
    if now - record_changed_at >= duration:
        return Decision(write=True, transition=True)
    return Decision(write=False)


def renew_budget(now: float, last_renew: float, renew_deadline: float) -> float:
    """Pure: seconds left before the leader must consider itself deposed (<= 0: already)."""
    return last_renew + renew_deadline - now


def next_wait(budget: float, retry_period: float) -> float:
    """Pure: how long the leader sleeps before its next renewal attempt: the retry period, but never
    past the deadline (so the deadline is noticed when it passes, not up to a period later)."""
    return max(0.0, min(retry_period, budget))


def check_timing(cfg: LeaderElection) -> list[str]:
    """Pure: why these settings cannot give one writer at a time (empty when they can)."""
    problems = []
    if not 0 < cfg.retry_period < cfg.renew_deadline:
        problems.append(f"retry period ({cfg.retry_period}s) must be > 0 and < renew deadline ({cfg.renew_deadline}s)")
    if not cfg.renew_deadline < cfg.lease_duration:
        problems.append(f"renew deadline ({cfg.renew_deadline}s) must be < lease duration ({cfg.lease_duration}s)")
    return problems


class NotLeader(ApiError):
    """A write refused before it was sent: this replica may not write (not leader, or stopping)."""

    def __init__(self) -> None:
        super().__init__(503, "NotLeader", "this replica does not hold the leader Lease; write not sent")


class GuardedClient(Client):
    """The client every writer uses (reconciles, status flushes, retries, Events).

    A write is sent only while ``allow()`` is true and is cancelled once ``budget()`` seconds have
    passed without an answer; writes in flight are counted so a stopping leader can wait for them
    before it releases the Lease. A write that ended without an answer (cancelled, timed out, the
    connection dropped) is unsettled: its bytes may already be on their way and still land, so the
    time of the last one is kept (``unsettled_at``) for the stop sequence. Reads are never refused.
    """

    def __init__(
        self,
        *args: Any,
        allow: Callable[[], bool],
        budget: Callable[[], float] = lambda: float("inf"),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.allow = allow
        self.budget = budget
        self.in_flight = 0
        self.unsettled_at: float | None = None
        """Monotonic time the last write without an answer was given up on (None: there was none)."""
        self._idle = asyncio.Event()
        self._idle.set()

    async def request(self, method: str, path: str, **kwargs: Any) -> Any:
        if method == "GET":
            return await super().request(method, path, **kwargs)
        budget = self.budget()
        if not self.allow() or budget <= 0:
            raise NotLeader()
        self.in_flight += 1
        self._idle.clear()
        try:
            return await self._within_deadline(super().request(method, path, **kwargs), budget)
        except ApiError:
            raise  # answered: the outcome is known
        except BaseException:
            self.unsettled_at = time.monotonic()
            raise
        finally:
            self.in_flight -= 1
            if self.in_flight == 0:
                self._idle.set()

    async def _within_deadline(self, request: Any, budget: float) -> Any:
        """Await ``request`` while the deadline keeps moving with each successful renewal; cancel
        it once the deadline passes (a write still waiting for a pooled connection is then never
        sent). Fixing the deadline when the write is queued instead would cancel writes that a
        busy apiserver or a full connection pool merely delays, under a leader in good standing."""
        task = asyncio.ensure_future(request)
        try:
            while budget > 0:
                done, _ = await asyncio.wait({task}, timeout=None if budget == float("inf") else budget)
                if done:
                    return task.result()
                budget = self.budget()
            raise TimeoutError("no answer within the renew deadline")
        finally:
            task.cancel()

    async def drained(self, timeout: float) -> bool:
        """Wait until no write is in flight; False if some still are after ``timeout``."""
        if self.in_flight == 0:
            return True
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True


class LeaderElector:
    """Acquire, renew and release one Lease."""

    def __init__(
        self,
        client: Client,
        cfg: LeaderElection,
        metrics: Metrics,
        *,
        watch_stale_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.cfg = cfg
        self.metrics = metrics
        self.clock = clock
        self.watch_stale_seconds = watch_stale_seconds
        self.is_leader = False
        self._record: tuple[Any, ...] | None = None
        self._record_at = 0.0
        self._last_renew = 0.0
        # Liveness: the oldest renewal (resourceVersion, monotonic time) not yet seen through the watch.
        self._unseen: tuple[int, float] | None = None
        self._seen_rv = 0

    @property
    def path(self) -> str:
        return lease_path(self.cfg.namespace, self.cfg.name)

    def _body(self, spec: dict[str, Any], rv: str | None) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": self.cfg.name, "namespace": self.cfg.namespace}
        if rv:
            meta["resourceVersion"] = rv
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta, "spec": spec}

    def budget(self) -> float:
        """Seconds left for writes before the renew deadline (0 when not leader)."""
        if not self.is_leader:
            return 0.0
        return max(0.0, renew_budget(self.clock(), self._last_renew, self.cfg.renew_deadline))

    def may_write(self) -> bool:
        """True while this replica is the leader and its last renewal is within the renew deadline."""
        return self.budget() > 0

    async def try_acquire_or_renew(self, renew_only: bool = False) -> bool:
        """One round: True when this replica holds the Lease afterwards.

        With ``renew_only`` (the leader renewing) a round that would have to take the Lease over is
        a loss: someone else held or cleared it in between, so this replica was not the only writer.
        """
        now = self.clock()
        lease = await self.client.get(self.path, resource="leases")
        stamp = micro_time()
        spec: dict[str, Any] = {
            "holderIdentity": self.cfg.identity,
            "leaseDurationSeconds": max(1, round(self.cfg.lease_duration)),
            "acquireTime": stamp,
            "renewTime": stamp,
            "leaseTransitions": 0,
        }
        if lease is None:
            if renew_only:
                return False
            try:
                created = await self.client.request(
                    "POST", lease_path(self.cfg.namespace), body=self._body(spec, None), resource="leases"
                )
            except ApiError as e:
                if e.status == 409:
                    return False
                raise
            self._wrote(created, now)
            return True
        old = lease.get("spec", {})
        record = (old.get("holderIdentity"), old.get("renewTime"), lease["metadata"].get("resourceVersion"))
        if record != self._record:
            self._record, self._record_at = record, now
        decision = decide(old, self.cfg.identity, self._record_at, now)
        if not decision.write or (renew_only and decision.transition):
            return False
        if not decision.transition:
            spec["acquireTime"] = old.get("acquireTime") or stamp
            spec["leaseTransitions"] = old.get("leaseTransitions") or 0
        else:
            spec["leaseTransitions"] = int(old.get("leaseTransitions") or 0) + 1
        try:
            updated = await self.client.request(
                "PUT",
                self.path,
                body=self._body(spec, lease["metadata"]["resourceVersion"]),
                resource="leases",
            )
        except ApiError as e:
            if e.status == 409:
                return False
            raise
        self._wrote(updated, now)
        return True

    def _wrote(self, lease: dict[str, Any], now: float) -> None:
        # ``now`` is when the round started, before the server saw the write: the deadline counts
        # from a moment no later than the renewal a standby observes.
        self._last_renew = now
        rv = int(lease["metadata"]["resourceVersion"])
        self._record = (
            self.cfg.identity,
            lease["spec"].get("renewTime"),
            lease["metadata"]["resourceVersion"],
        )
        self._record_at = now
        if self._unseen is None and rv > self._seen_rv:
            self._unseen = (rv, now)

    async def acquire(self) -> None:
        """Block until this replica is the leader."""
        logged = False
        while True:
            try:
                got = await asyncio.wait_for(self.try_acquire_or_renew(), timeout=self.cfg.renew_deadline)
                if got:
                    break
            except (ApiError, aiohttp.ClientError, TimeoutError) as e:
                log.warning("leader election: %r", e)
            if not logged:
                log.info("waiting to become leader (Lease %s/%s)", self.cfg.namespace, self.cfg.name)
                logged = True
            await asyncio.sleep(self.cfg.retry_period)
        self.is_leader = True
        self.metrics.leader.set(1)
        log.info("became leader as %s", self.cfg.identity)

    async def hold(self) -> str:
        """Renew until leadership is lost; then return why. Start it right after ``acquire``.

        Each attempt gets only what is left of the renew deadline, so a request that hangs (a stuck
        connection, a slow apiserver) ends at the deadline instead of after the request timeout.
        """
        reason = ""
        while not reason:
            budget = renew_budget(self.clock(), self._last_renew, self.cfg.renew_deadline)
            await asyncio.sleep(next_wait(budget, self.cfg.retry_period))
            budget = renew_budget(self.clock(), self._last_renew, self.cfg.renew_deadline)
            if budget <= 0:
                reason = f"no successful renewal within the renew deadline ({self.cfg.renew_deadline:g}s)"
                break
            try:
                if not await asyncio.wait_for(self.try_acquire_or_renew(renew_only=True), timeout=budget):
                    reason = "another replica holds the Lease"
            except (ApiError, aiohttp.ClientError, TimeoutError) as e:
                log.warning("leader election: renew failed: %r", e)
        self.is_leader = False
        self.metrics.leader.set(0)
        return reason

    async def release(self) -> None:
        """Give the Lease up so a standby takes over without waiting for it to expire.

        Call only once no writer can act any more (see ``GuardedClient.drained``).
        """
        if not self.is_leader:
            return
        self.is_leader = False
        self.metrics.leader.set(0)
        try:
            await asyncio.wait_for(self._release(), timeout=self.cfg.renew_deadline)
        except (ApiError, aiohttp.ClientError, TimeoutError) as e:
            log.warning("could not release the Lease: %r", e)

    async def _release(self) -> None:
        lease = await self.client.get(self.path, resource="leases")
        if lease and lease.get("spec", {}).get("holderIdentity") == self.cfg.identity:
            spec = {**lease["spec"], "holderIdentity": None, "leaseDurationSeconds": 1}
            await self.client.request(
                "PUT",
                self.path,
                body=self._body(spec, lease["metadata"]["resourceVersion"]),
                resource="leases",
            )
            log.info("released the leader Lease")

    # ---- watch heartbeat (liveness) --------------------------------------------------------------

    def saw(self, rv: int) -> None:
        self._seen_rv = max(self._seen_rv, rv)
        if self._unseen is not None and rv >= self._unseen[0]:
            self._unseen = None

    def watch_heartbeat_age(self) -> float:
        """Seconds the oldest renewal has been waiting to come back through the watch (0 if none)."""
        if self._unseen is None:
            return 0.0
        return max(0.0, self.clock() - self._unseen[1])

    def watch_stuck(self) -> bool:
        return self.is_leader and self.watch_heartbeat_age() > self.watch_stale_seconds

    async def watch(self) -> None:
        """Watch the Lease forever (reconnecting) and record the resourceVersions seen."""
        params = {
            "watch": "true",
            "fieldSelector": f"metadata.name={self.cfg.name}",
            "timeoutSeconds": "300",
        }
        while True:
            try:
                async for line in self.client.stream(
                    lease_path(self.cfg.namespace), params=params, read_timeout=self.watch_stale_seconds
                ):
                    event = json.loads(line)
                    rv = event.get("object", {}).get("metadata", {}).get("resourceVersion")
                    if rv:
                        self.saw(int(rv))
                    self.metrics.watch_age.set(self.watch_heartbeat_age())
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.info("lease watch ended (%r); reconnecting", e)
            await asyncio.sleep(1.0)
