"""Process wiring for `hatchet-operator run`: login, servers, leader election, then kopf.

Order: start the metrics and health servers (a standby is alive and exports metrics too), wait for
the leader Lease and start renewing it, then prime the cache and run kopf until SIGTERM. Losing
leadership (another holder, or no renewal within the renew deadline) exits the process at once
with status 1, so no writer outlives it and the replica restarts clean as a standby. A graceful
stop closes the write guard, waits for writes in flight, and only then releases the Lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Callable
from typing import Any

import kopf
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from hatchet_operator import __version__, handlers, render
from hatchet_operator.autoscaler import EngineAutoscaling
from hatchet_operator.cache import Cache
from hatchet_operator.events import EventPoster
from hatchet_operator.kube import Client
from hatchet_operator.leader import GuardedClient, LeaderElector, check_timing
from hatchet_operator.metrics import Metrics
from hatchet_operator.reconcile import Reconciler
from hatchet_operator.settings import OperatorSettings

log = logging.getLogger(__name__)

# Seconds a stopping replica waits for kopf's clean-up after the Lease is released (it can write
# nothing by then: the guard refuses every write).
STOP_GRACE_SECONDS = 2.0


def login() -> kopf.ConnectionInfo:
    """Credentials: the pod's service account in a cluster, else $KUBECONFIG / ~/.kube/config."""
    settings = kopf.OperatorSettings()
    info = kopf.login_with_service_account(settings=settings) or kopf.login_with_kubeconfig(settings=settings)
    if info is None:
        raise kopf.LoginError("no service account and no kubeconfig found")
    return info


class NoDiffBase(kopf.DiffBaseStorage):
    """No diff-base: the operator has only raw-event handlers and indices, no change-detecting ones.

    kopf otherwise deep-copies every object on every watch event to compute a diff nobody reads;
    at fleet scale that copy was the largest single cost in a profile of the operator.
    """

    def build(self, *, body: kopf.Body, extra_fields: Any = None) -> kopf.BodyEssence:
        return kopf.BodyEssence()

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        return None

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence) -> None:
        return None


def kopf_settings(cfg: OperatorSettings) -> kopf.OperatorSettings:
    s = kopf.OperatorSettings()
    s.persistence.diffbase_storage = NoDiffBase()
    # Our own events only (kopf.event), never log lines.
    s.posting.loggers = False
    s.posting.level = logging.INFO
    # No CRD rescans: the watched resources are fixed; this also avoids needing CRD list/watch rights.
    s.scanning.disabled = True
    # Bounded watch requests: the server ends each within 10 minutes; kopf reconnects. kopf also
    # reconnects a stream silent for longer than its inactivity timeout (bookmarks arrive each minute).
    s.watching.server_timeout = 600
    s.watching.client_timeout = 660
    s.watching.connect_timeout = 30
    s.networking.request_timeout = cfg.request_timeout
    s.networking.connect_timeout = 30
    return s


class Health:
    """Liveness and readiness, answered from the event loop (a blocked loop fails the probe by timeout)."""

    def __init__(self, elector: LeaderElector | None) -> None:
        self.elector = elector
        self.kopf_task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()

    def problems(self) -> list[str]:
        out = []
        if self.kopf_task is not None and self.kopf_task.done():
            out.append("the kopf operator task has exited")
        if self.elector is not None and self.elector.watch_stuck():
            out.append(f"watch stuck: own Lease renewal unseen for {self.elector.watch_heartbeat_age():.0f}s")
        return out

    async def livez(self, _: web.Request) -> web.Response:
        problems = self.problems()
        if problems:
            return web.json_response({"status": "unhealthy", "problems": problems}, status=503)
        leader = self.elector.is_leader if self.elector else True
        return web.json_response({"status": "ok", "leader": leader})

    async def readyz(self, _: web.Request) -> web.Response:
        # Ready means "serving": the leader once kopf runs, a standby as soon as it is waiting.
        if self.problems():
            return web.json_response({"status": "unhealthy"}, status=503)
        return web.json_response({"status": "ok"})


