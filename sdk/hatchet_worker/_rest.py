"""The one REST call the worker makes: pausing itself at the engine before it drains."""

from __future__ import annotations

import json
import ssl
import urllib.request


def pause_worker(server_url: str, token: str, worker_id: str, *, root_ca_file: str | None = None,
                 timeout: float = 10.0) -> None:
    """``PATCH /api/v1/workers/{id} {"isPaused": true}``: the engine assigns the worker nothing new.

    Raises:
        OSError: the request failed (urllib.error.URLError / HTTPError are OSErrors).
    """
    req = urllib.request.Request(
        f"{server_url.rstrip('/')}/api/v1/workers/{worker_id}",
        data=json.dumps({"isPaused": True}).encode(),
        method="PATCH",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                 "Accept": "application/json"},
    )
    context = ssl.create_default_context(cafile=root_ca_file) if server_url.startswith("https") else None
    with urllib.request.urlopen(req, timeout=timeout, context=context) as resp:
        resp.read()
