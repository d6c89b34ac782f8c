"""An MQTT input: the last message on one topic, a number (with its unit), a text or a
boolean.

    [inputs.pv]
    kind = "mqtt"
    topic = "shellies/em3/emeter/0/power"
    path = "ENERGY.Power"       # optional: into a JSON payload, as for http inputs
    unit = "W"
    stale_after = "30 s"

A subscription (the link's task) keeps the last value and when it arrived; `read()` gives
them, so an mqtt input is polled like any other. A value that has not arrived yet, or that
is `stale_after` old (the broker is down, the meter went quiet), is "no value": `read()`
raises `InputError` saying why and the store lets it go stale. A payload that does not
parse is reported once by the next `read()` (an event in the journal naming the topic and
the payload); the input keeps its last value and time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
from typing import Any, Literal, cast

from evse_rules.inputs.base import Clock, InputError, Reading, utc_now
from evse_rules.inputs.http import follow, parse_path, to_number
from evse_rules.mqtt.link import Message, MqttLink
from evse_rules.redact import redact

ValueKind = Literal["number", "text", "boolean"]
TRUE = ("true", "on", "1", "yes")
FALSE = ("false", "off", "0", "no")
MAX_PAYLOAD = 65536          # bytes parsed; a bigger message is refused, not read
MAX_TEXT = 200               # characters of a text value
SHOWN = 60                   # characters of a bad payload in the journal
FIRST_WAIT = 1.0             # s the first read waits for a retained value


def shown(payload: bytes) -> str:
    """A payload as the journal shows it: text, cut to 60 characters, secrets redacted."""
    text = payload.decode("utf-8", errors="replace")
    cut = text if len(text) <= SHOWN else text[:SHOWN] + "..."
    return redact(cut)


def parse_boolean(value: Any) -> bool:
    """true/false, on/off, 1/0, yes/no (any case), JSON true/false and the numbers 1/0."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in TRUE:
            return True
        if lowered in FALSE:
            return False
    raise ValueError("is not a boolean (true/false, on/off, 1/0)")


def parse_payload(payload: bytes, kind: ValueKind, path: tuple[str, ...] | None,
                  factor: float = 1.0) -> float | str | bool:
    """The value a payload carries; ValueError says why it does not parse."""
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"is {len(payload)} bytes (at most {MAX_PAYLOAD})")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("is not UTF-8 text") from None
    leaf: Any = text.strip()
    if path is not None:
        try:
            document = json.loads(text)
        except (ValueError, RecursionError):
            raise ValueError("is not JSON (the input has a path)") from None
        try:
            leaf = follow(document, path)
        except ValueError as error:
            raise ValueError(f"has nothing at path {'.'.join(path)!r}: {error}") from None
        where = f"at path {'.'.join(path)!r} "
    else:
        where = ""
    return typed_leaf(leaf, kind, where, factor)


def typed_leaf(leaf: Any, kind: ValueKind, where: str = "",
               factor: float = 1.0) -> float | str | bool:
    """A JSON value (or a payload's text) as the input's kind; ValueError says why not.
    `where` ("at path 'a.b' ") starts the messages."""
    if kind == "boolean":
        try:
            return parse_boolean(leaf)
        except ValueError as error:
            raise ValueError(f"{where}{error}") from None
    if kind == "text":
        if isinstance(leaf, bool):
            return "true" if leaf else "false"
        if isinstance(leaf, int | float):
            return f"{leaf:g}"
        if not isinstance(leaf, str):
            raise ValueError(f"{where}is not a text")
        if len(leaf) > MAX_TEXT:
            raise ValueError(f"is a text of {len(leaf)} characters (at most {MAX_TEXT})")
        return leaf
    if isinstance(leaf, str) and not leaf:
        raise ValueError(f"{where}is empty, not a number")
    try:
        number = to_number(leaf) * factor
    except ValueError:
        raise ValueError(f"{where}is not a number") from None
    if not math.isfinite(number):
        raise ValueError("is not a finite number")
    return number


class MqttInput:
    """The last value of one MQTT topic."""

    def __init__(self, name: str, topic: str, link: MqttLink, *, path: str | None = None,
                 kind: ValueKind = "number", factor: float = 1.0, every: float = 60.0,
                 stale_after: float = 180.0, clock: Clock = utc_now) -> None:
        self.name = name
        self.topic = topic
        self.path = path
        self.kind: ValueKind = kind
        self.every = every
        self.stale_after = stale_after
        self._parts = parse_path(path) if path is not None else None
        self._factor = factor
        self._clock = clock
        self._link = link
        self._last: Reading | None = None
        self._problem: str | None = None      # a bad payload not reported yet
        self._arrived = asyncio.Event()
        self._read_once = False
        link.acquire()
        link.subscribe(topic, self.deliver)

    # Its readings carry their arrival time (Sources journals and ages them from then).
    stamps_arrival = True

    @property
    def link(self) -> MqttLink:
        """The broker connection this input listens on (shared by a config's inputs)."""
        return self._link

    @property
    def last(self) -> Reading | None:
        """The last value kept and when it arrived (None: none yet)."""
        return self._last

    def deliver(self, message: Message) -> None:
        """A message on the topic (called by the link)."""
        try:
            value = parse_payload(message.payload, self.kind, self._parts, self._factor)
        except ValueError as error:
            self._problem = (f"topic {self.topic!r}: payload {shown(message.payload)!r} "
                             f"{error}; the last value is kept")
            return
        # A Reading holds numbers; text and boolean inputs carry their value as it is (the
        # store takes any rule value).
        self._last = Reading(cast(float, value), self._clock())
        self._arrived.set()

    async def read(self) -> Reading:
        self._link.start()
        if not self._read_once:
            # The first read waits a moment for the connection and a retained value, so a
            # start does not begin with "no message yet" for values the broker holds.
            self._read_once = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._first_value(), FIRST_WAIT)
        if self._problem is not None:
            problem, self._problem = self._problem, None
            raise InputError(self.name, problem)
        last = self._last
        if last is None:
            raise InputError(self.name, f"no message yet on topic {self.topic!r}"
                             + self._broker())
        age = (self._clock() - last.at).total_seconds()
        if age >= self.stale_after:
            # The same words at every read while it lasts: one event in the journal.
            raise InputError(self.name, f"no message on topic {self.topic!r} within "
                             f"stale_after ({self.stale_after:g} s)" + self._broker())
        return last

    async def _first_value(self) -> None:
        """Until a value is here, or the first connection attempt has failed (a broker
        that is down is not waited for)."""
        await self._link.tried.wait()
        if self._link.connected.is_set():
            await self._arrived.wait()

    def _broker(self) -> str:
        if self._link.connected.is_set():
            return ""
        return f" (MQTT broker {self._link.where}: {self._link.problem})"

    async def close(self) -> None:
        await self._link.release()

    def __repr__(self) -> str:
        return f"MqttInput({self.name!r}, {self.topic!r})"
