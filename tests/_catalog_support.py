"""A price table in the shape of §10.1 (Tokenhot's ``/api/pricing``), and a small loopback relay that serves it
in front of the simulator, with switches to take its table (or all of it) down."""

from __future__ import annotations

import copy
import json
import threading
import time
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from tokenhot_nb.sim import create_app

#: Rows as Tokenhot's table writes them (Chinese modalities and tags, endpoint types, per-token and per-call).
ROWS: list[dict[str, Any]] = [
    {"model_name": "gpt-5.2", "quota_type": 0, "model_ratio": 0.625, "completion_ratio": 8, "model_price": 0,
     "vendor_id": 1, "tags": "结构化输出,函数调用", "supported_endpoint_types": ["openai", "openai-response"],
     "input_modalities": ["文本", "图像"], "output_modalities": ["文本"], "enable_groups": ["default"]},
    {"model_name": "gpt-image-2", "quota_type": 1, "model_ratio": 37.5, "completion_ratio": 1, "model_price": 0.028,
     "vendor_id": 1, "supported_endpoint_types": ["image-generation"], "output_modalities": ["图像"]},
    {"model_name": "doubao-seedance-2-0", "quota_type": 0, "model_ratio": 37.5, "completion_ratio": 1,
     "model_price": 0, "vendor_id": 2, "supported_endpoint_types": ["openai-video"], "output_modalities": ["视频"]},
    {"model_name": "deepseek-v4-pro", "quota_type": 0, "model_ratio": 1.0, "completion_ratio": 4, "model_price": 0,
     "vendor_id": 3, "tags": "函数调用,工具调用", "supported_endpoint_types": ["openai"],
     "input_modalities": ["文本"], "output_modalities": ["文本"], "context_length": 131072},
    {"model_name": "deepseek-v4.1-flash-free", "quota_type": 0, "model_ratio": 0, "completion_ratio": 1,
     "model_price": 0, "vendor_id": 3, "supported_endpoint_types": ["openai"], "output_modalities": ["文本"]},
    {"model_name": "mimo-v2.5-tts", "quota_type": 1, "model_price": 0.01, "supported_endpoint_types": ["openai"],
     "input_modalities": ["文本"], "output_modalities": ["音频"]},
    {"model_name": "jina-embeddings-v4", "quota_type": 0, "model_ratio": 0.01, "completion_ratio": 1,
     "supported_endpoint_types": ["embeddings"], "input_modalities": ["文本"], "output_modalities": ["文本"]},
    {"model_name": "jina-reranker-m0", "quota_type": 0, "model_ratio": 0.01, "completion_ratio": 1,
     "supported_endpoint_types": ["jina-rerank"], "input_modalities": ["文本"], "output_modalities": ["文本"]},
    {"model_name": "suno-v4", "quota_type": 1, "model_price": 0.1, "supported_endpoint_types": ["suno"],
     "input_modalities": ["文本"]},
    {"model_name": "seedream-5-0-lite", "quota_type": 1, "model_price": 0.03,
     "supported_endpoint_types": ["image-generation"], "output_modalities": ["图像"]},
]
VENDORS = [{"id": 1, "name": "OpenAI"}, {"id": 2, "name": "字节跳动"}, {"id": 3, "name": "DeepSeek"}]
STATUS = {"success": True, "data": {"quota_per_unit": 500000, "price": 7, "system_name": "Tokenhot"}}


def pricing_body(rows: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"success": True, "data": copy.deepcopy(ROWS if rows is None else rows), "vendors": VENDORS,
            "group_ratio": {"default": 1}, "supported_endpoint": {"openai": {"path": "/v1/chat/completions"}}}


class Relay:
    """The simulator on 127.0.0.1 (free port) with its own ``/api/pricing`` + ``/api/status``.

    ``tables_up = False`` makes the two table routes answer 502 (the rest keeps working); ``hits`` counts them.
    """

    def __init__(self, rows: list[dict[str, Any]] | None = None) -> None:
        self.rows = ROWS if rows is None else rows
        self.tables_up = True
        self.hits: dict[str, int] = {}
        self.auth_seen: list[str | None] = []

        async def table(request: Request) -> Response:
            path = request.url.path
            self.hits[path] = self.hits.get(path, 0) + 1
            self.auth_seen.append(request.headers.get("authorization"))
            if not self.tables_up:
                return Response("<html>502 Bad Gateway</html>", status_code=502, media_type="text/html")
            body = pricing_body(self.rows) if path == "/api/pricing" else STATUS
            return JSONResponse(json.loads(json.dumps(body)))

        app = Starlette(routes=[Route("/api/pricing", table), Route("/api/status", table),
                                Mount("/", app=create_app(also_serves=[r["model_name"] for r in self.rows]))])
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off",
                                timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="catalog-relay", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the relay could not start")
            time.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)
