"""Configuration from code and HATCHET_CLIENT_* variables; token claims."""

from __future__ import annotations

import base64
import json

import pytest

from hatchet_worker import ClientConfig, ConfigError, HealthCheckConfig, HealthcheckConfig
from hatchet_worker.config import decode_token


def make_token(**claims: object) -> str:
    def seg(obj: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")
    return f"{seg({'alg': 'ES256'})}.{seg(claims)}.c2ln"


TOKEN = make_token(sub="tenant-1", server_url="https://hatchet.example", grpc_broadcast_address="engine:7070")


@pytest.fixture(autouse=True)
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("HATCHET_CLIENT_"):
            monkeypatch.delenv(key)


def test_derives_tenant_address_and_url_from_the_token() -> None:
    cfg = ClientConfig(token=TOKEN)
    assert (cfg.tenant_id, cfg.host_port, cfg.server_url) == ("tenant-1", "engine:7070", "https://hatchet.example")
    assert cfg.tls_config.strategy == "tls"
    assert cfg.tls_server_name == "engine"
    assert cfg.healthcheck == HealthCheckConfig(enabled=False, port=8001, bind_address="0.0.0.0")


def test_environment_fills_what_code_leaves_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HATCHET_CLIENT_TOKEN", TOKEN)
    monkeypatch.setenv("HATCHET_CLIENT_HOST_PORT", "127.0.0.1:7077")
    monkeypatch.setenv("HATCHET_CLIENT_SERVER_URL", "http://127.0.0.1:8080/")
    monkeypatch.setenv("HATCHET_CLIENT_TLS_STRATEGY", "NONE")
    monkeypatch.setenv("HATCHET_CLIENT_NAMESPACE", "Prod")
    monkeypatch.setenv("HATCHET_CLIENT_WORKER_HEALTHCHECK_ENABLED", "true")
    monkeypatch.setenv("HATCHET_CLIENT_WORKER_HEALTHCHECK_PORT", "9001")
    monkeypatch.setenv("HATCHET_CLIENT_WORKER_HEALTHCHECK_BIND_ADDRESS", "127.0.0.1")
    monkeypatch.setenv("HATCHET_CLIENT_WORKER_PRESET_LABELS", '{"zone": "a", "gpu": 2}')
    monkeypatch.setenv("HATCHET_CLIENT_WORKER_SLOTS", "7")
    monkeypatch.setenv("HATCHET_CLIENT_WORKER_DURABLE_SLOTS", "70")
    monkeypatch.setenv("HATCHET_CLIENT_WORKER_NAME", "from-cr")
    monkeypatch.setenv("HATCHET_CLIENT_WORKER_DRAIN_TIMEOUT_SECONDS", "90")
    cfg = ClientConfig(host_port="explicit:1")  # code wins over the environment
    assert cfg.host_port == "explicit:1"
    assert cfg.server_url == "http://127.0.0.1:8080"
    assert cfg.tls_config.strategy == "none"
    assert cfg.namespace == "prod_"
    assert cfg.apply_namespace("wf") == "prod_wf" and cfg.apply_namespace("prod_wf") == "prod_wf"
    assert cfg.healthcheck == HealthcheckConfig(enabled=True, port=9001, bind_address="127.0.0.1")
    assert cfg.worker_preset_labels == {"zone": "a", "gpu": 2}
    assert (cfg.worker_slots, cfg.worker_durable_slots, cfg.worker_name) == (7, 70, "from-cr")
    assert cfg.worker_drain_timeout_seconds == 90


@pytest.mark.parametrize(("token", "says"), [
    ("", "set HATCHET_CLIENT_TOKEN"),
    ("not-a-jwt", "is not a Hatchet API token"),
    ("eyJhbGciOiJFUzI1NiJ9.@@@.x", "unreadable claims"),
    (make_token(server_url="x"), "no tenant ('sub') claim"),
])
def test_bad_token_fails_at_construction_saying_what_to_set(token: str, says: str) -> None:
    with pytest.raises(ConfigError, match=r".*") as info:
        ClientConfig(token=token)
    assert says in str(info.value)


def test_missing_token_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from hatchet_worker import Hatchet

    with pytest.raises(ConfigError, match="HATCHET_CLIENT_TOKEN"):
        Hatchet()


@pytest.mark.parametrize(("var", "value"), [
    ("HATCHET_CLIENT_WORKER_HEALTHCHECK_ENABLED", "maybe"),
    ("HATCHET_CLIENT_WORKER_SLOTS", "many"),
    ("HATCHET_CLIENT_WORKER_PRESET_LABELS", "[1]"),
    ("HATCHET_CLIENT_WORKER_DRAIN_TIMEOUT_SECONDS", "soon"),
])
def test_malformed_variables_name_themselves(monkeypatch: pytest.MonkeyPatch, var: str, value: str) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError, match=var):
        ClientConfig(token=TOKEN)


def test_decode_token_claims() -> None:
    claims = decode_token(TOKEN)
    assert claims.sub == "tenant-1" and claims.grpc_broadcast_address == "engine:7070"
