"""Client configuration: values passed in code, filled from ``HATCHET_CLIENT_*`` variables.

The variable names are the official SDK's, so a pod spec written for either SDK works. Slot counts,
the worker name and the drain timeout have no official variable; this SDK reads
``HATCHET_CLIENT_WORKER_SLOTS``, ``HATCHET_CLIENT_WORKER_DURABLE_SLOTS``,
``HATCHET_CLIENT_WORKER_NAME`` and ``HATCHET_CLIENT_WORKER_DRAIN_TIMEOUT_SECONDS``, which the
operator sets from the ``HatchetWorker`` resource and which therefore win over values in code.

The API token is a JWT whose claims carry the tenant id (``sub``), the REST base URL
(``server_url``) and the gRPC address (``grpc_broadcast_address``); explicit settings win.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import warnings
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from hatchet_worker import _parity
from hatchet_worker._otel_attributes import OpenTelemetryConfig
from hatchet_worker._retry import HTTPMethod as HTTPMethod
from hatchet_worker._retry import TenacityConfig as TenacityConfig

ENV_PREFIX = "HATCHET_CLIENT_"
_warned: set[str] = set()
_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off", ""})


class ConfigError(ValueError):
    """The configuration is missing or malformed; the message names what to set."""


def _env_bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean: use true or false")


def _env_number(name: str, raw: str) -> float:
    text = raw.strip().lower().removesuffix("s")
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number of seconds") from None


def _env_int(name: str, raw: str) -> int:
    try:
        return int(raw.strip())
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None


class TokenClaims(BaseModel):
    """The unverified claims of a Hatchet API token that a client needs."""

    model_config = ConfigDict(extra="ignore")

    sub: str
    server_url: str | None = None
    grpc_broadcast_address: str | None = None


def decode_token(token: str) -> TokenClaims:
    """Read the claims of a Hatchet API token without verifying it (the engine verifies it).

    Raises:
        ConfigError: the token is empty or not a JWT carrying a tenant (``sub``) claim.
    """
    token = token.strip()
    if not token:
        raise ConfigError(
            "no Hatchet API token: set HATCHET_CLIENT_TOKEN (or pass ClientConfig(token=...)) "
            "to a token created in the Hatchet dashboard or with `hatchet-admin token create`"
        )
    parts = token.split(".")
    if not token.startswith("ey") or len(parts) != 3:
        raise ConfigError(
            "HATCHET_CLIENT_TOKEN is not a Hatchet API token (expected a JWT: three dot-separated "
            "base64url parts starting with 'ey'); check that the whole token was copied"
        )
    segment = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(segment))
    except (binascii.Error, ValueError):
        raise ConfigError("HATCHET_CLIENT_TOKEN has an unreadable claims segment; copy the token again") \
            from None
    if not isinstance(claims, dict) or not isinstance(claims.get("sub"), str):
        raise ConfigError("HATCHET_CLIENT_TOKEN has no tenant ('sub') claim; use a Hatchet API token")
    return TokenClaims.model_validate(claims)


class ClientTLSConfig(BaseModel):
    """How the gRPC connection is secured (``HATCHET_CLIENT_TLS_*``)."""

    model_config = ConfigDict(frozen=True)

    strategy: str = "tls"
    """``tls`` (default), ``mtls`` (client certificate too) or ``none`` (plaintext)."""
    cert_file: str | None = None
    """Client certificate (PEM) for ``mtls``."""
    key_file: str | None = None
    """Client key (PEM) for ``mtls``."""
    root_ca_file: str | None = None
    """CA bundle (PEM) to verify the engine; default: the system roots."""
    server_name: str | None = None
    """TLS server name; default: the host part of the gRPC address."""

    @field_validator("strategy")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.strip().lower() or "tls"


class HealthCheckConfig(BaseModel):
    """The worker's HTTP health and metrics server (``HATCHET_CLIENT_WORKER_HEALTHCHECK_*``)."""

    model_config = ConfigDict(frozen=True)

    enabled: bool = False
    """Serve ``/health``, ``/livez``, ``/readyz`` and ``/metrics``. Off by default, as in the official SDK."""
    port: int = Field(default=8001, ge=0, le=65535)
    """TCP port (0 picks a free one, useful in tests)."""
    bind_address: str = "0.0.0.0"
    """Address to bind; ``none`` or empty binds every interface (IPv4 and IPv6)."""
    event_loop_block_threshold_seconds: float = 5.0
    """The main event loop counts as blocked (UNHEALTHY) when a probe waits longer than this."""


HealthcheckConfig = HealthCheckConfig
"""The official SDK's spelling of :class:`HealthCheckConfig`."""