async def _serve(app: web.Application, host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


def exit_now(code: int, why: str) -> None:
    """Leave the process at once: no clean-up, no ``finally`` blocks, no task gets another turn.

    Used when leadership is lost: every writer (kopf, the Deployment watch, retry and status-flush
    timers, Event posts) goes with the process, and the kubelet restarts it as a clean standby.
    """
    log.error("%s; exiting now so that no writer outlives the leadership", why)
    for handler in logging.getLogger().handlers:
        with contextlib.suppress(Exception):
            handler.flush()
    os._exit(code)


async def run(cfg: OperatorSettings, *, on_lost: Callable[[int, str], None] = exit_now) -> int:
    """Run the operator until stopped; the exit status for the process."""
    metrics = Metrics()
    identity = cfg.leader.identity or default_identity()
    user_agent = f"hatchet-operator/{__version__} ({identity})"
    elector: LeaderElector | None = None
    if cfg.leader.enabled:
        problems = check_timing(cfg.leader)
        for problem in problems:
            log.error("leader election: %s", problem)
        if problems:
            return 2
        # Its own client (own connections): a renewal never queues behind a burst of applies or a
        # slow LIST, and each request ends by the renew deadline.
        elector = LeaderElector(
            Client(login, user_agent=user_agent, timeout=min(cfg.request_timeout, cfg.leader.renew_deadline)),
            cfg.leader,
            metrics,
            watch_stale_seconds=cfg.watch_stale_seconds,
        )
    stopping = False

    def may_write() -> bool:
        return not stopping and (elector is None or elector.may_write())

    client = GuardedClient(
        login,
        user_agent=user_agent,
        timeout=cfg.request_timeout,
        on_write=metrics.write,
        allow=may_write,
        budget=elector.budget if elector is not None else (lambda: float("inf")),
    )
    health = Health(elector)
    runners: list[web.AppRunner] = []
    if cfg.metrics_port:
        app = web.Application()

        async def metrics_view(_: web.Request) -> web.Response:
            return web.Response(body=generate_latest(metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

        app.router.add_get("/metrics", metrics_view)
        runners.append(await _serve(app, cfg.bind_address, cfg.metrics_port))
    if cfg.health_port:
        app = web.Application()
        app.router.add_get("/healthz", health.livez)
        app.router.add_get("/readyz", health.readyz)
        runners.append(await _serve(app, cfg.bind_address, cfg.health_port))

    libc = tune_malloc()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    background: list[asyncio.Task[Any]] = []
    hold: asyncio.Task[None] | None = None
    stop_flag: asyncio.Event = asyncio.Event()
    ready_flag: asyncio.Event = asyncio.Event()
    try:
        if elector is not None:
            acquire = asyncio.create_task(elector.acquire())
            stopping_task = asyncio.create_task(stop.wait())
            await asyncio.wait({acquire, stopping_task}, return_when=asyncio.FIRST_COMPLETED)
            stopping_task.cancel()
            if not acquire.done():
                acquire.cancel()
                return 0
            # Renew from this moment on, priming included; a loss ends the process (``on_lost``).
            hold = asyncio.create_task(_hold_or_exit(elector, on_lost), name="lease-hold")
            background.append(asyncio.create_task(elector.watch(), name="lease-watch"))
        if libc is not None:
            background.append(asyncio.create_task(trim_loop(libc), name="malloc-trim"))
        lead = asyncio.create_task(_lead(cfg, client, metrics, health, identity, stop_flag, ready_flag), name="lead")
        background.append(asyncio.create_task(_take_signals_back(ready_flag, stop), name="signals"))
        stopped = asyncio.ensure_future(stop.wait())
        await asyncio.wait({lead, stopped}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        code = 0
        if lead.done() and not lead.cancelled() and lead.exception() is not None:
            log.error("the operator stopped with an error: %r", lead.exception())
            code = 1
        # Stop every writer before the Lease is released: the guard refuses new writes from here on
        # (reconciles, retry and status-flush timers, Events), kopf and the Deployment watch stop.
        stopping = True
        stop_flag.set()
        # Writes already sent finish first: released with one in flight, it could land after a
        # standby took over. (Renewals go on meanwhile; a loss still ends the process.)
        if not await client.drained(timeout=cfg.request_timeout):
            log.warning("writes still in flight after %.0fs; leaving the Lease to expire", cfg.request_timeout)
        elif elector is not None and hold is not None:
            if client.unsettled_at is not None:
                await _settle(client.unsettled_at, cfg.leader.lease_duration)
            hold.cancel()
            await elector.release()
        if hold is not None:
            hold.cancel()
        try:
            await asyncio.wait_for(asyncio.shield(lead), timeout=STOP_GRACE_SECONDS)
        except (TimeoutError, Exception) as e:  # the operator is stopping and can write nothing; do not hang
            log.info("kopf did not stop within %.0fs (%r); exiting anyway", STOP_GRACE_SECONDS, e)
            lead.cancel()
        return code
    finally:
        stopping = True
        if hold is not None:
            hold.cancel()
        for task in background:
            task.cancel()
        for r in runners:
            await r.cleanup()
        await client.close()
        if elector is not None:
            await elector.client.close()


async def _settle(unsettled_at: float, lease_duration: float) -> None:
    """A write this replica gave up on may still be on its way to the apiserver (a slow link holds
    its bytes, not the request), so the hand-over waits until it has had a full lease duration to
    land (the Lease is renewed meanwhile; a loss still ends the process): the same time a standby
    gives a leader that stopped renewing. One long past costs nothing."""
    wait = unsettled_at + lease_duration - time.monotonic()
    if wait > 0:
        ago = lease_duration - wait
        log.warning("a write ended without an answer %.1fs ago; releasing the Lease in %.1fs", ago, wait)
        await asyncio.sleep(wait)


async def _hold_or_exit(elector: LeaderElector, on_lost: Callable[[int, str], None]) -> None:
    """Renew the Lease; when leadership is lost, call ``on_lost`` in the same step (nothing else runs
    in between: ``hold`` has already made ``may_write`` false)."""
    try:
        why = await elector.hold()
    except asyncio.CancelledError:
        raise
    except BaseException as e:  # an unexpected error in the renewal loop is a loss too
        why = f"the renewal loop failed: {e!r}"
    on_lost(1, f"lost leadership: {why}")


async def _lead(
    cfg: OperatorSettings,
    client: Client,
    metrics: Metrics,
    health: Health,
    identity: str,
    stop_flag: asyncio.Event,
    ready_flag: asyncio.Event,
) -> None:
    """The leader's work: prime the cache, then watch Deployments and run kopf until it stops."""
    cache = Cache()
    await cache.prime(client, cfg.namespaces, cfg.check_secrets)
    reconciler = Reconciler(
        client,
        metrics,
        options=render.RenderOptions(default_image=cfg.default_image),
        check_secrets=cfg.check_secrets,
        post_event=EventPoster(client, identity),
        status_delay=cfg.status_delay,
    )
    registry = kopf.OperatorRegistry()
    reconciler.views = cache

    async def reconcile_keys(keys: list[Any]) -> None:
        for key in keys:
            await reconciler.reconcile(key)

    async def get_secret(namespace: str, name: str) -> Any:
        return await client.get(f"/api/v1/namespaces/{namespace}/secrets/{name}", resource="secrets")

    # Autoscaling reads the engine, reports in status.autoscaling and scales through the same
    # leader-gated client as every other write.
    reconciler.autoscaling = autoscaling = EngineAutoscaling(
        get_secret, reconcile_keys, interval=cfg.autoscaling_interval, kube=client, metrics=metrics
    )

    async def deployment_changed(key: tuple[str, str], deleted: bool) -> None:
        if deleted:
            reconciler.deployment_gone(key)
        await reconciler.reconcile(key)

    deployments = asyncio.create_task(
        cache.watch_deployments(client, cfg.namespaces, deployment_changed), name="deployments"
    )
    handlers.register(registry, reconciler, cache, login=login, check_secrets=cfg.check_secrets)
    kopf_task = asyncio.create_task(
        kopf.operator(
            registry=registry,
            settings=kopf_settings(cfg),
            clusterwide=not cfg.namespaces,
            namespaces=list(cfg.namespaces),
            standalone=True,
            stop_flag=stop_flag,
            ready_flag=ready_flag,
        ),
        name="kopf",
    )
    health.kopf_task = kopf_task
    try:
        await kopf_task
    finally:
        deployments.cancel()
        await autoscaling.close()


async def _take_signals_back(ready: asyncio.Event, stop: asyncio.Event) -> None:
    """kopf installs its own SIGTERM/SIGINT handlers when it starts; route them to our stop sequence."""
    await ready.wait()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)


def tune_malloc() -> Any:
    """Keep glibc from growing resident memory: at most two malloc arenas (asyncio's helper threads
    would each get one, up to 8 per core) and a handle for returning freed memory to the OS.

    Returns the C library handle (or None off glibc); ``trim_loop`` uses it.
    """
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-8, 2)  # M_ARENA_MAX
        return libc
    except (OSError, AttributeError):
        return None


async def trim_loop(libc: Any, every: float = 30.0) -> None:
    """After bursts (a fleet created, a restart's LIST) freed memory stays mapped; hand it back."""
    while True:
        await asyncio.sleep(every)
        libc.malloc_trim(0)


def default_identity() -> str:
    base = os.environ.get("POD_NAME") or os.uname().nodename
    return f"{base}_{os.urandom(4).hex()}"
