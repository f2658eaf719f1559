"""A TCP proxy on 127.0.0.1 for fault injection between one client and a server (TLS passes through
untouched, so a kubeconfig pointing at the proxy keeps verifying the apiserver's certificate).

Per connection and per direction it forwards, slows (a byte rate), or stops forwarding without
closing anything (a hung connection: the sender's writes pile up in socket buffers, nothing is lost
or delivered). ``hang(existing_only=True)`` hangs the connections open now while new ones still
work, which is what a client with a connection pool sees when one path through the network dies.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from dataclasses import dataclass, field

CHUNK = 16384


@dataclass
class _Direction:
    rate: float | None = None
    """Bytes per second, None for no limit."""
    hung: threading.Event = field(default_factory=threading.Event)


@dataclass
class _Conn:
    client: socket.socket
    upstream: socket.socket
    up: _Direction  # client -> server
    down: _Direction  # server -> client


class TcpProxy:
    def __init__(self, target: str, down_rate: float | None = None, up_rate: float | None = None) -> None:
        """``target`` is ``host:port`` or a URL's ``https://host:port``; ``down_rate`` limits each
        connection's server-to-client bytes per second (a slow apiserver: big LISTs crawl, small
        answers such as a Lease renewal stay quick); ``up_rate`` the client-to-server bytes (big
        request bodies arrive late, small ones stay quick)."""
        host, port = target.removeprefix("https://").removeprefix("http://").rsplit(":", 1)
        self.target = (host, int(port))
        self.down_rate = down_rate
        self.up_rate = up_rate
        self.server = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.server.getsockname()[1]}"
        self.url = f"https://{self.address}"
        self._conns: list[_Conn] = []
        self._lock = threading.Lock()
        self._open = True
        self._hang_new = False
        self.accepted = 0
        threading.Thread(target=self._accept, daemon=True, name=f"proxy-{self.address}").start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            with self._lock:
                if not self._open:
                    client.close()
                    return
                try:
                    upstream = socket.create_connection(self.target, timeout=5)
                except OSError:
                    client.close()
                    continue
                upstream.settimeout(None)
                conn = _Conn(client, upstream, _Direction(rate=self.up_rate), _Direction(rate=self.down_rate))
                if self._hang_new:
                    conn.up.hung.set()
                    conn.down.hung.set()
                self._conns.append(conn)
                self.accepted += 1
            threading.Thread(target=self._pipe, args=(client, upstream, conn.up), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, conn.down), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, d: _Direction) -> None:
        with contextlib.suppress(OSError):
            while self._open:
                if d.hung.is_set():
                    # Hung: read nothing, send nothing, close nothing, until the proxy closes.
                    time.sleep(0.05)
                    continue
                data = src.recv(CHUNK if d.rate is None else max(1, min(CHUNK, int(d.rate / 10))))
                if not data:
                    break
                if d.hung.is_set():
                    return  # hung while this chunk was read: drop it rather than deliver it late
                dst.sendall(data)
                if d.rate is not None:
                    time.sleep(len(data) / d.rate)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def hang(self, existing_only: bool = False, directions: tuple[str, ...] = ("up", "down")) -> int:
        """Stop forwarding on the open connections (and on new ones unless ``existing_only``), in the
        given directions; nothing is closed. Returns how many connections were hung."""
        with self._lock:
            self._hang_new = self._hang_new or not existing_only
            for conn in self._conns:
                for name in directions:
                    getattr(conn, name).hung.set()
            return len(self._conns)

    def resume(self) -> None:
        """New connections are forwarded again (the ones hung so far stay hung)."""
        with self._lock:
            self._hang_new = False

    def set_rate(self, down_rate: float | None = None, up_rate: float | None = None) -> None:
        """Set both directions' rates (None: unlimited) on the open connections and on new ones."""
        with self._lock:
            self.down_rate, self.up_rate = down_rate, up_rate
            for conn in self._conns:
                conn.down.rate, conn.up.rate = down_rate, up_rate

    def close(self) -> None:
        """Refuse new connections and reset every open one (data held by a hung one is dropped)."""
        with self._lock:
            self._open = False
            with contextlib.suppress(OSError):
                self.server.shutdown(socket.SHUT_RDWR)
            self.server.close()
            for conn in self._conns:
                for s in (conn.client, conn.upstream):
                    with contextlib.suppress(OSError):
                        # RST, not FIN: whatever sits in the buffers is discarded, never delivered;
                        # SHUT_RD wakes a thread blocked in recv() so the socket is really released.
                        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                        s.shutdown(socket.SHUT_RD)
                    with contextlib.suppress(OSError):
                        s.close()

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
