"""Framing between the worker process and its listener subprocess (stdlib only).

The two processes share a Unix socket pair. A frame is a 4-byte big-endian length, a 1-byte kind
and a body. Assignments travel as the raw ``AssignedAction`` bytes received from the engine, so
the listener never parses them and the worker parses each exactly once; everything else is small
JSON.
"""

from __future__ import annotations

import asyncio
import json
import struct
from typing import Any

_HEADER = struct.Struct(">IB")

# listener -> worker
ACTION = ord("A")
"""Body: raw ``AssignedAction`` bytes."""
REGISTERED = ord("R")
"""Body: JSON ``{"worker_id", "tenant_id"}``; sent after every (re-)registration."""
STATUS = ord("S")
"""Body: JSON ``{"state", "last_heartbeat", "reconnects", "error", "worker_id"}`` (``Listener._status``)."""
TICK = ord("T")
"""Body: empty. Sent every ``TICK_INTERVAL`` seconds whatever the engine's state, through the same
socket as the assignments: the worker judges its pump alive by the age of the last frame it read,
so an idle worker or an engine outage never looks like a dead pump (ticks keep coming), while a
pump that stopped reading (frames no longer delivered although the listener still heartbeats the
engine, which keeps assigning work here) fails ``/livez``."""

# worker -> listener
START = ord("G")
"""Body: JSON ``{"settings": {...}, "register": <base64 WorkerRegisterRequest>}``."""
STOP = ord("Q")
"""Body: empty. Close the stream, unsubscribe, exit 0."""

MAX_FRAME = 64 * 1024 * 1024
TICK_INTERVAL = 2.0


def encode(kind: int, body: bytes) -> bytes:
    return _HEADER.pack(len(body) + 1, kind) + body


def encode_json(kind: int, value: Any) -> bytes:
    return encode(kind, json.dumps(value, separators=(",", ":")).encode())


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes] | None:
    """The next frame, or None at end of stream."""
    try:
        header = await reader.readexactly(_HEADER.size)
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    length, kind = _HEADER.unpack(header)
    if length < 1 or length > MAX_FRAME:
        raise ValueError(f"bad frame length {length}")
    try:
        body = await reader.readexactly(length - 1) if length > 1 else b""
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    return kind, body
