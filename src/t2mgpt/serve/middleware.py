"""ASGI middleware of the web app: the request body limit and the Host header check."""
from __future__ import annotations

import ipaddress
from typing import Iterable

from fastapi.responses import JSONResponse

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


class BodyLimit:
    """413 for a request body over `max_bytes`, before the app sees the request.

    A Content-Length over the limit is refused before anything is read. Otherwise the body
    (chunked or not) is read first, at most `max_bytes` of it, and handed to the app once
    complete: no route, static files included, ever reads an oversized body or fails
    half-way through its answer because of one.
    """

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self) -> JSONResponse:
        return JSONResponse({"detail": f"request body over {self.max_bytes} bytes"}, status_code=413)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            return await self._too_large()(scope, receive, send)
        messages, received = [], 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":  # the client left before its body was complete
                break
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                return await self._too_large()(scope, receive, send)
            if not message.get("more_body", False):
                break

        async def replay():
            return messages.pop(0) if messages else await receive()

        return await self.app(scope, replay, send)


def host_name(value: str) -> str:
    """The host part of a Host header or a name: lowercase, no port, IPv6 in brackets."""
    value = value.strip().lower().rstrip(".")
    try:
        return f"[{ipaddress.IPv6Address(value.strip('[]'))}]"
    except ValueError:
        pass
    if value.startswith("["):
        end = value.find("]")
        value = value[:end + 1] if end > 0 else value
        try:
            return f"[{ipaddress.IPv6Address(value.strip('[]'))}]"
        except ValueError:
            return value
    return value.rsplit(":", 1)[0].rstrip(".") if value.count(":") == 1 else value


class HostCheck:
    """400 for a Host header that names none of `allowed` ("*" allows any).

    A page on another site can make a browser send requests to a local server under the
    attacker's own host name (DNS rebinding); such requests carry that name in Host, so only
    the names the server is reached by are served.
    """

    def __init__(self, app, allowed: Iterable[str]):
        self.app = app
        allowed = list(allowed)
        self.any = "*" in allowed
        self.allowed = {host_name(h) for h in allowed if h != "*"}

    async def __call__(self, scope, receive, send):
        if self.any or scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        raw = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
        if host_name(raw) not in self.allowed:
            shown = raw[:100].encode("ascii", "replace").decode("ascii")
            detail = (f"host {shown!r} is not served here (DNS rebinding protection); this server answers to "
                      f"{', '.join(sorted(self.allowed))}; start it with --allowed-hosts to add names")
            return await JSONResponse({"detail": detail}, status_code=400)(scope, receive, send)
        return await self.app(scope, receive, send)
