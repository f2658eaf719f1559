"""Fixtures for SDK tests against the real engine: worker subprocesses and a client, per namespace.

Each test gets its own Hatchet namespace, so workflows, runs and workers of different tests never
meet even though they share one engine.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.hatchet import HatchetEngine
from harness.proc import free_port
from hatchet_worker import ClientConfig, ClientTLSConfig, Hatchet

APP = Path(__file__).parent / "apps" / "app.py"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "engine_restart: restarts the shared engine; runs after other tests")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run engine-restarting tests last: after an unclean restart the engine takes up to a minute to
    resume scheduling (its partition leases expire), which would slow every later test down."""
    restarting = [i for i in items if i.get_closest_marker("engine_restart")]
    for item in restarting:
        items.remove(item)
    items.extend(restarting)


def wait_until(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    """Poll ``check`` until it returns something truthy; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except Exception as exc:  # not ready yet
            last = exc
        else:
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last!r})")


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("HATCHET_CLIENT_", "APP_"))}


class TcpProxy:
    """A TCP forwarder on 127.0.0.1 in front of the engine's gRPC port: closing it cuts the worker
    off the (still running) engine, so outages can be tested without touching the shared engine."""

    def __init__(self, target: str, port: int = 0) -> None:
        """``port``: listen on this one (that of a closed proxy, to bring a cut connection back)."""
        host, target_port = target.rsplit(":", 1)
        self.target = (host, int(target_port))
        self.server = socket.create_server(("127.0.0.1", port))
        self.address = f"127.0.0.1:{self.server.getsockname()[1]}"
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._open = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            with self._lock:
                if not self._open:  # accepted from the backlog after close(): refuse it
                    client.close()
                    return
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        """Refuse new connections and reset every open one."""
        with self._lock:
            self._open = False
            with contextlib.suppress(OSError):
                self.server.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
            self.server.close()
            for conn in self._conns:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()


class WorkerProc:
    """A worker process running ``apps/app.py`` (or another script) with its own health port."""

    def __init__(self, env: dict[str, str], log: Path, script: Path = APP) -> None:
        self.health_port = int(env["HATCHET_CLIENT_WORKER_HEALTHCHECK_PORT"])
        self.log = log
        self.started = time.monotonic()
        self._out = log.open("wb")
        self.popen = subprocess.Popen([sys.executable, str(script)], env=env, stdout=self._out,
                                      stderr=subprocess.STDOUT, cwd=str(script.parent))

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.health_port}{path}", timeout=2) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def health(self) -> tuple[int, dict[str, Any]]:
        code, body = self.get("/health")
        return code, json.loads(body)

    def wait_healthy(self, timeout: float = 30.0) -> float:
        """Seconds from spawn to the first HEALTHY answer."""
        def healthy() -> bool:
            if self.popen.poll() is not None:
                raise AssertionError(f"worker exited with {self.popen.returncode}:\n{self.output()}")
            return self.health()[0] == 200
        try:
            wait_until(healthy, timeout, "worker HEALTHY")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\nworker output:\n{self.output()}") from None
        return time.monotonic() - self.started

    def metric(self, name: str) -> float:
        """Sum of a metric's samples over all label sets."""
        _, text = self.get("/metrics")
        total = 0.0
        for line in text.splitlines():
            if line.startswith(name + "{") or line.startswith(name + " "):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def listener_pid(self) -> int:
        children = Path(f"/proc/{self.popen.pid}/task/{self.popen.pid}/children").read_text().split()
        for pid in children:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            if "hatchet_worker._listener" in cmd:
                return int(pid)
        raise AssertionError(f"no listener subprocess among {children}")

    def signal(self, sig: signal.Signals) -> None:
        self.popen.send_signal(sig)

    def wait_exit(self, timeout: float) -> int:
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"worker still running after {timeout} s:\n{self.output()}") from None

    def output(self) -> str:
        self._out.flush()
        return self.log.read_text(errors="replace")[-6000:]

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        self._out.close()


