"""A tiny hostile HTTP server on 127.0.0.1 for tests: each route answers with raw bytes it chooses.

The simulator behaves like the real relay; this one misbehaves in ways no well-written server would (a body
cut after its headers, a stall mid-body, an echo of the request headers), so the client's defences can be
tested over real loopback sockets.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from _raw_server import read_head

#: A route handler: (method, path, headers, body) → raw answer bytes, or an Action.
Handler = Callable[[str, str, dict[str, str], bytes], "bytes | Action"]


@dataclass
class Action:
    """Send ``data``, then (optionally) stall for ``stall`` s or drop the connection (``close=True``)."""

    data: bytes
    stall: float = 0.0
    close: bool = True


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Hostile:
    routes: dict[str, Handler]
    seen: list[Seen] = field(default_factory=list)
    port: int = 0

    def __post_init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def calls(self, path: str) -> int:
        return sum(1 for s in self.seen if s.path.split("?")[0] == path)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()

    def __enter__(self) -> Hostile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        try:
            got = read_head(conn)
            if got is None:
                return
            head, body = got
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
            length = int(headers.get("content-length", "0") or 0)
            while len(body) < length:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                body += chunk
            self.seen.append(Seen(method, path, headers, body))
            handler = self.routes.get(path.split("?")[0]) or self.routes.get("*")
            answer = handler(method, path, headers, body) if handler else response(404, b"no route")
            action = answer if isinstance(answer, Action) else Action(answer)
            conn.sendall(action.data)
            if action.stall:
                end = time.monotonic() + action.stall
                while time.monotonic() < end and not self._stop.is_set():
                    time.sleep(0.05)
        except OSError:
            pass
        finally:
            conn.close()


def response(status: int, body: bytes = b"", content_type: str = "application/json",
             headers: dict[str, str] | None = None, length: int | None = None) -> bytes:
    """Raw HTTP/1.1 answer bytes (``length`` may lie about the body size)."""
    lines = [f"HTTP/1.1 {status} X", f"Content-Type: {content_type}",
             f"Content-Length: {len(body) if length is None else length}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body
