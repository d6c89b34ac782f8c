"""An HTTP JSON input: GET a URL, follow a dotted path into the JSON, convert to canonical.

    [inputs.pv]
    kind = "http"
    url = "http://inverter.local/api/flow"
    path = "site.meters.0.power"       # keys and list indexes
    unit = "kW"                        # the unit of the number found there

Every failure is an `InputError` that names the input, the URL (without credentials nor
secret query values: `evse_rules.redact`) and the cause: no answer in time, an HTTP status, a
body that is not JSON, a path that leads nowhere, a value that is not a number. httpx's own
request lines (logged at -vv) are redacted the same way.
"""

from __future__ import annotations

import json
import math
from typing import Any, Literal, cast
from urllib.parse import urlsplit, urlunsplit

import httpx

from evse_rules.inputs.base import (
    MAX_DOCUMENT,
    Clock,
    InputError,
    Reading,
    plausible,
    utc_now,
)
from evse_rules.redact import redact, redact_logs, redact_url

# httpx logs every request with its whole URL (shown at -vv): token=... must not be in it.
redact_logs("httpx")


def safe_url(url: str) -> str:
    """`url` as messages and logs may show it: no user info, no secret query values."""
    try:
        parts = urlsplit(url)
    except ValueError:        # not even a URL (a bad IPv6 host): redacted as it is
        return redact_url(url)
    host = parts.netloc.rpartition("@")[2]      # the user info goes, not just its password
    return redact_url(urlunsplit((parts.scheme, host, parts.path, parts.query, "")))


def parse_path(path: str) -> tuple[str, ...]:
    """'site.meters.0.power' -> ('site', 'meters', '0', 'power')."""
    parts = tuple(path.split("."))
    if not path or any(not p for p in parts):
        raise ValueError(f"not a dotted path: {path!r}")
    return parts


def follow(document: Any, path: tuple[str, ...]) -> Any:
    """The value at `path` in a parsed JSON document; ValueError says where it stops."""
    here: Any = document
    for depth, part in enumerate(path):
        where = ".".join(path[:depth]) or "the document"
        if isinstance(here, dict):
            if part not in here:
                raise ValueError(f"key {part!r} not found")
            here = here[part]
        elif isinstance(here, list):
            try:
                index = int(part)
            except ValueError:
                raise ValueError(f"{where} is a list: {part!r} is not an index") from None
            if not -len(here) <= index < len(here):
                raise ValueError(f"index {index} out of range ({where} has {len(here)} items)")
            here = here[index]
        else:
            raise ValueError(f"{where} is {type(here).__name__} {here!r}, not an object")
    return here


def to_number(value: Any) -> float:
    """A JSON leaf as a float: numbers, booleans (1/0) and numeric strings."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:      # an integer of hundreds of digits
            raise ValueError(f"value {str(value)[:20]}... is not a finite number") from None
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"value {value[:60]!r} is not a number") from None
    else:
        raise ValueError(f"value {json.dumps(value)[:60]} is not a number")
    if not math.isfinite(number):
        raise ValueError(f"value {value!r} is not a finite number")
    return number


class FetchError(Exception):
    """Why a JSON document could not be had, in words without the URL (the caller names it:
    the URL may hold credentials)."""

    def __init__(self, cause: str) -> None:
        super().__init__(cause)
        self.cause = cause


async def get_json(client: httpx.AsyncClient, url: str, *, timeout: float,
                   auth: httpx.BasicAuth | None, what: str) -> Any:
    """GET `url` and parse its JSON (at most MAX_DOCUMENT bytes; `what` names such a
    document in the error: "a meter's document"). Raises FetchError."""
    try:
        if auth is not None:
            response = await client.get(url, timeout=timeout, auth=auth)
        else:
            response = await client.get(url, timeout=timeout)
    except httpx.TimeoutException:
        raise FetchError(f"no answer within {timeout:g} s") from None
    except httpx.HTTPError as error:
        # The exception text may hold the URL with credentials: show only its kind.
        raise FetchError(f"connection failed ({type(error).__name__})") from None
    if response.status_code == 401:
        raise FetchError("HTTP 401: authentication failed (check user and password)")
    if response.status_code != 200:
        reason = response.reason_phrase or ""
        raise FetchError(f"HTTP {response.status_code} {reason}".rstrip())
    if len(response.content) > MAX_DOCUMENT:
        raise FetchError(f"the answer is {len(response.content):,} bytes, more than "
                         f"{what} ({MAX_DOCUMENT:,} at most)")
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        cause = "nested too deep" if isinstance(error, RecursionError) else str(error)
        raise FetchError(f"invalid JSON ({redact(cause)[:200]})") from None


class HttpInput:
    """A number read from a JSON document served over HTTP."""

    def __init__(
        self,
        name: str,
        url: str,
        path: str,
        *,
        kind: Literal["number", "text", "boolean"] = "number",
        factor: float = 1.0,
        every: float = 60.0,
        timeout: float = 5.0,
        stale_after: float = 180.0,
        client: httpx.AsyncClient | None = None,
        clock: Clock = utc_now,
        auth: tuple[str, str] | None = None,
    ) -> None:
        self.name = name
        self.url = url
        self.path = path
        self.every = every
        self.stale_after = stale_after
        self._parts = parse_path(path)
        self._factor = factor
        self._kind = kind
        self._timeout = timeout
        self._clock = clock
        self._own_client = client is None
        self._client = client if client is not None else httpx.AsyncClient()
        self._shown = safe_url(url)
        # HTTP Basic; kept in httpx's auth object, which never shows the password.
        self._auth = httpx.BasicAuth(*auth) if auth is not None else None

    def _fail(self, cause: str) -> InputError:
        return InputError(self.name, f"{self._shown}: {cause}")

    async def read(self) -> Reading:
        try:
            document = await get_json(self._client, self.url, timeout=self._timeout,
                                      auth=self._auth, what="a meter's document")
        except FetchError as error:
            raise self._fail(error.cause) from None
        if self._kind != "number":
            # A text (a tariff colour) or a boolean, read as an mqtt input reads its payload.
            from evse_rules.inputs.mqtt import typed_leaf

            try:
                leaf = follow(document, self._parts)
            except ValueError as error:
                raise InputError(self.name, f"path {self.path!r}: {error}") from None
            try:
                value = typed_leaf(leaf, self._kind, f"at path {self.path!r} ")
            except ValueError as error:
                raise InputError(self.name, f"the answer {error}") from None
            # A Reading holds numbers; a text or a boolean is carried as it is (the store
            # takes any rule value), as mqtt inputs do.
            return Reading(cast(float, value), self._clock())
        try:
            value = plausible(to_number(follow(document, self._parts)) * self._factor)
        except ValueError as error:
            raise InputError(self.name, f"path {self.path!r}: {error}") from None
        return Reading(value, self._clock())

    async def close(self) -> None:
        if self._own_client:
            await self._client.aclose()

    def __repr__(self) -> str:
        return f"HttpInput({self.name!r}, {self._shown!r}, {self.path!r})"
