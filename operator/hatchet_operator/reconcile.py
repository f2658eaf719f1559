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
import logging
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import aiohttp
import pydantic

from hatchet_operator import applied, diff, render, status
from hatchet_operator.api import v1alpha1 as api
from hatchet_operator.kube import ApiError, Client, deployment_path, worker_path
from hatchet_operator.metrics import Metrics
from hatchet_operator.observed import ObservedDeployment

if TYPE_CHECKING:
    from hatchet_operator.autoscaler import Evaluation

log = logging.getLogger(__name__)

Key = tuple[str, str]
PostEvent = Callable[[Mapping[str, Any], status.Event], None]
# Retry delays (seconds) after transient API errors, per key; the last one repeats.
RETRY_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)


class AutoscalingHook(Protocol):
    async def evaluate(
        self, key: Key, worker: api.HatchetWorker, current_replicas: int, previous: Mapping[str, Any] | None
    ) -> Evaluation: ...

    async def stop_scaling(self, key: Key, worker: api.HatchetWorker) -> bool: ...

    def forget(self, key: Key) -> None: ...


class Views(Protocol):
    """Read-only, watch-fed views of the cluster (kopf indices in the operator, dicts in tests)."""

    def worker(self, key: Key) -> Mapping[str, Any] | None: ...

    def deployment(self, key: Key) -> ObservedDeployment | None: ...

    def secret_keys(self, namespace: str, name: str) -> frozenset[str] | None:
        """The data keys of a Secret, None if it does not exist; only called when secrets are checked."""
        ...

    def drop_worker(self, key: Key) -> None:
        """Forget a HatchetWorker the apiserver no longer has (its DELETED event was missed or is late)."""
        ...


def utcnow() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def secret_problems(namespace: str, references: Iterable[tuple[str, str | None]], views: Views) -> list[status.Problem]:
    """Missing Secrets or keys the pods need (pure given the view); ``render.secret_references``."""
    out: list[status.Problem] = []
    for name, key in references:
        keys = views.secret_keys(namespace, name)
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


@dataclass(frozen=True)
class _Rendered:
    """What validating and rendering one version of a HatchetWorker's spec gave.

    Kept per key and reused until the spec moves, so the many events of a rollout cost no
    validation or rendering. The rendered Deployment itself is not kept (it would be most of the
    operator's memory in a large fleet): it is rendered again only when it must be compared or applied.
    """

    version: tuple[Any, ...]
    digest: str | None
    """The digest of the desired Deployment; None when it cannot be rendered (see ``problems``)."""
    problems: tuple[status.Problem, ...]
    secrets: tuple[tuple[str, str | None], ...]


@dataclass
class _State:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    applied: ObservedDeployment | None = None
    """The Deployment as returned by the operator's last apply (newer than the watch, for a while)."""
    verified: tuple[str, str] | None = None
    """(digest of the desired Deployment, fingerprint of the live one) last found in agreement."""
    rendered: _Rendered | None = None
    template_generation: int | None = None
    """The Deployment generation since which its pod template is unchanged (``status.compute``)."""
    owner_unconfirmed: bool = False
    """The Deployment was deleted: before creating it again, confirm its owner still exists (under
    background cascading deletion the Deployment's DELETED event can arrive before the owner's)."""
    written_status: Mapping[str, Any] | None = None
    retry: asyncio.TimerHandle | None = None
    flush: asyncio.TimerHandle | None = None
    """A pending status write (status changes are coalesced over ``status_delay``)."""
    attempts: int = 0


def intent_held(digest: str, observed: ObservedDeployment | None, desired: Mapping[str, Any]) -> bool:
    """True when the live Deployment holds the operator's current intent (pure).

    Both must hold: the live object was last applied with this very configuration (so nothing was
    added, changed *or removed* since), and it still contains every field of it (so nobody edited
    an owned field by hand since).
    """
    if observed is None or observed.applied_digest != digest:
        return False
    return diff.holds(desired, observed.body())


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
        self.autoscaling: AutoscalingHook | None = None
        """Reads the engine for HatchetWorkers with spec.autoscaling and scales them."""
        self._states: dict[Key, _State] = {}
        self._tasks: set[asyncio.Task[str]] = set()

    def forget(self, key: Key) -> None:
        """Drop per-key state when the HatchetWorker is gone."""
        state = self._states.pop(key, None)
        if self.autoscaling is not None:
            self.autoscaling.forget(key)
        if state and state.retry:
            state.retry.cancel()
        if state and state.flush:
            state.flush.cancel()

    def deployment_gone(self, key: Key) -> None:
        """The Deployment was deleted: forget the copy from the last apply so it is re-created,
        once the owner is confirmed to still exist."""
        state = self._states.get(key)
        if state is not None:
            state.applied = None
            state.verified = None
            state.owner_unconfirmed = True

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
        if body is None and self.views is not None and self.views.worker(key) is None:
            # A Deployment event or timer for a HatchetWorker that is gone: keep no state for it.
            self.forget(key)
            self.metrics.reconciles.labels(result="skipped").inc()
            self.metrics.tracked.set(len(self._states))
            return "skipped"
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
        self.metrics.tracked.set(len(self._states))
        self.metrics.reconcile_seconds.observe(time.perf_counter() - started)
        return result

    def _render(self, body: Mapping[str, Any], state: _State) -> _Rendered:
        """Validate and render, once per version of the spec (uid and generation)."""
        meta = body.get("metadata") or {}
        # The render reads only name, namespace, uid and spec; generation moves with every spec change.
        generation = meta.get("generation")
        version = (meta.get("uid"), generation, None if generation else meta.get("resourceVersion"))
        cached = state.rendered
        if cached is not None and cached.version == version:
            return cached
        problems: list[status.Problem] = []
        digest: str | None = None
        secrets: tuple[tuple[str, str | None], ...] = ()
        worker = None
        try:
            worker = api.HatchetWorker.model_validate(body)
        except pydantic.ValidationError as e:
            self.metrics.errors.labels(kind="invalid_spec").inc()
            problems.append(status.Problem("InvalidSpec", _validation_message(e)))
        if worker is not None:
            secrets = tuple(render.secret_references(worker))
            try:
                digest = applied.digest(render.render_deployment(worker, self.options))
            except render.RenderError as e:
                problems.append(status.Problem(e.reason, e.message))
        state.rendered = _Rendered(version, digest, tuple(problems), secrets)
        return state.rendered

    def _desired(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """The stamped Deployment to apply (only called once ``_render`` found it renders)."""
        worker = api.HatchetWorker.model_validate(body)
        return applied.stamp(render.render_deployment(worker, self.options))

    async def _owner_exists(self, key: Key, body: Mapping[str, Any]) -> bool:
        """Ask the apiserver whether this HatchetWorker (this uid) still exists; forget it if not."""
        live = await self.client.get(worker_path(*key), resource="hatchetworkers")
        uid = (body.get("metadata") or {}).get("uid")
        if live is not None and (live.get("metadata") or {}).get("uid") == uid:
            return True
        log.info("%s/%s: the HatchetWorker is gone; not re-creating its Deployment", *key)
        if self.views is not None:
            self.views.drop_worker(key)
        self.forget(key)
        return False

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

        rendered = self._render(body, state)
        problems = list(rendered.problems)
        digest = rendered.digest
        if rendered.secrets and self.check_secrets:
            problems.extend(secret_problems(namespace, rendered.secrets, views))

        observed = views.deployment(key)
        if state.applied is not None and (
            observed is None or state.applied.resource_version > observed.resource_version
        ):
            observed = state.applied
        result = "unchanged"
        if digest is not None:
            desired: dict[str, Any] | None = None
            if (
                observed is not None
                and observed.applied_digest == digest
                and state.verified == (digest, observed.fingerprint)
            ):
                pass  # Nothing the operator owns has changed since it last checked.
            elif intent_held(digest, observed, desired := self._desired(body)):
                assert observed is not None
                state.verified = (digest, observed.fingerprint)
            else:
                desired = desired or self._desired(body)
                if observed is None and state.owner_unconfirmed:
                    if not await self._owner_exists(key, body):
                        return "skipped"
                    state.owner_unconfirmed = False
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
                    before = observed.body() if observed is not None else None
                    state.template_generation = status.next_template_generation(
                        state.template_generation, before, live
                    )
                    scaled_only = status.only_scaled(before, live)
                    state.applied = observed = ObservedDeployment.of(live)
                    # Applied exactly this; until its owned fields change, there is nothing to compare.
                    state.verified = (digest, observed.fingerprint)
                    result = "applied"
                    # A change or a reverted hand edit; creation shows in the status, and a replica
                    # change (the scale subresource, an autoscaler) is not a Deployment update.
                    if not created and not scaled_only:
                        self.post_event(body, status.Event("Normal", "DeploymentUpdated", f"updated Deployment {name}"))
                    if log.isEnabledFor(logging.DEBUG):
                        drift = diff.mismatches(desired, live)
                        if drift:
                            log.debug("%s/%s: the apiserver normalized applied fields %s", namespace, name, drift[:5])
        if problems:
            result = "degraded"
        autoscaling = await self._autoscale(key, body, observed, previous)

        new_status = status.compute(
            name=name,
            generation=generation,
            deployment=observed.status_view if observed is not None else None,
            problems=problems,
            previous=previous,
            now=self.now(),
            template_generation=state.template_generation,
            autoscaling=autoscaling,
        )
        if new_status != previous and new_status != state.written_status:
            # The first status and a spec change are reported at once (observedGeneration moves,
            # Ready turns False while rolling out), so nobody reads a missing or stale status as
            # current; other status churn (a rollout's many Deployment events) is coalesced.
            urgent = previous is None or previous.get("observedGeneration") != generation
            if not write_status and not urgent:
                self._schedule_flush(key, state)
                return result
            patch = status.merge_patch(previous or {}, new_status)
            try:
                await self.client.patch_status(
                    worker_path(namespace, name), patch, render.FIELD_MANAGER, "hatchetworkers/status"
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


    async def _autoscale(
        self,
        key: Key,
        body: Mapping[str, Any],
        observed: ObservedDeployment | None,
        previous: Mapping[str, Any] | None,
    ) -> dict[str, Any] | None:
        """The new status.autoscaling, or None (not autoscaled, or the spec does not validate), or {}
        when autoscaling was just turned off (status.autoscaling is then removed)."""
        if self.autoscaling is None:
            return None
        autoscaled = bool((body.get("spec") or {}).get("autoscaling"))
        if not autoscaled and not (previous or {}).get("autoscaling"):
            return None
        try:
            worker = api.HatchetWorker.model_validate(body)
        except pydantic.ValidationError:
            return None  # reported as InvalidSpec by the render
        if not autoscaled:
            # Turned off: no worker may stay paused by a scale-down that will never finish.
            return {} if await self.autoscaling.stop_scaling(key, worker) else None
        current = int(((observed.body() if observed else {}).get("spec") or {}).get("replicas", 0) or 0)
        evaluation = await self.autoscaling.evaluate(key, worker, current, (previous or {}).get("autoscaling"))
        for event in evaluation.events:
            self.post_event(body, event)
        return evaluation.status


def _validation_message(e: pydantic.ValidationError) -> str:
    parts = []
    for err in e.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"])
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)
