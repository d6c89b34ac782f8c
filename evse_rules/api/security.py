"""The password and the cross-site checks, before any route or file is reached.

A plain ASGI middleware (not a route dependency) so that the dashboard's files are behind the
same password as the API, and so that streamed answers (the event stream) pass untouched.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import json
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

REALM = 'Basic realm="evse-rules"'
_CHANGES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


def password_matches(authorization: str | None, password: str) -> bool:
    """HTTP Basic with any user name and `password`, or `Bearer <password>`.

    Compared with hmac.compare_digest so that the time taken does not tell how much matched.
    """
    if not authorization:
        return False
    scheme, _, credentials = authorization.strip().partition(" ")
    given: bytes
    if scheme.lower() == "bearer":
        given = credentials.strip().encode()
    elif scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        given = decoded.partition(b":")[2]
    else:
        return False
    return hmac.compare_digest(given, password.encode())


def _origin_key(url: str, default_scheme: str) -> tuple[str, str, int] | None:
    """scheme, host, port of an origin or URL; None when it names no host ("null")."""
    parts = urlsplit(url if "//" in url else f"{default_scheme}://{url}")
    if not parts.hostname:
        return None
    scheme = parts.scheme.lower()
    try:
        port = parts.port or _DEFAULT_PORTS.get(scheme, 0)
    except ValueError:
        return None
    return scheme, parts.hostname.lower(), port


def same_origin(claimed: str, host: str | None, scheme: str,
                allowed: Iterable[str]) -> bool:
    """Whether `claimed` (an Origin or a Referer) is this server's own origin or an allowed one."""
    key = _origin_key(claimed, scheme)
    if key is None:
        return False
    if host and key == _origin_key(host, scheme):
        return True
    return any(key == _origin_key(origin, scheme) for origin in allowed)


class Guard:
    """Password (when set), then, for requests that change state, origin and content type."""

    def __init__(self, app: ASGIApp, *, password: str | None,
                 allowed_origins: tuple[str, ...]) -> None:
        self.app = app
        self.password = password
        self.allowed_origins = allowed_origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        if self.password is not None and not password_matches(
                headers.get("authorization"), self.password):
            await _refuse(send, 401, "a password is needed: HTTP Basic (any user name) or "
                          "'Authorization: Bearer <password>'", {"www-authenticate": REALM})
            return
        if self.password is None and not self._trusted_host(headers.get("host")):
            await _refuse(send, 403, (
                f"refused: Host {headers.get('host', '')[:100]!r} is not this machine; without "
                "a password only 127.0.0.1, localhost, [::1] or the host of an origin in "
                "[http] allowed_origins may be used (a guard against DNS rebinding)"))
            return
        if scope["method"] in _CHANGES:
            refusal = self._refusal(scope, headers)
            if refusal:
                await _refuse(send, *refusal)
                return
        await self.app(scope, receive, send)

    def _trusted_host(self, host: str | None) -> bool:
        """Without a password the server listens on loopback only, yet a web page can still
        reach it through a name of its own that it points at 127.0.0.1 (DNS rebinding): its
        requests then carry that name as Host. An IP address, localhost or the host of an
        allowed origin cannot be such a name."""
        if not host:
            return True     # HTTP/1.0 without Host: no browser sends that
        key = _origin_key(host, "http")
        if key is None:
            return False
        name = key[1].strip("[]")
        if name == "localhost" or name.endswith(".localhost"):
            return True
        try:
            ipaddress.ip_address(name)
            return True
        except ValueError:
            pass
        return any((found := _origin_key(origin, "http")) is not None and found[1] == key[1]
                   for origin in self.allowed_origins)

    def _refusal(self, scope: Scope, headers: dict[str, str]) -> tuple[int, str] | None:
        """(status, message) when a state-changing request may not pass."""
        claimed = headers.get("origin") or headers.get("referer")
        if claimed is not None and not same_origin(
                claimed, headers.get("host"), scope.get("scheme", "http"), self.allowed_origins):
            which = "Origin" if "origin" in headers else "Referer"
            return 403, (f"refused: the request comes from another origin ({which}: "
                         f"{claimed[:100]}); only this dashboard, or an origin in [http] "
                         "allowed_origins, may change state")
        has_body = headers.get("content-length", "0").strip() not in ("", "0") or (
            "transfer-encoding" in headers)
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if has_body and content_type != "application/json":
            return 415, ("refused: a request with a body must be 'Content-Type: "
                         f"application/json' (got {content_type or 'none'!r})")
        return None


async def _refuse(send: Send, status: int, message: str,
                  extra: dict[str, str] | None = None) -> None:
    body = json.dumps({"detail": message}).encode()
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode())]
    headers += [(k.encode(), v.encode()) for k, v in (extra or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
