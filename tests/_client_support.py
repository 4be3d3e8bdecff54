"""Scripted mock-transport handlers for the client tests: answers in order, calls counted."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx


class Script:
    """A mock-transport handler that plays its answers in order (the last repeats) and counts the calls."""

    def __init__(self, *answers: Callable[[httpx.Request], httpx.Response]) -> None:
        self.answers = answers
        self.requests: list[httpx.Request] = []

    @property
    def calls(self) -> int:
        return len(self.requests)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        answer = self.answers[min(self.calls, len(self.answers) - 1)]
        self.requests.append(request)
        return answer(request)


def reply(status: int = 200, **kw: Any) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(status, **kw)


def fail(error: type[httpx.TransportError], message: str) -> Callable[[httpx.Request], httpx.Response]:
    def answer(request: httpx.Request) -> httpx.Response:
        raise error(message, request=request)

    return answer
