"""The action listener: the subprocess that owns the worker's session with the engine.

It registers the worker, holds the ``ListenV2`` stream open, heartbeats every 4 s and forwards each
assignment, as the raw bytes received, to the worker process over the socket pair, with a tick
every 2 s on the same socket (the worker's proof that its pump still delivers frames). Any stream
end, stream error or failed heartbeat tears the session down and reconnects with capped,
jittered exponential backoff. It never gives up silently: after ``give_up_seconds`` without a
single successful call it reports ``given_up`` and exits with status 3, which the worker turns
into UNHEALTHY and a non-zero exit so a supervisor restarts the pod. If it dies any other way the
worker starts a new one with the same worker id.

Run as ``python -m hatchet_worker._listener <fd>``; imports only grpc, the generated messages and
stdlib modules, so it starts in a fraction of the worker's start-up time. SIGINT and SIGTERM are
ignored: the worker process decides when the listener stops (STOP frame) and a Ctrl-C delivered to
the whole process group must not cut the session while tasks drain.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import random
import signal
import socket
import sys
import time
from typing import Any

import grpc
import grpc.aio

from hatchet_worker import _channel, _ipc
from hatchet_worker._proto import dispatcher_pb2 as pb

log = logging.getLogger("hatchet_worker.listener")

HEARTBEAT_INTERVAL = 4.0
HEARTBEAT_TIMEOUT = 5.0
REGISTER_TIMEOUT = 30.0
BACKOFF_BASE = 0.1
BACKOFF_CAP = 5.0
STABLE_AFTER = 10.0
"""A session that lasted this long resets the backoff exponent."""
EXIT_GAVE_UP = 3


def backoff_delay(attempt: int, rng: random.Random | None = None) -> float:
    """Delay before reconnect attempt ``attempt`` (1-based): 0.1 s doubling, capped at 5 s, jittered."""
    jitter = (rng or random).uniform(0, 0.1)
    return float(min(BACKOFF_BASE * (2 ** max(0, attempt - 1)) + jitter, BACKOFF_CAP))


class _ReRegister(Exception):
    """The engine no longer knows this worker id: register again."""


class Listener:
    def __init__(self, settings: dict[str, Any], register: pb.WorkerRegisterRequest,
                 writer: asyncio.StreamWriter) -> None:
        self._settings = settings
        self._register_req = register
        self._writer = writer
        self._md = _channel.auth_metadata(settings["token"])
        self._give_up = float(settings.get("give_up_seconds", 300.0))
        self._stopping = asyncio.Event()
        self.worker_id: str | None = None
        self._reconnects = 0
        self._last_heartbeat: float | None = None
        self._last_success = time.monotonic()
        self._state = "starting"
        self._error: str | None = None
        self._call: Any = None
        self._broken = False
        self._forgotten = False

    # -- reporting -------------------------------------------------------------------------
    def _status(self) -> None:
        self._writer.write(_ipc.encode_json(_ipc.STATUS, {
            "state": self._state, "last_heartbeat": self._last_heartbeat,
            "reconnects": self._reconnects, "error": self._error, "worker_id": self.worker_id,
        }))

    def _set_state(self, state: str, error: str | None = None) -> None:
        self._state, self._error = state, error
        self._status()

    # -- lifecycle ---------------------------------------------------------------------------
    def stop(self) -> None:
        self._stopping.set()
        if self._call is not None:
            self._call.cancel()

    async def run(self) -> int:
        channel = _channel.aio_channel(self._settings)
        register = _channel.unary(channel, pb, "Dispatcher", "Register")
        listen = _channel.unary_stream_raw(channel, pb, "Dispatcher", "ListenV2")
        heartbeat = _channel.unary(channel, pb, "Dispatcher", "Heartbeat")
        attempt = 0
        try:
            while not self._stopping.is_set():
                started = time.monotonic()
                try:
                    if self.worker_id is None:
                        await self._register(register)
                    await self._session(listen, heartbeat)
                except _ReRegister as exc:
                    self.worker_id = None
                    self._error = str(exc)
                except grpc.aio.AioRpcError as exc:
                    self._error = f"{exc.code().name}: {exc.details()}"
                    # ListenV2 for a worker the engine no longer has fails with "no rows".
                    if exc.code() == grpc.StatusCode.NOT_FOUND or "no rows" in (exc.details() or ""):
                        self.worker_id = None
                except (TimeoutError, OSError) as exc:
                    self._error = repr(exc)
                if self._stopping.is_set():
                    break
                if time.monotonic() - started > STABLE_AFTER:
                    attempt = 0
                attempt += 1
                self._reconnects += 1
                if time.monotonic() - self._last_success > self._give_up:
                    log.error("giving up: no successful call to the engine at %s for %.0f s (last error: %s)",
                              self._settings["host_port"], self._give_up, self._error)
                    self._set_state("given_up", self._error)
                    return EXIT_GAVE_UP
                delay = backoff_delay(attempt)
                log.warning("engine session lost (%s); reconnecting in %.2f s (attempt %d)",
                            self._error, delay, attempt)
                self._set_state("reconnecting", self._error)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), delay)
            await self._unsubscribe(channel)
            self._set_state("stopped")
            return 0
        finally:
            await channel.close(grace=None)

    async def _register(self, register: Any) -> None:
        self._set_state("registering", self._error)
        resp = await register(self._register_req, timeout=REGISTER_TIMEOUT, metadata=self._md)
        self.worker_id = resp.worker_id
        self._last_success = time.monotonic()
        log.info("registered worker %s as %s", resp.worker_name, resp.worker_id)
        self._writer.write(_ipc.encode_json(_ipc.REGISTERED, {
            "worker_id": resp.worker_id, "tenant_id": resp.tenant_id, "worker_name": resp.worker_name,
        }))

    async def _session(self, listen: Any, heartbeat: Any) -> None:
        assert self.worker_id is not None
        if self._stopping.is_set():
            return
        worker_id = self.worker_id
        call = listen(pb.WorkerListenRequest(worker_id=worker_id), metadata=self._md)
        self._call = call
        self._broken = self._forgotten = False
        hb = asyncio.create_task(self._heartbeats(heartbeat, call, worker_id))
        writer = self._writer
        transport = writer.transport
        try:
            self._set_state("listening")
            async for raw in call:
                writer.write(_ipc.encode(_ipc.ACTION, raw))
                if transport.get_write_buffer_size() > 1 << 20:
                    await writer.drain()
        except asyncio.CancelledError:
            # The call was cancelled by us (failed heartbeat or stop): end the session normally.
            if not (self._stopping.is_set() or self._broken):
                raise
        finally:
            self._call = None
            hb.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await hb
        if not self._stopping.is_set():
            code = call.code() if call.done() else None
            if code == grpc.StatusCode.NOT_FOUND or self._forgotten:
                raise _ReRegister(f"worker {worker_id} unknown to the engine")
            if self._error is None:
                self._error = "stream closed by the engine"

    async def _heartbeats(self, heartbeat: Any, call: Any, worker_id: str) -> None:
        """Heartbeat until one fails; then cancel the stream so the session reconnects."""
        opened = time.monotonic()
        delay = 0.05  # the first beat at once: the engine only assigns to recently-beating workers
        while True:
            await asyncio.sleep(delay)
            delay = HEARTBEAT_INTERVAL
            req = pb.HeartbeatRequest(worker_id=worker_id)
            req.heartbeat_at.GetCurrentTime()
            try:
                await heartbeat(req, timeout=HEARTBEAT_TIMEOUT, metadata=self._md)
            except grpc.aio.AioRpcError as exc:
                code = exc.code()
                if code == grpc.StatusCode.UNIMPLEMENTED:
                    log.warning("engine does not implement Heartbeat; relying on the stream alone")
                    return
                # Right after (re)connecting the engine may not have marked the stream active yet.
                if code == grpc.StatusCode.FAILED_PRECONDITION and time.monotonic() - opened < 3.0:
                    delay = 0.5
                    continue
                reason = f"heartbeat failed: {code.name}: {exc.details()}"
                log.warning("%s", reason)
                self._error = reason
                self._forgotten = code == grpc.StatusCode.NOT_FOUND  # the engine lost this worker
                self._broken = True
                call.cancel()
                return
            self._last_heartbeat = time.time()
            self._last_success = time.monotonic()
            self._status()

    async def _unsubscribe(self, channel: grpc.aio.Channel) -> None:
        if self.worker_id is None:
            return
        unsubscribe = _channel.unary(channel, pb, "Dispatcher", "Unsubscribe")
        with contextlib.suppress(grpc.aio.AioRpcError, asyncio.TimeoutError):
            await unsubscribe(pb.WorkerUnsubscribeRequest(worker_id=self.worker_id), timeout=3.0,
                              metadata=self._md)


async def _main(fd: int) -> int:
    sock = socket.socket(fileno=fd)
    reader, writer = await asyncio.open_unix_connection(sock=sock)
    frame = await _ipc.read_frame(reader)
    if frame is None or frame[0] != _ipc.START:
        return 0  # the worker went away before starting us
    start = json.loads(frame[1])
    request = pb.WorkerRegisterRequest.FromString(base64.b64decode(start["register"]))
    listener = Listener(start["settings"], request, writer)
    # A restarted listener resumes the worker's session under the same id (no new registration),
    # so the engine never sees the running tasks' worker go silent.
    listener.worker_id = start.get("worker_id") or None

    async def watch_parent() -> None:
        while True:
            got = await _ipc.read_frame(reader)
            if got is None or got[0] == _ipc.STOP:
                listener.stop()
                return

    async def tick() -> None:
        # Independent of the engine session: a worker must see ticks during an outage too.
        while True:
            writer.write(_ipc.encode(_ipc.TICK, b""))
            await asyncio.sleep(_ipc.TICK_INTERVAL)

    watcher = asyncio.create_task(watch_parent())
    ticker = asyncio.create_task(tick())
    try:
        code = await listener.run()
    finally:
        watcher.cancel()
        ticker.cancel()
    with contextlib.suppress(ConnectionError):
        await writer.drain()
        writer.close()
    return code


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    level = os.environ.get("HATCHET_WORKER_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(level=level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s")
    return asyncio.run(_main(int(args[0])))


if __name__ == "__main__":
    sys.exit(main())
