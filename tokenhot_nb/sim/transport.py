"""An httpx transport that runs the simulator app in-process, streaming for real.

``httpx.ASGITransport`` buffers the whole body, which would hide streaming behaviour (time to first
chunk, stalls, dropped connections). Here the app runs as a task and each ASGI ``send`` message is
handed to the response stream through a small bounded queue; closing the response cancels the app.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import unquote

import httpx
from starlette.applications import Starlette

from .._timeout import within
from .app import create_app
from .faults import Faults

_QUEUE_SIZE = 16
_INCOMPLETE = "peer closed connection without sending complete message body (incomplete chunked read)"


class _SimStream(httpx.AsyncByteStream):
    def __init__(self, queue: asyncio.Queue[dict[str, Any]], task: asyncio.Task[None],
                 disconnected: asyncio.Event, read_timeout: float | None) -> None:
        self._queue = queue
        self._task = task
        self._disconnected = disconnected
        self._timeout = read_timeout

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            msg = await _get(self._queue, self._timeout)
            kind = msg["type"]
            if kind == "http.response.body":
                if msg.get("body"):
                    yield msg["body"]
                if not msg.get("more_body", False):
                    return
            else:  # the app ended or failed before finishing the body: a dropped connection
                raise httpx.RemoteProtocolError(_INCOMPLETE)

    async def aclose(self) -> None:
        self._disconnected.set()
        if not self._task.done():
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass


async def _get(queue: asyncio.Queue[dict[str, Any]], timeout: float | None) -> dict[str, Any]:
    try:
        return await within(queue.get(), timeout)
    except asyncio.TimeoutError:
        raise httpx.ReadTimeout("timed out waiting for the simulator") from None


class SimTransport(httpx.AsyncBaseTransport):
    """Serve httpx requests from the simulator app, in this process and event loop."""

    def __init__(self, faults: Faults | None = None, app: Starlette | None = None) -> None:
        self.app = app if app is not None else create_app(faults)

    @property
    def faults(self) -> Faults:
        return self.app.state.sim.faults  # type: ignore[no-any-return]

    def set_faults(self, faults: Faults) -> None:
        self.app.state.sim.set_faults(faults)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        url = request.url
        port = url.port or (443 if url.scheme == "https" else 80)
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "method": request.method,
            "scheme": url.scheme,
            "path": unquote(url.path),
            "raw_path": url.raw_path.split(b"?", 1)[0],
            "query_string": url.query,
            "root_path": "",
            "headers": [(k.lower(), v) for k, v in request.headers.raw],
            "server": (url.host, port),
            "client": ("127.0.0.1", 50000),
            "state": {},
        }
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(_QUEUE_SIZE)
        disconnected = asyncio.Event()
        sent_request = False

        async def receive() -> dict[str, Any]:
            nonlocal sent_request
            if not sent_request:
                sent_request = True
                return {"type": "http.request", "body": body, "more_body": False}
            await disconnected.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if not disconnected.is_set():
                await queue.put(message)

        async def run() -> None:
            try:
                await self.app(scope, receive, send)  # type: ignore[arg-type]
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                await send({"type": "sim.error", "error": exc})
            else:
                await send({"type": "sim.done"})

        task = asyncio.create_task(run())
        timeouts = request.extensions.get("timeout") or {}
        read_timeout = timeouts.get("read")
        try:
            start = await _get(queue, read_timeout)
        except BaseException:
            task.cancel()
            raise
        if start["type"] != "http.response.start":
            task.cancel()
            err = start.get("error")
            raise httpx.RemoteProtocolError(f"simulator closed the connection: {err!r}")
        headers = [(bytes(k), bytes(v)) for k, v in start.get("headers", [])]
        stream = _SimStream(queue, task, disconnected, read_timeout)
        return httpx.Response(start["status"], headers=headers, stream=stream, request=request,
                              extensions={"http_version": b"HTTP/1.1"})
