"""A video relay for the tests: the simulator, with a finished task naming several videos."""

from __future__ import annotations

import json

import httpx
from _session_support import Recorder

from tokenhot_nb.sim import Faults


class SeveralVideos(Recorder):
    """The simulator, with a finished task's status naming several videos: ``result_url`` a list, its own video
    first, then two more clips this transport serves (at ``/extra/…``, on the same host)."""

    def __init__(self, *, copy: bool = False) -> None:
        """``copy``: the list also names the vendor's link to the task's own video (the same file, twice)."""
        from tokenhot_nb.sim import media

        super().__init__(Faults(video_steps=2))
        self.clips = {f"/extra/{name}.mp4": media.encode_mp4(name, 1, 64, 48, seed, 4)
                      for seed, name in enumerate(("second", "third"), 1)}
        self.gone: set[str] = set()  # clips answered 404 for now
        self.copy = copy

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path in self.clips:
            self.requests.append({"method": "GET", "path": request.url.path, "headers": {}, "body": b""})
            if request.url.path in self.gone:
                return httpx.Response(404, headers={"content-type": "text/plain"}, content=b"not found")
            return httpx.Response(200, headers={"content-type": "video/mp4"}, content=self.clips[request.url.path])
        resp = await super().handle_async_request(request)
        if request.method == "GET" and request.url.path.startswith("/v1/video/generations/"):
            body = json.loads(await resp.aread())
            data = body.get("data") or {}
            if data.get("status") == "SUCCESS":
                host = f"{request.url.scheme}://{request.url.netloc.decode()}"
                copy = [data["data"]["content"]["video_url"]] if self.copy else []
                data["result_url"] = [data["result_url"], *copy, *(host + p for p in self.clips)]
                return httpx.Response(200, json=body)
        return resp
