"""Two pure ASGI guards in front of the app: the API key, and the size of request bodies.

Pure ASGI (not Starlette's ``BaseHTTPMiddleware``) so that both also see WebSocket handshakes and
can refuse a body before it is read.
"""

from __future__ import annotations

import hmac
import json
from http.cookies import SimpleCookie
from urllib.parse import parse_qs

from starlette.exceptions import HTTPException

from .errors import error_body

__all__ = ["KEY_COOKIE", "ApiKeyGuard", "BodyLimit"]

#: The cookie a browser gets after presenting the key once (``/?api_key=KEY``), so the page's own
#: requests (scripts, the avatar, the WebSocket) carry it without the key in every URL.
KEY_COOKIE = "emosynth_key"
_OPEN_PATHS = frozenset({"/healthz"})


async def _send_json(send, status: int, body: dict, headers: list[tuple[bytes, bytes]] = ()) -> None:
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": data})


class ApiKeyGuard:
    """Every path but /healthz needs the key: ``Authorization: Bearer KEY`` (what OpenAI clients
    send), ``X-API-Key: KEY``, the ``api_key`` query parameter (which also sets a cookie) or that
    cookie."""

    def __init__(self, app, api_key: str) -> None:
        self.app = app
        self._key = api_key.encode()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] in _OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        presented, from_query = self._presented(scope)
        if presented is None or not hmac.compare_digest(presented.encode(), self._key):
            await self._refuse(scope, send, presented is None)
            return
        if from_query and scope["type"] == "http":
            send = self._with_cookie(send, presented)
        await self.app(scope, receive, send)

    @staticmethod
    def _presented(scope) -> tuple[str | None, bool]:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        auth = headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            return auth[7:].strip(), False
        if "x-api-key" in headers:
            return headers["x-api-key"].strip(), False
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if query.get("api_key"):
            return query["api_key"][0], True
        cookie = SimpleCookie(headers.get("cookie", ""))
        if KEY_COOKIE in cookie:
            return cookie[KEY_COOKIE].value, False
        return None, False

    @staticmethod
    async def _refuse(scope, send, missing: bool) -> None:
        if scope["type"] == "websocket":  # before the handshake is accepted: the client sees HTTP 403
            await send({"type": "websocket.close", "code": 1008})
            return
        what = "no API key was given" if missing else "the API key is wrong"
        message = (f"{what}; send Authorization: Bearer KEY (or X-API-Key: KEY; in a browser open "
                   "/?api_key=KEY once)")
        await _send_json(send, 401, error_body(401, message, param="api_key", code="invalid_api_key"),
                         [(b"www-authenticate", b"Bearer")])

    @staticmethod
    def _with_cookie(send, key: str):
        cookie = f"{KEY_COOKIE}={key}; Path=/; HttpOnly; SameSite=Strict".encode("latin-1")

        async def sending(message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"set-cookie", cookie)]}
            await send(message)
        return sending


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with 413: at once when Content-Length says so,
    else as soon as the streamed body passes the limit."""

    def __init__(self, app, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                size = -1
            if size < 0 or size > self.max_bytes:
                await _send_json(send, 413 if size > 0 else 400, error_body(
                    413 if size > 0 else 400, self._message(size), param="body",
                    code="too_large" if size > 0 else "invalid_value"))
                return
        await self.app(scope, self._counting(receive), send)

    def _message(self, size: int) -> str:
        limit = f"at most {self.max_bytes // (1024 * 1024)} MiB ({self.max_bytes} bytes) are accepted"
        return f"body: {size} bytes; {limit}" if size >= 0 else "body: Content-Length is not a number"

    def _counting(self, receive):
        seen = 0

        async def receiving():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:  # FastAPI passes HTTPException through its body parsing
                    raise HTTPException(413, self._message(seen) + " (more was being sent)")
            return message
        return receiving
