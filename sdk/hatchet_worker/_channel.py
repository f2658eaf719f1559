"""gRPC channels and method callables, shared by the worker process and the listener subprocess.

Kept free of pydantic and of the rest of the SDK so the listener subprocess starts fast and small:
it is given plain settings (``ClientConfig.listener_settings()``) and imports only grpc, protobuf
and this module.

Method callables are built from the service descriptors of our own ``.proto`` files, so every
method path (``/Dispatcher/ListenV2``, ``/v1.AdminService/PutWorkflow``...) comes from the
contract, not from a string typed here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import grpc
import grpc.aio

# Client keepalive pings must be at least 5 s apart or the engine closes the connection.
_KEEPALIVE_OPTIONS: list[tuple[str, Any]] = [
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 60_000),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.keepalive_permit_without_calls", 1),
    # Reconnect quickly after an engine restart; our own loops add the longer backoff.
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 5_000),
]


def _read(path: str | None) -> bytes | None:
    return Path(path).read_bytes() if path else None


def channel_options(settings: Mapping[str, Any]) -> list[tuple[str, Any]]:
    options = [
        *_KEEPALIVE_OPTIONS,
        ("grpc.max_receive_message_length", int(settings["max_recv"])),
        ("grpc.max_send_message_length", int(settings["max_send"])),
    ]
    if settings["tls"]["strategy"] in {"tls", "mtls"}:
        options.append(("grpc.ssl_target_name_override", settings["server_name"]))
    return options


def _credentials(settings: Mapping[str, Any]) -> grpc.ChannelCredentials | None:
    tls = settings["tls"]
    strategy = tls["strategy"]
    if strategy == "tls":
        return grpc.ssl_channel_credentials(root_certificates=_read(tls.get("root_ca_file")))
    if strategy == "mtls":
        return grpc.ssl_channel_credentials(
            root_certificates=_read(tls.get("root_ca_file")),
            private_key=_read(tls.get("key_file")),
            certificate_chain=_read(tls.get("cert_file")),
        )
    return None


def aio_channel(settings: Mapping[str, Any]) -> grpc.aio.Channel:
    """An asyncio channel to the engine; must be created inside the loop that uses it."""
    creds = _credentials(settings)
    target = settings["host_port"]
    if creds is None:
        return grpc.aio.insecure_channel(target, options=channel_options(settings))
    return grpc.aio.secure_channel(target, creds, options=channel_options(settings))


def sync_channel(settings: Mapping[str, Any]) -> grpc.Channel:
    """A blocking channel to the engine, for the synchronous client API."""
    creds = _credentials(settings)
    target = settings["host_port"]
    if creds is None:
        return grpc.insecure_channel(target, options=channel_options(settings))
    return grpc.secure_channel(target, creds, options=channel_options(settings))


def auth_metadata(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"bearer {token}"),)


def method_path(pb2_module: Any, service: str, method: str) -> str:
    """``/<package.>Service/Method`` read from a generated module's service descriptor."""
    svc = pb2_module.DESCRIPTOR.services_by_name[service]
    return f"/{svc.full_name}/{svc.methods_by_name[method].name}"


def _codec(pb2_module: Any, service: str, method: str) -> tuple[Callable[..., bytes], Callable[[bytes], Any]]:
    from google.protobuf import message_factory

    svc = pb2_module.DESCRIPTOR.services_by_name[service]
    desc = svc.methods_by_name[method]
    # By descriptor, not by name: the messages live in the SDK's own pool (see _proto/_pool.py).
    out_cls = message_factory.GetMessageClass(desc.output_type)
    return (lambda msg: msg.SerializeToString()), out_cls.FromString


def unary(channel: Any, pb2_module: Any, service: str, method: str) -> Any:
    """A unary-unary callable on ``channel`` (sync or asyncio) for ``service.method``."""
    ser, de = _codec(pb2_module, service, method)
    return channel.unary_unary(method_path(pb2_module, service, method),
                               request_serializer=ser, response_deserializer=de)


def unary_stream_raw(channel: Any, pb2_module: Any, service: str, method: str) -> Any:
    """A unary-stream callable whose responses are the raw message bytes (parsed by the consumer)."""
    ser, _ = _codec(pb2_module, service, method)
    return channel.unary_stream(method_path(pb2_module, service, method), request_serializer=ser,
                                response_deserializer=None)


def stream_stream(channel: Any, pb2_module: Any, service: str, method: str) -> Any:
    ser, de = _codec(pb2_module, service, method)
    return channel.stream_stream(method_path(pb2_module, service, method),
                                 request_serializer=ser, response_deserializer=de)
