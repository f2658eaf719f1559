"""The REST calls the SDK makes: pausing the worker before it drains, creating crons."""

from __future__ import annotations

import json
import ssl
import urllib.request
from collections.abc import Mapping
from enum import Enum
from typing import Any
from urllib.parse import urlencode

from hatchet_worker import _retry
from hatchet_worker._retry import TenacityConfig


def call_json(server_url: str, token: str, method: str, path: str, body: object | None = None, *,
              root_ca_file: str | None = None, timeout: float = 10.0) -> Any:
    """``method path`` with ``body`` as JSON; the decoded JSON answer (None when empty).

    Raises:
        OSError: the request failed (urllib.error.URLError / HTTPError are OSErrors).
    """
    req = urllib.request.Request(
        f"{server_url.rstrip('/')}{path}",
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                 "Accept": "application/json"},
    )
    context = ssl.create_default_context(cafile=root_ca_file) if server_url.startswith("https") else None
    with urllib.request.urlopen(req, timeout=timeout, context=context) as resp:
        raw = resp.read()
    return json.loads(raw) if raw else None


def call_json_retrying(server_url: str, token: str, method: str, path: str, *, policy: TenacityConfig,
                       root_ca_file: str | None = None, timeout: float = 10.0) -> Any:
    """``call_json`` for a read, retried per ``policy`` (``ClientConfig.tenacity``).

    The engine writes a run to its read tables shortly after the run is known over gRPC, so a run
    just triggered or just finished can be 404 for a moment; the official SDK retries its reads with
    its tenacity policy (404 and 5xx; 429 and transport failures when configured) for that reason,
    and so does this one (``_retry``).
    """
    return _retry.call(lambda: call_json(server_url, token, method, path, root_ca_file=root_ca_file,
                                         timeout=timeout), policy, name=f"{method} {path}", method=method)


def with_query(path: str, params: Mapping[str, Any]) -> str:
    """``path`` with the given query parameters: None ones left out, a list as the parameter repeated
    (the engine's form style), enums by value."""
    items: list[tuple[str, str]] = []
    for key, value in params.items():
        for one in value if isinstance(value, list | tuple) else [value]:
            if one is not None:
                items.append((key, str(one.value if isinstance(one, Enum) else one)))
    return f"{path}?{urlencode(items)}" if items else path


def metadata_kv(additional_metadata: Mapping[str, Any] | None) -> list[str] | None:
    """The engine's ``key:value`` form of a metadata filter (none when empty, as the official SDK)."""
    return [f"{k}:{v}" for k, v in additional_metadata.items()] if additional_metadata else None


def pause_worker(server_url: str, token: str, worker_id: str, *, root_ca_file: str | None = None,
                 timeout: float = 10.0) -> None:
    """``PATCH /api/v1/workers/{id} {"isPaused": true}``: the engine assigns the worker nothing new.

    Raises:
        OSError: the request failed.
    """
    call_json(server_url, token, "PATCH", f"/api/v1/workers/{worker_id}", {"isPaused": True},
              root_ca_file=root_ca_file, timeout=timeout)
