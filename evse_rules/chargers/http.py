"""The HTTP link both OpenEVSE drivers share: auth, timeouts, one retry, every status checked.

The password lives only inside the `httpx.BasicAuth` of the client: URLs in messages and logs are
built from the URL without credentials (a `http://user:pass@host` URL has them moved out first)
and pass through `evse_rules.redact` (token=... query values), and no repr shows it. httpx's
own request lines (-vv) and this room's log lines are redacted the same way.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from evse_rules.errors import ChargerAuthError, ChargerProtocolError, ChargerTimeout
from evse_rules.redact import redact, redact_logs, redact_url

log = logging.getLogger("evse_rules.chargers")
# Every request line httpx logs carries the whole URL (shown at -vv).
redact_logs("httpx", "evse_rules.chargers")

JsonObject = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Reply:
    """One checked answer: its status and decoded JSON body (None when empty or not wanted)."""

    status: int
    body: Any
    url: str


def split_credentials(url: str) -> tuple[str, str | None, str | None]:
    """(url without credentials and trailing slash, user, password) from a charger URL."""
    try:
        parsed = httpx.URL(url if "://" in url else f"http://{url}")
    except httpx.InvalidURL as error:
        # The message names the bad part (a port, a host), never the whole URL and its password.
        raise ValueError(f"not a valid URL: {redact(str(error))}") from None
    shown = redact_url(str(parsed.copy_with(username=None, password=None)))
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError(f"not an http(s) URL: {shown}")
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise ValueError(f"not a valid URL: port {parsed.port} is outside 1..65535 ({shown})")
    user = parsed.username or None
    password = parsed.password or None
    clean = str(parsed.copy_with(username=None, password=None)).rstrip("/")
    return clean, user, password


class HttpLink:
    """An httpx.AsyncClient bound to one charger, with the error rules of the driver contract.

    - every request has a total deadline of `timeout` seconds -> ChargerTimeout;
    - a dropped or refused connection is retried at most once per call (`begin_call`): such a
      failure is often a stale keep-alive socket that a fresh connection fixes at once, whereas a
      timeout is not retried, so a dead charger costs one timeout and not two;
    - 401 -> ChargerAuthError, any other unexpected status -> ChargerProtocolError naming the
      status and the path; a body that is not JSON -> ChargerProtocolError.
    """

    def __init__(
        self,
        name: str,
        url: str,
        *,
        user: str | None,
        password: str | None,
        timeout: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not 0 < timeout < math.inf:     # NaN too: it compares false with everything
            raise ValueError(f"timeout must be positive and finite, not {timeout}")
        clean, url_user, url_password = split_credentials(url)
        user = user if user is not None else url_user
        password = password if password is not None else url_password
        self.name = name
        self.base_url = clean
        self.user = user
        self.timeout = timeout
        auth = httpx.BasicAuth(user, password or "") if user else None
        self._client = httpx.AsyncClient(
            base_url=clean, auth=auth, timeout=httpx.Timeout(timeout), transport=transport,
            headers={"Accept": "application/json"},
        )
        self._retry_left = 1

    def __repr__(self) -> str:
        return f"HttpLink({self.name!r}, {redact_url(self.base_url)!r}, user={self.user!r})"

    def begin_call(self) -> None:
        """Start a driver call: it may retry one dropped connection, no more."""
        self._retry_left = 1

    async def close(self) -> None:
        await self._client.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        ok: Collection[int] = (200,),
        decode: bool = True,
    ) -> Reply:
        """Send one request; return the reply if its status is in `ok`, raise otherwise."""
        url = redact_url(f"{self.base_url}{path}")     # as messages and logs show it
        where = f"{method} {url}"
        while True:
            try:
                async with asyncio.timeout(self.timeout):
                    response = await self._client.request(
                        method, path, json=json_body, params=params
                    )
                    content = await response.aread()
                break
            except (TimeoutError, httpx.TimeoutException) as error:
                raise ChargerTimeout(
                    self.name, f"no answer within {self.timeout:g} s to {where}"
                ) from error
            except httpx.TransportError as error:
                if self._retry_left > 0:
                    self._retry_left -= 1
                    log.debug("%s: %s failed (%s), retrying once", self.name, where,
                              type(error).__name__)
                    continue
                raise ChargerTimeout(
                    self.name, f"connection failed for {where} ({_describe(error)})"
                ) from error
            except httpx.HTTPError as error:  # e.g. a body that does not decode
                raise ChargerProtocolError(
                    self.name, f"unreadable answer to {where} ({type(error).__name__})"
                ) from error
        log.debug("%s: %s -> HTTP %d", self.name, where, response.status_code)
        status = response.status_code
        if status == 401:
            hint = ("check the user name and password" if self.user
                    else "the charger asks for a user name and password")
            raise ChargerAuthError(
                self.name, f"authentication failed (HTTP 401 for {where}): {hint}"
            )
        if status not in ok:
            message = _message_of(content)
            detail = f": {message}" if message else ""
            raise ChargerProtocolError(self.name, f"HTTP {status} for {where}{detail}")
        body: Any = None
        if decode and content.strip():
            body = decode_json(self.name, where, content)
        return Reply(status=status, body=body, url=url)

    def object_of(self, reply: Reply, method: str = "GET") -> JsonObject:
        """The reply's body as a JSON object, or ChargerProtocolError."""
        if not isinstance(reply.body, dict):
            raise ChargerProtocolError(
                self.name, f"{method} {reply.url} answered {_kind(reply.body)}, not a JSON object"
            )
        return reply.body