@pytest.fixture
def ns() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def client(hatchet: HatchetEngine, ns: str) -> Hatchet:
    return Hatchet(config=ClientConfig(token=hatchet.token, host_port=hatchet.grpc_address,
                                       server_url=hatchet.rest_url, namespace=ns,
                                       tls_config=ClientTLSConfig(strategy="none")))


@pytest.fixture
def markers(tmp_path: Path) -> Path:
    path = tmp_path / "markers"
    path.mkdir()
    return path


@pytest.fixture
def worker_env(hatchet: HatchetEngine, ns: str, markers: Path) -> Callable[..., dict[str, str]]:
    def make(**extra: str) -> dict[str, str]:
        env = clean_env()
        env.update(hatchet.client_env())
        env.update({
            "HATCHET_CLIENT_NAMESPACE": ns,
            "HATCHET_CLIENT_WORKER_HEALTHCHECK_ENABLED": "true",
            "HATCHET_CLIENT_WORKER_HEALTHCHECK_PORT": str(free_port()),
            "HATCHET_CLIENT_WORKER_HEALTHCHECK_BIND_ADDRESS": "127.0.0.1",
            "APP_MARKERS": str(markers),
        })
        env.update(extra)
        return env
    return make


@pytest.fixture
def start_worker(worker_env: Callable[..., dict[str, str]],
                 tmp_path: Path) -> Iterator[Callable[..., WorkerProc]]:
    started: list[WorkerProc] = []

    def start(script: Path = APP, healthy: bool = True, **extra: str) -> WorkerProc:
        proc = WorkerProc(worker_env(**extra), tmp_path / f"worker-{len(started)}.log", script)
        started.append(proc)
        if healthy:
            proc.wait_healthy()
        return proc

    yield start
    for proc in started:
        proc.stop()


def stub(client: Hatchet, name: str) -> Any:
    """A declaration in the test process used only to trigger runs of ``name`` by name."""
    return client.workflow(name=name)


def standalone(client: Hatchet, name: str) -> Any:
    """Like :func:`stub`, but ``run`` returns the single task's output (the task shares the name)."""
    from hatchet_worker.workflow import Standalone

    wf: Standalone[Any, Any] = Standalone(client, name=name)
    return wf._bind(wf.task(name=name)(lambda i, c: None))


class ExecutionLog:
    """A table ``executions(run_id, attempt, pid, tag)`` in a database of its own on the engine's
    PostgreSQL: tasks of ``apps/app.py`` insert one row each time they start executing, so a test
    counts executions from a source the worker cannot fool."""

    def __init__(self, hatchet: HatchetEngine, name: str) -> None:
        self.pg = hatchet.postgres
        self.db = name
        self.pg.psql(f"CREATE DATABASE {name}")
        self.pg.psql("CREATE TABLE executions (run_id text NOT NULL, attempt int NOT NULL, pid int NOT NULL, "
                     "tag text NOT NULL, at timestamptz NOT NULL DEFAULT now())", db=name)
        self.env = {"APP_PSQL": str(self.pg.bindir / "psql"),
                    "APP_PG_ARGS": f"-h 127.0.0.1 -p {self.pg.port} -U postgres -d {name} -v ON_ERROR_STOP=1"}

    def counts(self) -> dict[str, int]:
        """Executions per run id."""
        out = self.pg.psql("SELECT run_id, count(*) FROM executions GROUP BY run_id", db=self.db)
        rows = [line.split("|") for line in str(getattr(out, "stdout", "")).splitlines() if line]
        return {run_id: int(n) for run_id, n in rows}

    def rows(self) -> list[tuple[str, int, int, str]]:
        out = self.pg.psql("SELECT run_id, attempt, pid, tag FROM executions ORDER BY at", db=self.db)
        return [(r, int(a), int(p), t) for r, a, p, t in
                (line.split("|") for line in str(getattr(out, "stdout", "")).splitlines() if line)]


@pytest.fixture
def executions_db(hatchet: HatchetEngine, ns: str) -> Iterator[ExecutionLog]:
    log = ExecutionLog(hatchet, f"exec_{ns}")
    yield log
    hatchet.postgres.psql(f"DROP DATABASE IF EXISTS {log.db} WITH (FORCE)", check=False)
