"""A loopback TCP proxy in front of the simulator that breaks chosen answers for real: cut after N bytes (a reset
or a clean close), an HTML page in place of the answer (a gateway, a captive portal), or the request swallowed."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass

from _raw_server import Listener, read_http_request, reset


@dataclass
class Rule:
    """What to do to requests whose request line contains ``match`` (the next ``times`` of them)."""

    match: str
    action: str  # "cut" | "html" | "swallow" | "raw" (``data`` sent as the whole answer, then the connection closed)
    # | "hang" (the request is read, no answer for ``after`` ms, then the connection closed)
    after: int = 0  # cut: bytes of the answer passed on first
    rst: bool = True  # cut: a reset (else a clean close)
    status: int = 502  # html
    times: int = 1 << 30
    data: bytes = b""  # raw
    unframed: bool = False  # cut: the answer's Content-Length taken out (its end is the connection's: a clean cut
    # cannot be told from the end by HTTP)


class FaultProxy(Listener):
    """Forwards each request to ``127.0.0.1:upstream`` on a connection of its own, applying the first rule that
    matches; ``seen`` lists the request lines that arrived."""

    def __init__(self, upstream: int) -> None:
        self.upstream = upstream
        self.rules: list[Rule] = []
        self.seen: list[str] = []
        super().__init__(backlog=32)

    def handle(self, conn: socket.socket) -> None:
        try:
            while True:
                got = read_http_request(conn)
                if got is None:
                    return
                head, body = got
                line = head.split(b"\r\n", 1)[0].decode()
                self.seen.append(line)
                rule = next((r for r in self.rules if r.match in line and r.times > 0), None)
                if rule is not None:
                    rule.times -= 1
                if rule is not None and rule.action == "raw":
                    conn.sendall(rule.data)
                    return
                if rule is not None and rule.action == "hang":
                    time.sleep(rule.after / 1000)
                    return
                if rule is not None and rule.action == "swallow":
                    reset(conn)
                    return
                if rule is not None and rule.action == "html":
                    page = b"<html><head><title>Gateway</title></head><body><h1>%d</h1><hr>nginx</body></html>" % (
                        rule.status)
                    conn.sendall(b"HTTP/1.1 %d X\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n"
                                 % (rule.status, len(page)) + page)
                    continue
                lines = [x for x in head.split(b"\r\n") if not x.lower().startswith(b"connection:")]
                with socket.create_connection(("127.0.0.1", self.upstream)) as up:
                    up.sendall(b"\r\n".join(lines) + b"\r\nConnection: close\r\n\r\n" + body)
                    sent = 0
                    if rule is not None and rule.unframed:
                        answer = b""
                        while b"\r\n\r\n" not in answer and (piece := up.recv(65536)):
                            answer += piece
                        top, _, rest = answer.partition(b"\r\n\r\n")
                        while len(rest) < rule.after and (piece := up.recv(65536)):
                            rest += piece
                        top = b"\r\n".join(x for x in top.split(b"\r\n")
                                            if not x.lower().startswith(b"content-length:"))
                        conn.sendall(top + b"\r\n\r\n")
                        conn.sendall(rest[: rule.after])
                        return
                    while piece := up.recv(65536):
                        if rule is not None and rule.action == "cut" and sent + len(piece) >= rule.after:
                            conn.sendall(piece[: rule.after - sent])
                            if rule.rst:
                                reset(conn)
                            return
                        conn.sendall(piece)
                        sent += len(piece)
                return  # (the answer ended with the upstream connection)
        except OSError:
            pass
        finally:
            conn.close()
