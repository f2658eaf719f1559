"""A real Hatchet engine (hatchet-lite: gRPC engine + REST API in one process) on a private
PostgreSQL, both on 127.0.0.1 free ports.

PostgreSQL refuses to run as root, so it runs as the `postgres` system user (the Debian package
creates it) in a data directory of its own. The message queue is PostgreSQL too: no RabbitMQ.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import binaries
from .proc import Proc, free_port, run, wait_for

DEFAULT_TENANT_ID = "707d0855-80ab-4e1f-a156-f1c4546cbf52"  # what `hatchet-admin quickstart` seeds


def postgres_bindir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parts[-3]))
    if not found:
        run(["bash", str(binaries.HACK / "ensure-deps.sh")], timeout=900)
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parts[-3]))
    return found[-1].parent


class Postgres:
    user = "postgres"

    def __init__(self, logs: Path) -> None:
        self.bindir = postgres_bindir()
        # Not under pytest's tmp dir: that is private to root and the server runs as `postgres`.
        self.dir = Path(tempfile.mkdtemp(prefix="hatchet-kube-pg-"))
        self.port = free_port()
        self.logs = logs
        self.proc: Proc | None = None

    def start(self) -> Postgres:
        shutil.chown(self.dir, self.user, self.user)
        data = self.dir / "data"
        run(
            [
                "setpriv",
                *Proc._drop_to(self.user),
                "--",
                str(self.bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ],
            timeout=120,
        )
        self.proc = Proc(
            "postgres",
            [
                str(self.bindir / "postgres"),
                "-D",
                str(data),
                "-p",
                str(self.port),
                "-k",
                str(self.dir),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "max_connections=400",
                # Durability is worthless for a throwaway test database; speed is not.
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "shared_buffers=128MB",
            ],
            self.logs / "postgres.log",
            user=self.user,
        ).start()
        wait_for(lambda: self.psql("select 1", check=False).returncode == 0, 60, "postgres", procs=[self.proc])
        return self

    def psql(self, sql: str, db: str = "postgres", check: bool = True) -> object:
        return run(
            [
                str(self.bindir / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                db,
                "-v",
                "ON_ERROR_STOP=1",
                "-qAt",
                "-c",
                sql,
            ],
            check=check,
            timeout=60,
        )

    def create_database(self, name: str, owner: str, password: str) -> str:
        self.psql(f"CREATE ROLE {owner} LOGIN PASSWORD '{password}'")
        self.psql(f"CREATE DATABASE {name} OWNER {owner}")
        self.psql(f"ALTER DATABASE {name} SET timezone TO 'UTC'")
        return f"postgresql://{owner}:{password}@127.0.0.1:{self.port}/{name}?sslmode=disable"

    def stop(self) -> None:
        if self.proc:
            self.proc.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class HatchetEngine:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.logs = workdir / "logs"
        self.bin = binaries.hatchet_bin()
        self.version = "v" + binaries.versions()["HATCHET_ENGINE_VERSION"]
        self.tenant_id = DEFAULT_TENANT_ID
        self.grpc_port = free_port()
        self.api_port = free_port()
        self.health_port = free_port()
        self.grpc_address = f"127.0.0.1:{self.grpc_port}"
        self.rest_url = f"http://127.0.0.1:{self.api_port}"
        self.postgres = Postgres(self.logs)
        self.proc: Proc | None = None
        self.token = ""

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SERVER_", "DATABASE_", "HATCHET_"))}
        env.update(
            {
                "DATABASE_URL": self.database_url,
                "DATABASE_MAX_CONNS": "40",
                "SERVER_MSGQUEUE_KIND": "postgres",
                "SERVER_PORT": str(self.api_port),
                "SERVER_URL": self.rest_url,
                "SERVER_GRPC_PORT": str(self.grpc_port),
                "SERVER_GRPC_BIND_ADDRESS": "127.0.0.1",
                "SERVER_GRPC_BROADCAST_ADDRESS": self.grpc_address,
                "SERVER_GRPC_INSECURE": "t",
                "SERVER_HEALTHCHECK_PORT": str(self.health_port),
                "SERVER_AUTH_COOKIE_DOMAIN": "localhost",
                "SERVER_AUTH_COOKIE_INSECURE": "t",
                "SERVER_AUTH_SET_EMAIL_VERIFIED": "t",
                "SERVER_SECURITY_CHECK_ENABLED": "f",  # no call home
                "SERVER_ANALYTICS_POSTHOG_ENABLED": "f",
                # The OTLP trace service SDK workers export spans to (off by default in the engine).
                "SERVER_OBSERVABILITY_ENABLED": "t",
                "SERVER_LOGGER_LEVEL": "warn",
                "SERVER_LOGGER_FORMAT": "console",
                "DATABASE_LOGGER_LEVEL": "warn",
                # hatchet-lite also serves a frontend; give it an empty asset dir and private ports.
                "LITE_STATIC_ASSET_DIR": str(self.workdir / "static"),
                "LITE_FRONTEND_PORT": str(self.frontend_port),
                "LITE_RUNTIME_PORT": str(self.runtime_port),
            }
        )
        return env

    def start(self) -> HatchetEngine:
        t0 = time.monotonic()
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "static").mkdir(exist_ok=True)
        (self.workdir / "static" / "index.html").write_text("<!doctype html><title>hatchet</title>\n")
        self.frontend_port, self.runtime_port = free_port(), free_port()
        self.postgres.start()
        self.database_url = self.postgres.create_database("hatchet", "hatchet", "hatchet")
        env = self._env()
        config = self.workdir / "config"
        run([str(self.bin / "hatchet-migrate")], env=env, timeout=600)
        run(
            [
                str(self.bin / "hatchet-admin"),
                "quickstart",
                "--skip",
                "certs",
                "--generated-config-dir",
                str(config),
                "--overwrite=false",
            ],
            env=env,
            timeout=300,
        )
        self.config_dir = config
        out = run(
            [
                str(self.bin / "hatchet-admin"),
                "token",
                "create",
                "--config",
                str(config),
                "--tenant-id",
                self.tenant_id,
                "--name",
                "harness",
            ],
            env=env,
            timeout=120,
        ).stdout
        self.token = out.strip().splitlines()[-1]
        self._start_engine()
        self.start_seconds = time.monotonic() - t0
        return self

    def _start_engine(self) -> None:
        self.proc = Proc(
            "hatchet-lite",
            [str(self.bin / "hatchet-lite"), "--config", str(self.config_dir)],
            self.logs / "hatchet-lite.log",
            env=self._env(),
        ).start()
        wait_for(self.ready, 120, "hatchet engine ready", procs=[self.proc])

    def ready(self) -> bool:
        # /ready turns 200 before the gRPC server listens: check the port too.
        with socket.create_connection(("127.0.0.1", self.grpc_port), timeout=2):
            pass
        with urllib.request.urlopen(f"http://127.0.0.1:{self.health_port}/ready", timeout=2) as r:
            if r.status != 200:
                return False
        with urllib.request.urlopen(f"{self.rest_url}/api/ready", timeout=2) as r:
            return bool(r.status == 200)

    def restart(self, down_seconds: float = 0.0) -> None:
        """Stop the engine process (PostgreSQL keeps its state), optionally stay down, start it again."""
        assert self.proc is not None
        self.proc.stop()
        if down_seconds:
            time.sleep(down_seconds)  # an outage of a chosen length is the point here
        self._start_engine()

    def stop(self) -> None:
        if self.proc:
            self.proc.stop()
        self.postgres.stop()

    def client_env(self) -> dict[str, str]:
        """The variables a worker (ours or the official SDK's) needs to reach this engine."""
        return {
            "HATCHET_CLIENT_TOKEN": self.token,
            "HATCHET_CLIENT_HOST_PORT": self.grpc_address,
            "HATCHET_CLIENT_SERVER_URL": self.rest_url,
            "HATCHET_CLIENT_TLS_STRATEGY": "none",
        }

    def rest(self, method: str, path: str, body: object | None = None) -> Any:
        """Call the engine's REST API with the tenant token; returns the decoded JSON."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"{self.rest_url}{path}",
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            raw = r.read()
        return json.loads(raw) if raw else None

    def workers(self, status: str | None = None) -> list[dict[str, Any]]:
        q = f"?statuses={status}" if status else ""
        return list(self.rest("GET", f"/api/v1/tenants/{self.tenant_id}/worker{q}").get("rows") or [])

    def wait_for_worker(self, name: str, timeout: float = 60, procs: Sequence[Proc] = ()) -> dict[str, Any]:
        """Wait until a worker called `name` is ACTIVE, i.e. registered, listening and heartbeating.

        Trigger runs only after this: the engine accepts a trigger for a workflow that no worker has
        registered yet and then never creates the run.
        """

        def active() -> dict[str, Any] | None:
            return next((w for w in self.workers("ACTIVE") if w["name"] == name), None)

        return wait_for(active, timeout, f"worker {name!r} ACTIVE at the engine", procs=[*procs, *self._procs()])

    def _procs(self) -> list[Proc]:
        return [p for p in (self.proc, self.postgres.proc) if p is not None]

    def token_claims(self) -> dict[str, object]:
        payload = self.token.split(".")[1]
        return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))