_ENV_FIELDS: dict[str, str] = {
    "token": "TOKEN",
    "tenant_id": "TENANT_ID",
    "host_port": "HOST_PORT",
    "server_url": "SERVER_URL",
    "namespace": "NAMESPACE",
    "grpc_max_recv_message_length": "GRPC_MAX_RECV_MESSAGE_LENGTH",
    "grpc_max_send_message_length": "GRPC_MAX_SEND_MESSAGE_LENGTH",
    "worker_preset_labels": "WORKER_PRESET_LABELS",
    "worker_slots": "WORKER_SLOTS",
    "worker_durable_slots": "WORKER_DURABLE_SLOTS",
    "worker_name": "WORKER_NAME",
    "worker_drain_timeout_seconds": "WORKER_DRAIN_TIMEOUT_SECONDS",
    "worker_listener_give_up_seconds": "WORKER_LISTENER_GIVE_UP_SECONDS",
}
_TLS_ENV = {"strategy": "STRATEGY", "cert_file": "CERT_FILE", "key_file": "KEY_FILE",
            "root_ca_file": "ROOT_CA_FILE", "server_name": "SERVER_NAME"}
_OTEL_ENV = {"excluded_attributes": "EXCLUDED_ATTRIBUTES",
             "include_task_name_in_start_step_run_span_name": "INCLUDE_TASK_NAME_IN_START_STEP_RUN_SPAN_NAME",
             "individual_run_spans_for_bulk_run": "INDIVIDUAL_RUN_SPANS_FOR_BULK_RUN"}
_TENACITY_ENV = {"max_attempts": "MAX_ATTEMPTS", "retry_429": "RETRY_429", "retry_not_found": "RETRY_NOT_FOUND",
                 "retry_transport_errors": "RETRY_TRANSPORT_ERRORS",
                 "retry_transport_methods": "RETRY_TRANSPORT_METHODS"}
_HEALTH_ENV = {"enabled": "ENABLED", "port": "PORT", "bind_address": "BIND_ADDRESS",
               "event_loop_block_threshold_seconds": "EVENT_LOOP_BLOCK_THRESHOLD_SECONDS"}


def _parse_env_value(field: str, name: str, raw: str) -> Any:
    if field in {"worker_slots", "worker_durable_slots", "grpc_max_recv_message_length",
                 "grpc_max_send_message_length", "port", "max_attempts"}:
        return _env_int(name, raw)
    if field in {"worker_drain_timeout_seconds", "worker_listener_give_up_seconds",
                 "event_loop_block_threshold_seconds"}:
        return _env_number(name, raw)
    if field in {"enabled", "include_task_name_in_start_step_run_span_name", "individual_run_spans_for_bulk_run",
                 "retry_429", "retry_not_found", "retry_transport_errors"}:
        return _env_bool(name, raw)
    if field in {"excluded_attributes", "retry_transport_methods"}:
        example = '["GET", "DELETE"]' if field == "retry_transport_methods" else '["payload"]'
        try:
            items = json.loads(raw) if raw.strip() else []
        except ValueError:
            raise ConfigError(f"{name} must be a JSON array such as {example}") from None
        if not isinstance(items, list):
            raise ConfigError(f"{name} must be a JSON array such as {example}")
        return items
    if field == "worker_preset_labels":
        try:
            labels = json.loads(raw) if raw.strip() else {}
        except ValueError:
            raise ConfigError(f'{name} must be a JSON object such as {{"gpu": "a100"}}') from None
        if not isinstance(labels, dict):
            raise ConfigError(f'{name} must be a JSON object such as {{"gpu": "a100"}}')
        return labels
    return raw


def _section_from_env(env: Mapping[str, str], prefix: str, names: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field, suffix in names.items():
        name = prefix + suffix
        if name in env:
            out[field] = _parse_env_value(field, name, env[name])
    return out


def _explain(exc: ValidationError) -> str:
    """One line per problem; our own ConfigError messages verbatim (they already name the variable)."""
    lines = []
    for err in exc.errors():
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, ConfigError):
            lines.append(str(cause))
        else:
            where = ".".join(str(p) for p in err["loc"]) or "config"
            lines.append(f"{where}: {err['msg']}")
    return "; ".join(lines)


