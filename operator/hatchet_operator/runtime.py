"""Process wiring for `hatchet-operator run`: login, servers, leader election, then kopf.

Order: start the metrics and health servers (a standby is alive and exports metrics too), wait for
the leader Lease, then run kopf until it stops (SIGTERM) or leadership is lost. Losing leadership
exits with status 1 so the replica restarts clean as a standby; a graceful stop releases the Lease.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from typing import Any

import kopf
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from hatchet_operator import __version__, handlers, render
from hatchet_operator.cache import Cache
from hatchet_operator.events import EventPoster
from hatchet_operator.kube import Client
from hatchet_operator.leader import LeaderElector
from hatchet_operator.metrics import Metrics
from hatchet_operator.reconcile import Reconciler
from hatchet_operator.settings import OperatorSettings

log = logging.getLogger(__name__)

# Seconds a stopping leader waits for kopf before it releases the Lease anyway.
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


async def run(cfg: OperatorSettings) -> int:
    """Run the operator until stopped; the exit status for the process."""
    metrics = Metrics()
    client = Client(
        login,
        user_agent=f"hatchet-operator/{__version__}",
        timeout=cfg.request_timeout,
        on_write=metrics.write,
    )
    elector = (
        LeaderElector(client, cfg.leader, metrics, watch_stale_seconds=cfg.watch_stale_seconds)
        if cfg.leader.enabled
        else None
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
    code = 0
    try:
        if elector is not None:
            acquire = asyncio.create_task(elector.acquire())
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait({acquire, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if not acquire.done():
                acquire.cancel()
                return 0
            background.append(asyncio.create_task(elector.watch(), name="lease-watch"))
        if libc is not None:
            background.append(asyncio.create_task(trim_loop(libc), name="malloc-trim"))
        cache = Cache()
        await cache.prime(client, cfg.namespaces, cfg.check_secrets)
        reconciler = Reconciler(
            client,
            metrics,
            options=render.RenderOptions(default_image=cfg.default_image),
            check_secrets=cfg.check_secrets,
            post_event=EventPoster(client, cfg.leader.identity or default_identity()),
            status_delay=cfg.status_delay,
        )
        registry = kopf.OperatorRegistry()
        reconciler.views = cache

        async def deployment_changed(key: tuple[str, str], deleted: bool) -> None:
            if deleted:
                reconciler.deployment_gone(key)
            await reconciler.reconcile(key)

        background.append(
            asyncio.create_task(cache.watch_deployments(client, cfg.namespaces, deployment_changed), name="deployments")
        )
        handlers.register(registry, reconciler, cache, login=login, check_secrets=cfg.check_secrets)
        stop_flag: asyncio.Event = asyncio.Event()
        ready_flag: asyncio.Event = asyncio.Event()
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
        background.append(asyncio.create_task(_take_signals_back(ready_flag, stop), name="signals"))
        waiters: set[asyncio.Future[Any]] = {kopf_task, asyncio.ensure_future(stop.wait())}
        hold = asyncio.create_task(elector.hold()) if elector is not None else None
        if hold is not None:
            waiters.add(hold)
        done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        if hold is not None and hold in done:
            log.error("lost leadership; stopping")
            code = 1
        elif kopf_task in done and kopf_task.exception() is not None:
            log.error("kopf stopped with an error: %r", kopf_task.exception())
            code = 1
        stop_flag.set()
        # Give in-flight reconciles a moment, then hand the Lease over before kopf's slower clean-up
        # (idle per-object workers, the event poster) finishes: a standby takes over at once.
        await asyncio.wait({kopf_task}, timeout=STOP_GRACE_SECONDS)
        if hold is not None:
            hold.cancel()
        if elector is not None and code == 0:
            await elector.release()
        try:
            await asyncio.wait_for(asyncio.shield(kopf_task), timeout=30)
        except (TimeoutError, Exception) as e:  # the operator is stopping; report, do not hang
            log.warning("kopf did not stop cleanly: %r", e)
        return code
    finally:
        for task in background:
            task.cancel()
        for r in runners:
            await r.cleanup()
        await client.close()


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
