"""The worker's HTTP endpoints: ``/health``, ``/livez``, ``/readyz`` and ``/metrics``.

A minimal HTTP/1.1 server on the worker's own event loop (no web framework): probes are tiny GET
requests and every answer is computed from in-memory state, so serving them costs next to nothing.
If the loop is blocked the server cannot answer, which is exactly what a probe should observe.

* ``/health``: the official SDK's semantics: ``{"status": "HEALTHY"|"STARTING"|"UNHEALTHY"}``,
  200 only when HEALTHY.
* ``/livez``: 200 unless the process is a zombie: the listener subprocess died or gave up, or the
  pump that carries its frames to the runner crashed or has read nothing (not even the 2 s tick)
  for 15 s. An engine outage alone never fails it (the listener reconnects, ticks keep coming),
  so a liveness probe restarts a zombie, never a fleet waiting for its engine.
* ``/readyz``: 200 when registered, listening with a fresh heartbeat, and not draining (false
  during an engine outage).
* ``/metrics``: Prometheus text format.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("hatchet_worker.health")

Probe = Callable[[], tuple[bool, dict[str, Any]]]


class HealthServer:
    def __init__(self, *, health: Probe, live: Probe, ready: Probe, metrics: Callable[[], bytes]) -> None:
        self._routes: dict[str, Probe] = {"/health": health, "/livez": live, "/readyz": ready}
        self._metrics = metrics
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self, host: str | None, port: int) -> None:
        bind = None if host in (None, "", "none") else host
        self._server = await asyncio.start_server(self._handle, bind, port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("health server listening on %s:%d", bind or "*", self.port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5.0)
            request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
            parts = request_line.split()
            method, target = (parts[0], parts[1]) if len(parts) >= 2 else ("", "")
            path = target.split("?", 1)[0]
            status, ctype, body = self._respond(method, path)
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                f"Connection: close\r\n\r\n".encode() + (body if method != "HEAD" else b""))
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            writer.close()

    def _respond(self, method: str, path: str) -> tuple[str, str, bytes]:
        if method not in ("GET", "HEAD"):
            return "405 Method Not Allowed", "text/plain", b"method not allowed\n"
        if path == "/metrics":
            from hatchet_worker._metrics import CONTENT_TYPE

            return "200 OK", CONTENT_TYPE, self._metrics()
        probe = self._routes.get(path)
        if probe is None:
            return "404 Not Found", "text/plain", b"not found\n"
        ok, doc = probe()
        body = json.dumps(doc).encode()
        return ("200 OK" if ok else "503 Service Unavailable"), "application/json", body