class ClientConfig(BaseModel):
    """Connection and worker settings.

    Every field left out is read from its ``HATCHET_CLIENT_*`` variable; then the tenant, gRPC
    address and REST URL are derived from the token when not given. Construction fails with a
    :class:`ConfigError` that says what to set when the token is missing or malformed.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    token_secret: SecretStr = Field(default=SecretStr(""), alias="token", repr=False)
    """The API token, kept out of ``repr``, ``str``, ``model_dump_json`` and validation errors;
    pass it as ``token=`` and read it as :attr:`token`."""
    tenant_id: str = ""
    host_port: str = ""
    """``host:port`` of the engine's gRPC API; default: the token's ``grpc_broadcast_address``."""
    server_url: str = ""
    """Base URL of the REST API; default: the token's ``server_url``."""
    namespace: str = ""
    """Prefix for workflow, worker and event names; normalised to lower case ending in ``_``."""
    tls_config: ClientTLSConfig = ClientTLSConfig()
    healthcheck: HealthCheckConfig = HealthCheckConfig()
    otel: OpenTelemetryConfig = OpenTelemetryConfig()
    """What ``HatchetInstrumentor`` puts on spans (``HATCHET_CLIENT_OPENTELEMETRY_*``)."""
    tenacity: TenacityConfig = TenacityConfig()
    """How the client's engine calls are retried (``HATCHET_CLIENT_TENACITY_*``; see ``_retry``)."""
    grpc_max_recv_message_length: int = 4 * 1024 * 1024
    grpc_max_send_message_length: int = 4 * 1024 * 1024
    worker_preset_labels: dict[str, str | int] = Field(default_factory=dict)
    """Labels added to every worker (``HATCHET_CLIENT_WORKER_PRESET_LABELS``, a JSON object)."""
    worker_slots: int | None = Field(default=None, ge=1)
    """Overrides ``slots=`` in code (``HATCHET_CLIENT_WORKER_SLOTS``)."""
    worker_durable_slots: int | None = Field(default=None, ge=0)
    """Overrides ``durable_slots=`` in code (``HATCHET_CLIENT_WORKER_DURABLE_SLOTS``); 0 means no
    durable slot pool (the worker then cannot run durable tasks)."""
    worker_name: str | None = None
    """Overrides the worker name given in code (``HATCHET_CLIENT_WORKER_NAME``)."""
    worker_drain_timeout_seconds: float = Field(default=600.0, ge=0)
    """How long SIGTERM waits for in-flight tasks (``HATCHET_CLIENT_WORKER_DRAIN_TIMEOUT_SECONDS``)."""
    worker_listener_give_up_seconds: float = Field(default=300.0, gt=0)
    """The listener gives up (and the worker exits non-zero) after failing to reach the engine for
    this long without a single success; a supervisor then restarts it."""

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise ConfigError(_explain(exc)) from None

    @model_validator(mode="before")
    @classmethod
    def _fill_from_env(cls, data: Any) -> Any:
        values: dict[str, Any] = dict(data) if isinstance(data, Mapping) else {}
        for name, reason in _parity.NO_EFFECT["ClientConfig"].items():
            # An official field this SDK does not act on: accepted, and said once (never silent).
            if name in values:
                values.pop(name)
                if name not in _warned:
                    _warned.add(name)
                    warnings.warn(f"ClientConfig({name}=...) has no effect in hatchet_worker: {reason}",
                                  UserWarning, stacklevel=6)
        env = os.environ
        for field, value in _section_from_env(env, ENV_PREFIX, _ENV_FIELDS).items():
            values.setdefault(field, value)
        for key, names, prefix in (
            ("tls_config", _TLS_ENV, ENV_PREFIX + "TLS_"),
            ("healthcheck", _HEALTH_ENV, ENV_PREFIX + "WORKER_HEALTHCHECK_"),
            ("otel", _OTEL_ENV, ENV_PREFIX + "OPENTELEMETRY_"),
            ("tenacity", _TENACITY_ENV, ENV_PREFIX + "TENACITY_"),
        ):
            if key not in values:
                values[key] = _section_from_env(env, prefix, names)
        return values

    @property
    def token(self) -> str:
        """The API token in clear (for the ``authorization`` header); never log it."""
        return self.token_secret.get_secret_value()

    @field_validator("token_secret", mode="before")
    @classmethod
    def _token_is_text(cls, value: Any) -> Any:
        if isinstance(value, str | SecretStr):
            return value
        # Say what is wrong without echoing the value back.
        raise ConfigError(f"the token must be a string, not {type(value).__name__}")

    @model_validator(mode="after")
    def _derive_from_token(self) -> ClientConfig:
        claims = decode_token(self.token)
        host_port = self.host_port or claims.grpc_broadcast_address or "localhost:7070"
        updates: dict[str, Any] = {
            "token_secret": SecretStr(self.token.strip()),
            "tenant_id": self.tenant_id or claims.sub,
            "host_port": host_port,
            "server_url": (self.server_url or claims.server_url or "").rstrip("/"),
        }
        for key, value in updates.items():
            object.__setattr__(self, key, value)
        return self

    @field_validator("namespace")
    @classmethod
    def _normalise_namespace(cls, value: str) -> str:
        value = value.strip().lower()
        if value and not value.endswith("_"):
            value += "_"
        return value

    @field_validator("worker_name")
    @classmethod
    def _empty_name_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    def apply_namespace(self, name: str, namespace_override: str | None = None) -> str:
        """``name`` with the namespace prefix (``namespace_override``, as given, instead of the
        configured one when set), unless it already carries it."""
        namespace = namespace_override or self.namespace
        if not namespace or name.startswith(namespace):
            return name
        return namespace + name

    @property
    def tls_server_name(self) -> str:
        """The TLS server name: configured, else the host part of :attr:`host_port`."""
        if self.tls_config.server_name:
            return self.tls_config.server_name
        host = self.host_port.rsplit(":", 1)[0].strip("[]")
        return host or "localhost"

    def listener_settings(self) -> dict[str, Any]:
        """The plain values the listener subprocess needs to connect (JSON-serialisable)."""
        return {
            "host_port": self.host_port,
            "token": self.token,
            "tls": self.tls_config.model_dump(),
            "server_name": self.tls_server_name,
            "max_recv": self.grpc_max_recv_message_length,
            "max_send": self.grpc_max_send_message_length,
            "give_up_seconds": self.worker_listener_give_up_seconds,
        }
