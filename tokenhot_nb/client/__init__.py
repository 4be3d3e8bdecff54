"""HTTP client core: async ``Client`` plus a sync facade that works inside a running Jupyter kernel.

```python
from tokenhot_nb.client import Client, run_sync
client = Client(settings)
resp = run_sync(client.send(call))               # or: await client.send(call)
for event in client.stream_sync(call): ...        # or: async for event in client.stream(call)
```
"""

from __future__ import annotations

from ._client import Client, Response
from ._download import Download
from ._errors import ErrorInfo, error_from_response, parse_error_body
from ._loop import get_loop, in_loop_thread, iterate_sync, run_async, run_sync
from ._retry import RetryPolicy, parse_retry_after
from ._sse import EventStream, SSEEvent

__all__ = [
    "Client",
    "Download",
    "ErrorInfo",
    "EventStream",
    "Response",
    "RetryPolicy",
    "SSEEvent",
    "error_from_response",
    "get_loop",
    "in_loop_thread",
    "iterate_sync",
    "parse_error_body",
    "parse_retry_after",
    "run_async",
    "run_sync",
]