# Bounds of a charger's JSON answer: its largest document (/config) is a few kB and 3 deep.
MAX_JSON_BYTES = 1_000_000
MAX_JSON_DEPTH = 32


def _depth_within(value: Any, limit: int) -> bool:
    """Whether `value` nests no deeper than `limit` arrays and objects (no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(
            item, list) else None
        if children is None:
            continue
        if depth > limit:
            return False
        stack.extend((child, depth + 1) for child in children)
    return True


def decode_json(name: str, where: str, content: bytes) -> Any:
    """A reply body as JSON, or ChargerProtocolError: at most MAX_JSON_BYTES and
    MAX_JSON_DEPTH deep. NaN, Infinity and 1e400 decode to floats here, so that the check of
    the field that holds one (openevse_parse.checked) can name the field in its refusal."""
    if len(content) > MAX_JSON_BYTES:
        raise ChargerProtocolError(
            name, f"the answer to {where} is {len(content)} bytes, more than {MAX_JSON_BYTES}")
    try:
        body = json.loads(content)
    except RecursionError:
        raise ChargerProtocolError(
            name, f"the JSON from {where} nests deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as error:
        raise ChargerProtocolError(
            name, f"invalid JSON from {where}: {_preview(content)} ({str(error)[:60]})"
        ) from None
    if not _depth_within(body, MAX_JSON_DEPTH):
        raise ChargerProtocolError(
            name, f"the JSON from {where} nests deeper than {MAX_JSON_DEPTH} levels")
    return body


def _describe(error: httpx.TransportError) -> str:
    if isinstance(error, httpx.RemoteProtocolError):
        return "the connection dropped without an answer"
    if isinstance(error, httpx.ConnectError):
        return "could not connect"
    return f"{type(error).__name__}"


def _message_of(content: bytes) -> str | None:
    """The firmware's `msg` (or RAPI `error`) of an error reply, if it has one."""
    try:
        data = decode_json("", "", content)
    except ChargerProtocolError:
        return _preview(content) if content.strip() else None
    if isinstance(data, dict):
        for key in ("msg", "error"):
            if isinstance(data.get(key), str):
                return str(data[key])[:200]
    return None


def _preview(content: bytes) -> str:
    text = content.decode("utf-8", "replace").strip().replace("\n", " ")
    return repr(text[:80] + ("..." if len(text) > 80 else ""))


def _kind(value: object) -> str:
    if value is None:
        return "an empty body"
    return f"a JSON {type(value).__name__}"
