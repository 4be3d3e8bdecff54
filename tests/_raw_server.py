"""A raw-socket HTTP server on loopback for network-fault tests: each connection is handed to a function, so a
test can answer half a body, close or reset the connection after the request, or never answer at all."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable

Handler = Callable[["RawServer", socket.socket], None]


def read_head(conn: socket.socket) -> tuple[bytes, bytes] | None:
    """A request's head from ``conn`` (to its blank line) and what came after it so far, as (head, rest); None when
    the client closed first."""
    data = b""
    while b"\r\n\r\n" not in data:
        piece = conn.recv(65536)
        if not piece:
            return None
        data += piece
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def read_http_request(conn: socket.socket) -> tuple[bytes, bytes] | None:
    """One whole request from ``conn`` as (head, body), the body read to its Content-Length; None when the client
    closed first."""
    got = read_head(conn)
    if got is None:
        return None
    head, body = got
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        piece = conn.recv(65536)
        if not piece:
            return None
        body += piece
    return head, body


class Listener:
    """A socket listening on 127.0.0.1 (a free port) until :meth:`stop`, handing each connection to
    :meth:`handle` on a thread of its own; counts connections."""

    def __init__(self, backlog: int = 16) -> None:
        self.connections = 0
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(backlog)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    def handle(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        self._sock.close()


class RawServer(Listener):
    """Hands each connection to ``handler``; records the whole requests it reads."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[tuple[str, bytes]] = []  # (request line, body)
        super().__init__()

    def handle(self, conn: socket.socket) -> None:
        try:
            self.handler(self, conn)
        except OSError:
            pass
        finally:
            conn.close()

    def read_request(self, conn: socket.socket) -> bool:
        """Read one whole request (headers and a Content-Length body); False when the client closed first."""
        got = read_http_request(conn)
        if got is None:
            return False
        head, body = got
        self.requests.append((head.split(b"\r\n", 1)[0].decode(), body))
        return True


def reset(conn: socket.socket) -> None:
    """Close with a TCP reset (RST), as a crashed server or a middlebox does."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def answer(status: int, body: bytes, content_type: str = "application/json", extra: str = "") -> bytes:
    """One whole HTTP/1.1 answer with a Content-Length."""
    head = f"HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
    return head.encode() + body
