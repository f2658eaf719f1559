"""Reconcile one HatchetWorker: observe (from watch-fed caches), plan (pure), apply (only on change).

Level-triggered: every trigger (the HatchetWorker changed, its Deployment changed or vanished, a
Secret it references changed, a retry timer fired) runs the same ``reconcile(key)``. It reads the
current state from in-memory views fed by watches (no GET before a write), renders the desired
Deployment, applies it with server-side apply only if the live object does not already hold it,
computes the status and patches it only if it differs. Calls for one key are serialized by a lock.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import json
import logging
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp
import pydantic

from hatchet_operator import diff, render, status
from hatchet_operator.api import v1alpha1 as api
from hatchet_operator.kube import ApiError, Client, deployment_path, worker_path
from hatchet_operator.metrics import Metrics
from hatchet_operator.observed import ObservedDeployment

log = logging.getLogger(__name__)

Key = tuple[str, str]
PostEvent = Callable[[Mapping[str, Any], status.Event], None]
# Retry delays (seconds) after transient API errors, per key; the last one repeats.
RETRY_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)


class Views(Protocol):
    """Read-only, watch-fed views of the cluster (kopf indices in the operator, dicts in tests)."""

    def worker(self, key: Key) -> Mapping[str, Any] | None: ...

    def deployment(self, key: Key) -> ObservedDeployment | None: ...

    def secret_keys(self, namespace: str, name: str) -> frozenset[str] | None:
        """The data keys of a Secret, None if it does not exist; only called when secrets are checked."""
        ...


def utcnow() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def secret_problems(worker: api.HatchetWorker, views: Views) -> list[status.Problem]:
    """Missing Secrets or keys the pods need (pure given the view)."""
    out: list[status.Problem] = []
    for name, key in render.secret_references(worker):
        keys = views.secret_keys(worker.metadata.namespace or "", name)
        if keys is None:
            out.append(status.Problem("SecretNotFound", f"Secret {name!r} (needed for key {key!r}) does not exist"))
        elif key is not None and key not in keys:
            out.append(status.Problem("SecretKeyNotFound", f"Secret {name!r} has no key {key!r}"))
    # One problem per Secret is enough (tls.crt and tls.key of the same missing Secret).
    seen: set[str] = set()
    unique = []
    for p in out:
        if p.message not in seen:
            seen.add(p.message)
            unique.append(p)
    return unique


@dataclass
class _State:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    applied: ObservedDeployment | None = None
    """The Deployment as returned by the operator's last apply (newer than the watch, for a while)."""
    verified: tuple[str, str] | None = None
    """(digest of the desired Deployment, fingerprint of the live one) last found in agreement."""
    written_status: Mapping[str, Any] | None = None
    retry: asyncio.TimerHandle | None = None
    flush: asyncio.TimerHandle | None = None
    """A pending status write (status changes are coalesced over ``status_delay``)."""
    attempts: int = 0


class Reconciler:
    """Holds per-key state (locks, last writes, retry timers) and runs reconciles."""

    def __init__(
        self,
        client: Client,
        metrics: Metrics,
        *,
        options: render.RenderOptions,
        check_secrets: bool,
        post_event: PostEvent,
        status_delay: float = 0.0,
        now: Callable[[], str] = utcnow,
    ) -> None:
        self.client = client
        self.metrics = metrics
        self.options = options
        self.check_secrets = check_secrets
        self.post_event = post_event
        self.now = now
        self.status_delay = status_delay
        self.views: Views | None = None
        self._states: dict[Key, _State] = {}
        self._tasks: set[asyncio.Task[str]] = set()

    def forget(self, key: Key) -> None:
        """Drop per-key state when the HatchetWorker is gone."""
        state = self._states.pop(key, None)
        if state and state.retry:
            state.retry.cancel()
        if state and state.flush:
            state.flush.cancel()

    def deployment_gone(self, key: Key) -> None:
        """The Deployment was deleted: forget the copy from the last apply so it is re-created."""
        state = self._states.get(key)
        if state is not None:
            state.applied = None
            state.verified = None

    def _spawn(self, coro: Coroutine[Any, Any, str]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _state(self, key: Key) -> _State:
        state = self._states.get(key)
        if state is None:
            state = self._states[key] = _State()
        return state

    def _schedule_retry(self, key: Key) -> None:
        state = self._state(key)
        delay = RETRY_DELAYS[min(state.attempts, len(RETRY_DELAYS) - 1)]
        state.attempts += 1
        if state.retry:
            state.retry.cancel()
        loop = asyncio.get_running_loop()
        state.retry = loop.call_later(delay, lambda: self._spawn(self.reconcile(key)))

    def _schedule_flush(self, key: Key, state: _State) -> None:
        if state.flush is not None:
            return
        loop = asyncio.get_running_loop()

        def fire() -> None:
            state.flush = None
            self._spawn(self.reconcile(key, flush=True))

        state.flush = loop.call_later(self.status_delay, fire)

    async def reconcile(self, key: Key, body: Mapping[str, Any] | None = None, *, flush: bool = False) -> str:
        """Reconcile one HatchetWorker; returns the result label (also counted in metrics).

        The Deployment is applied at once; a changed status is written at once only with ``flush``
        or no ``status_delay``, else after the delay, so a burst of Deployment status events (a
        rollout, a fleet being created) costs one status write per delay instead of one per event.
        """
        started = time.perf_counter()
        state = self._state(key)
        async with state.lock:
            try:
                result = await self._reconcile(key, body, state, flush or self.status_delay <= 0)
            except ApiError as e:
                log.warning("reconcile %s/%s: API error %s; will retry", *key, e)
                self.metrics.errors.labels(kind="api").inc()
                self._schedule_retry(key)
                result = "error"
            except (aiohttp.ClientError, TimeoutError) as e:
                log.warning("reconcile %s/%s: connection error %r; will retry", *key, e)
                self.metrics.errors.labels(kind="api").inc()
                self._schedule_retry(key)
                result = "error"
            except Exception:
                log.exception("reconcile %s/%s failed; will retry", *key)
                self.metrics.errors.labels(kind="internal").inc()
                self._schedule_retry(key)
                result = "error"
            else:
                state.attempts = 0
        self.metrics.reconciles.labels(result=result).inc()
        self.metrics.reconcile_seconds.observe(time.perf_counter() - started)
        return result

    async def _reconcile(self, key: Key, body: Mapping[str, Any] | None, state: _State, write_status: bool) -> str:
        views = self.views
        if views is None:
            raise RuntimeError("views are not wired yet")
        if body is None:
            body = views.worker(key)
        if body is None or body.get("metadata", {}).get("deletionTimestamp"):
            return "skipped"
        namespace, name = key
        generation = body.get("metadata", {}).get("generation")
        previous = body.get("status") or None

        problems: list[status.Problem] = []
        desired: dict[str, Any] | None = None
        try:
            worker = api.HatchetWorker.model_validate(body)
        except pydantic.ValidationError as e:
            self.metrics.errors.labels(kind="invalid_spec").inc()
            problems.append(status.Problem("InvalidSpec", _validation_message(e)))
            worker = None
        if worker is not None:
            if self.check_secrets:
                problems.extend(secret_problems(worker, views))
            try:
                desired = render.render_deployment(worker, self.options)
            except render.RenderError as e:
                problems.append(status.Problem(e.reason, e.message))

        observed = views.deployment(key)
        if state.applied is not None and (
            observed is None or state.applied.resource_version > observed.resource_version
        ):
            observed = state.applied
        result = "unchanged"
        if desired is not None:
            digest = _digest(desired)
            if observed is not None and state.verified == (digest, observed.fingerprint):
                pass  # Nothing the operator owns has changed since it last checked.
            elif observed is not None and diff.holds(desired, observed.body()):
                state.verified = (digest, observed.fingerprint)
            else:
                try:
                    live = await self.client.apply(
                        deployment_path(namespace, name), desired, render.FIELD_MANAGER, "deployments"
                    )
                except ApiError as e:
                    if e.namespace_terminating:
                        return "skipped"  # The namespace, and this HatchetWorker with it, is going away.
                    if e.status not in (400, 422):
                        raise
                    problems.append(
                        status.Problem("DeploymentRejected", f"the apiserver rejected the Deployment: {e.message}")
                    )
                else:
                    created = observed is None
                    state.applied = observed = ObservedDeployment.of(live)
                    # Applied exactly this; until its owned fields change, there is nothing to compare.
                    state.verified = (digest, observed.fingerprint)
                    result = "applied"
                    if not created:  # A change or a reverted hand edit; creation shows in the status.
                        self.post_event(body, status.Event("Normal", "DeploymentUpdated", f"updated Deployment {name}"))
                    if log.isEnabledFor(logging.DEBUG):
                        drift = diff.mismatches(desired, live)
                        if drift:
                            log.debug("%s/%s: the apiserver normalized applied fields %s", namespace, name, drift[:5])
        if problems:
            result = "degraded"

        new_status = status.compute(
            name=name,
            generation=generation,
            deployment=observed.status_view if observed is not None else None,
            problems=problems,
            previous=previous,
            now=self.now(),
        )
        if new_status != previous and new_status != state.written_status:
            # A spec change is reported at once (observedGeneration moves, Ready turns False while
            # rolling out), so nobody reads a stale Ready; other status churn is coalesced.
            spec_changed = previous is not None and previous.get("observedGeneration") != generation
            if not write_status and not spec_changed:
                self._schedule_flush(key, state)
                return result
            try:
                await self.client.patch_status(
                    worker_path(namespace, name), new_status, render.FIELD_MANAGER, "hatchetworkers/status"
                )
            except ApiError as e:
                if e.status == 404:
                    return "skipped"
                raise
            state.written_status = new_status
            for event in status.events(previous, new_status):
                self.post_event(body, event)
        elif new_status == previous:
            state.written_status = None
        return result


def _digest(obj: Mapping[str, Any]) -> str:
    return hashlib.blake2b(json.dumps(obj, sort_keys=True).encode(), digest_size=16).hexdigest()


def _validation_message(e: pydantic.ValidationError) -> str:
    parts = []
    for err in e.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"])
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)
