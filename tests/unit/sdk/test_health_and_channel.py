"""Health semantics of the worker (pure state), the HTTP server's answers, and channel security options."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

import grpc
import pytest

from hatchet_worker import ClientConfig, ClientTLSConfig, Hatchet, LoopAlreadyRunningError
from hatchet_worker._channel import channel_options, method_path
from hatchet_worker._health import HealthServer
from hatchet_worker._proto import dispatcher_pb2, v1_workflows_pb2


def seg(obj: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


TOKEN = f"{seg({'alg': 'x'})}.{seg({'sub': 't', 'grpc_broadcast_address': 'engine.example:443'})}.sig"


def make_worker() -> Any:
    return Hatchet(config=ClientConfig(token=TOKEN)).worker("w")


def test_health_goes_starting_healthy_unhealthy() -> None:
    w = make_worker()
    assert w.health_status() == "STARTING"
    assert w._probe_ready()[0] is False
    w._registered = True
    w._listener_state = {"state": "listening"}
    w.stats.last_heartbeat = time.time()
    assert w.health_status() == "HEALTHY"
    assert w._probe_ready() == (True, {"status": "ready", "reasons": []})
    assert w._probe_live()[0] is True
    w._listener_state = {"state": "reconnecting"}
    assert w.health_status() == "UNHEALTHY"  # a failed heartbeat or stream: not healthy, still alive
    assert w._probe_live()[0] is True
    w._listener_state = {"state": "listening"}
    w._draining = True
    assert w.health_status() == "UNHEALTHY" and w._probe_ready()[0] is False
    w._draining = False
    w._listener_died = True
    assert w.health_status() == "UNHEALTHY" and w._probe_live()[0] is False


def test_starting_too_long_is_unhealthy_and_given_up_is_dead() -> None:
    w = make_worker()
    w._started_mono -= 11
    assert w.health_status() == "UNHEALTHY"
    w._listener_state = {"state": "given_up"}
    assert w._probe_live() == (False, {"status": "dead", "reason": "the action listener gave up reconnecting"})


def test_stale_heartbeat_makes_the_worker_unready_then_dead() -> None:
    w = make_worker()
    w._registered = True
    w._listener_state = {"state": "listening"}
    w.stats.last_heartbeat = time.time() - 60
    ok, doc = w._probe_ready()
    assert not ok and doc["reasons"] == ["no recent heartbeat"]
    assert w._probe_live()[0] is True  # the listener still has time to reconnect or give up
    w.stats.last_heartbeat = time.time() - (w.config.worker_listener_give_up_seconds + 31)
    assert w._probe_live()[0] is False  # a wedged listener: liveness fails so the pod restarts


def test_health_server_answers() -> None:
    async def go() -> list[tuple[int, str]]:
        server = HealthServer(health=lambda: (True, {"status": "HEALTHY"}), live=lambda: (False, {"x": 1}),
                              ready=lambda: (True, {}), metrics=lambda: b"m 1\n")
        await server.start("127.0.0.1", 0)
        out = []
        for path in ("/health", "/livez", "/readyz", "/metrics", "/nope"):
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            data = await reader.read()
            writer.close()
            status = int(data.split(b" ", 2)[1])
            out.append((status, data.split(b"\r\n\r\n", 1)[1].decode()))
        await server.close()
        return out

    assert asyncio.run(go()) == [(200, '{"status": "HEALTHY"}'), (503, '{"x": 1}'), (200, "{}"), (200, "m 1\n"),
                                 (404, "not found\n")]


def test_tls_by_default_with_server_name_override() -> None:
    cfg = ClientConfig(token=TOKEN)
    opts = dict(channel_options(cfg.listener_settings()))
    assert opts["grpc.ssl_target_name_override"] == "engine.example"
    assert opts["grpc.keepalive_time_ms"] >= 5000  # the engine rejects pings closer than 5 s
    plain = ClientConfig(token=TOKEN, tls_config=ClientTLSConfig(strategy="none"))
    assert "grpc.ssl_target_name_override" not in dict(channel_options(plain.listener_settings()))


def test_method_paths_come_from_the_contract() -> None:
    assert method_path(dispatcher_pb2, "Dispatcher", "ListenV2") == "/Dispatcher/ListenV2"
    assert method_path(v1_workflows_pb2, "AdminService", "PutWorkflow") == "/v1.AdminService/PutWorkflow"
    assert grpc  # the channel helpers build on grpc; imported here to fail loudly if it is missing


def test_start_inside_a_running_loop_is_refused() -> None:
    w = make_worker()

    async def go() -> None:
        w.start()

    with pytest.raises(LoopAlreadyRunningError):
        asyncio.run(go())


def test_busy_health_port_stops_the_worker_with_a_message(caplog: pytest.LogCaptureFixture) -> None:
    import socket

    from hatchet_worker import HealthCheckConfig

    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        cfg = ClientConfig(token=TOKEN, healthcheck=HealthCheckConfig(enabled=True, port=port,
                                                                     bind_address="127.0.0.1"))
        worker = Hatchet(config=cfg).worker("w")
        assert asyncio.run(worker.async_start()) == 2
    assert f"cannot serve health checks on 127.0.0.1:{port}" in caplog.text
