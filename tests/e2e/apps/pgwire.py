"""The smallest PostgreSQL client the fault tests need: protocol 3.0, simple queries, trust authentication.

The worker image has no database driver, and the test worker only inserts rows, so it speaks the
protocol itself (startup, one Query, Terminate) instead of needing a test-only image.
"""

from __future__ import annotations

import socket
import struct

PROTOCOL_3 = 196608


class PgError(Exception):
    """An ErrorResponse from the server, or an authentication method other than trust."""


def execute(host: str, port: int, user: str, database: str, sql: str, timeout: float = 10.0) -> None:
    """Run one statement on a new connection; raise PgError if the server reports an error."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        params = b"user\0" + user.encode() + b"\0database\0" + database.encode() + b"\0\0"
        s.sendall(struct.pack("!ii", 8 + len(params), PROTOCOL_3) + params)
        _until_ready(s)
        query = sql.encode() + b"\0"
        s.sendall(b"Q" + struct.pack("!i", 4 + len(query)) + query)
        _until_ready(s)
        s.sendall(b"X" + struct.pack("!i", 4))


def _until_ready(s: socket.socket) -> None:
    """Read messages up to ReadyForQuery; an error is raised once the server is ready again (or gone)."""
    error: str | None = None
    while True:
        head = _read(s, 5)
        if head is None:
            raise PgError(error or "the server closed the connection")
        kind, size = head[:1], struct.unpack("!i", head[1:])[0]
        body = _read(s, size - 4) or b""
        if kind == b"R" and struct.unpack("!i", body[:4])[0] != 0:
            raise PgError(f"authentication method {struct.unpack('!i', body[:4])[0]} requested; only trust works")
        if kind == b"E":
            fields = dict((f[:1], f[1:].decode(errors="replace")) for f in body.split(b"\0") if f)
            error = f"{fields.get(b'S', 'ERROR')}: {fields.get(b'M', '?')}"
        if kind == b"Z":
            if error:
                raise PgError(error)
            return


def _read(s: socket.socket, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf
