"""Lease-based leader election (coordination.k8s.io/v1), the way Kubernetes' own controllers do it.

A replica becomes leader by writing its identity into the Lease; it renews ``renewTime`` every
``retry_period``. A standby takes over when the Lease record has not changed for
``lease_duration`` seconds *as measured by its own monotonic clock* (so clock skew between
machines does not matter). A leader that cannot renew within ``renew_deadline`` stops, and the
process exits so it restarts clean as a standby. On a graceful stop the leader releases the Lease
so a standby takes over at once.

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

    async def try_acquire_or_renew(self) -> bool:
        """One round: True when this replica holds the Lease afterwards."""
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
        if not decision.write:
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
                if await self.try_acquire_or_renew():
                    break
            except (ApiError, aiohttp.ClientError, TimeoutError) as e:
                log.warning("leader election: %s", e)
            if not logged:
                log.info("waiting to become leader (Lease %s/%s)", self.cfg.namespace, self.cfg.name)
                logged = True
            await asyncio.sleep(self.cfg.retry_period)
        self.is_leader = True
        self.metrics.leader.set(1)
        log.info("became leader as %s", self.cfg.identity)

    async def hold(self) -> None:
        """Renew until renewals fail for longer than the renew deadline; then return (leadership lost)."""
        while True:
            await asyncio.sleep(self.cfg.retry_period)
            try:
                if await self.try_acquire_or_renew():
                    continue
                log.error("leader election: another replica took the Lease")
                break
            except (ApiError, aiohttp.ClientError, TimeoutError) as e:
                log.warning("leader election: renew failed: %s", e)
            if self.clock() - self._last_renew > self.cfg.renew_deadline:
                log.error("leader election: could not renew for %.0fs", self.cfg.renew_deadline)
                break
        self.is_leader = False
        self.metrics.leader.set(0)

    async def release(self) -> None:
        """Give the Lease up so a standby takes over without waiting for it to expire."""
        if not self.is_leader:
            return
        self.is_leader = False
        self.metrics.leader.set(0)
        try:
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
        except (ApiError, aiohttp.ClientError, TimeoutError) as e:
            log.warning("could not release the Lease: %s", e)

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
