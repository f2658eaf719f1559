"""A worker registered again while it drains is paused again, and that pause is retried.

A listener that registers again during the drain may come back as a worker the engine does not
hold paused; one failed request would leave it open to new tasks for the rest of the drain. The
engine's REST API is stood in for by a local HTTP server that refuses the first pauses.
"""

from __future__ import annotations

import asyncio
import http.server
import threading
import time
from collections.abc import Iterator

import pytest

from hatchet_worker import ClientConfig, Hatchet

from .two_sdks import TOKEN


class Engine(http.server.BaseHTTPRequestHandler):
    refuse = 0
    patches: list[tuple[str, int]] = []

    def do_PATCH(self) -> None:  # the handler method http.server calls for PATCH
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        code = 503 if len(Engine.patches) < Engine.refuse else 200
        Engine.patches.append((self.path, code))
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def engine() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Engine)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Engine.patches = []
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def registered_again(url: str, draining: bool) -> object:
    worker = Hatchet(config=ClientConfig(token=TOKEN, server_url=url)).worker("repause")

    async def main() -> object:
        worker.worker_id = "w-1"
        worker._draining, worker._drain_until = draining, time.monotonic() + 20
        worker._on_registered(b'{"worker_id": "w-2"}')
        if worker._repausing is not None:
            await asyncio.wait_for(worker._repausing, 15)
        return worker.worker_id

    return asyncio.run(main())


def test_a_worker_registered_again_while_draining_is_paused_until_the_engine_takes_it(engine: str) -> None:
    Engine.refuse = 2
    assert registered_again(engine, draining=True) == "w-2"
    assert Engine.patches == [("/api/v1/workers/w-2", 503), ("/api/v1/workers/w-2", 503),
                              ("/api/v1/workers/w-2", 200)]


def test_a_worker_registered_again_outside_a_drain_is_not_paused(engine: str) -> None:
    Engine.refuse = 0
    assert registered_again(engine, draining=False) == "w-2"
    assert Engine.patches == []
