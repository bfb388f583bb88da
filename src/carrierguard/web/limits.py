"""A ceiling on request bodies, before any route reads them (ASGI middleware).

No route of ours takes more than a few hundred kilobytes (the largest is a cross-carrier
publish of 5,000 rows); without a ceiling one request could make a worker hold gigabytes.
A declared Content-Length over the ceiling is refused at once; a chunked body is read
here, counted as it arrives, refused when it passes the ceiling, and otherwise handed to
the route whole. Both refusals answer 413 in our error shape.
"""

from __future__ import annotations

import json
import os
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULT_MAX_BODY = 4 << 20  # 4 MiB
ENV = "CARRIERGUARD_MAX_BODY_BYTES"


def max_body_from_env() -> int:
    text = os.environ.get(ENV, "")
    try:
        value = int(text) if text else DEFAULT_MAX_BODY
    except ValueError as exc:
        raise ValueError(f"{ENV} must be a whole number of bytes, got {text!r}") from exc
    if value < 1024:
        raise ValueError(f"{ENV} must be at least 1024 bytes, got {value}")
    return value


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(send)
            return
        if declared is not None:
            await self.app(scope, receive, send)  # the server stops at the declared length
            return
        # A chunked body: read it here, up to the ceiling, then hand it over whole.
        messages: list[Message] = []
        seen = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                await self._refuse(send)
                return
            if not message.get("more_body", False):
                break
        replay = iter(messages)

        async def replayed() -> Message:
            return next(replay, None) or await receive()

        await self.app(scope, replayed, send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(
            {
                "error": {
                    "code": "PAYLOAD_TOO_LARGE",
                    "message_en": f"the request body is larger than {self.max_bytes:,} bytes",
                    "message_ja": f"リクエスト本文が大きすぎます（上限 {self.max_bytes:,} バイト）。",
                }
            },
            ensure_ascii=False,
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _content_length(scope: dict[str, Any] | Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
