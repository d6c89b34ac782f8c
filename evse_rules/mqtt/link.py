"""One connection to the MQTT broker, kept up in the background.

The link connects, subscribes and dispatches messages in its own task; when the broker
goes away it tries again with a backoff (0.5 s doubling up to 30 s) until it is stopped.
Nothing waits for it: `publish` drops a message while there is no connection (the state
publisher sends everything again on the next connection), and handlers are plain functions
called with each message. So a broker that is down never delays a tick.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiomqtt

from evse_rules.config import MqttConfig
from evse_rules.errors import ConfigError

log = logging.getLogger("evse_rules.mqtt")

Handler = Callable[["Message"], None]
OnConnect = Callable[[], Awaitable[None]]

BACKOFF_FIRST = 0.5
BACKOFF_MAX = 30.0


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    payload: bytes
    retain: bool


def default_client_id() -> str:
    return f"evse-rules-{socket.gethostname()}"[:64]


def password_of(config: MqttConfig, key: str = "mqtt") -> str | None:
    """The broker password, read now; ConfigError names the [mqtt] key that failed."""
    try:
        secret = config.password()
    except ConfigError as error:
        raise ConfigError("<config>", error.message, f"{key}.{error.key}") from None
    return secret.get_secret_value() if secret is not None else None


def tls_context(config: MqttConfig) -> ssl.SSLContext | None:
    """TLS with the system's CAs (`tls = true`) or with `ca_file`; None: plain TCP."""
    if config.ca_file is not None:
        try:
            return ssl.create_default_context(cafile=str(config.ca_file))
        except (OSError, ssl.SSLError) as error:
            raise ConfigError("<config>", f"cannot use {config.ca_file} as CA file: {error}",
                              "mqtt.ca_file") from None
    if config.tls:
        return ssl.create_default_context()
    return None


class MqttLink:
    """A background connection to the broker of `[mqtt]`."""

    def __init__(self, config: MqttConfig, client_id: str, *,
                 will: tuple[str, str] | None = None) -> None:
        self.config = config
        self.client_id = client_id
        self._password = password_of(config)
        self._tls = tls_context(config)
        self._will = will
        self._handlers: list[tuple[str, Handler]] = []
        # Topics without wildcards (every input's) are looked up, not matched one by one.
        self._exact: dict[str, list[Handler]] = {}
        self._wild: list[tuple[str, Handler]] = []
        self._on_connect: list[OnConnect] = []
        self._client: aiomqtt.Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.connected = asyncio.Event()
        self.tried = asyncio.Event()          # the first connection attempt is over
        self.problem: str | None = "not connected yet"
        self.connections = 0                 # how many times it connected (tests, logs)
        self._users = 0

    @property
    def where(self) -> str:
        return f"{self.config.host}:{self.config.port_number}"

    def subscribe(self, pattern: str, handler: Handler) -> None:
        """Call `handler` with every message on `pattern` (MQTT wildcards allowed here).
        Taken at the next connection when added while connected."""
        self._handlers.append((pattern, handler))
        if "+" in pattern or "#" in pattern:
            self._wild.append((pattern, handler))
        else:
            self._exact.setdefault(pattern, []).append(handler)
        client = self._client
        if client is not None:
            task = asyncio.get_running_loop().create_task(self._subscribe(client, pattern))
            task.add_done_callback(_quiet)

    def on_connect(self, callback: OnConnect) -> None:
        """Run `callback` after each connection (publish the whole state again)."""
        self._on_connect.append(callback)

    def start(self) -> None:
        if self._task is None:
            self._stopping.clear()
            self._task = asyncio.get_running_loop().create_task(self._run(),
                                                                name=f"mqtt {self.client_id}")

    def acquire(self) -> None:
        """One more user (an mqtt input); the link runs until the last one releases it."""
        self._users += 1

    async def release(self) -> None:
        self._users -= 1
        if self._users <= 0:
            await self.stop()

    async def publish(self, topic: str, payload: str | bytes, *, retain: bool = True,
                      qos: int = 0) -> bool:
        """Send now if connected; False (dropped) otherwise.

        QoS 0 does not wait for the socket: a connection that died unnoticed would hold
        every publish for its timeout (and the state publisher behind it)."""
        client = self._client
        if client is None:
            return False
        try:
            await client.publish(topic, payload, qos=qos, retain=retain,
                                 timeout=0.0 if qos == 0 else 5.0)
        except aiomqtt.MqttCodeError as error:
            log.debug("mqtt: publish to %s failed: %s", topic, error)
            return False
        except aiomqtt.MqttError as error:
            if qos == 0:
                return True          # queued by the client, not written yet
            log.debug("mqtt: publish to %s failed: %s", topic, error)
            return False
        return True

    async def stop(self, last: tuple[str, str] | None = None) -> None:
        """Disconnect (after publishing `last`, retained, when connected)."""
        self._stopping.set()
        client = self._client
        if last is not None and client is not None:
            with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
                await client.publish(last[0], last[1], qos=1, retain=True, timeout=2.0)
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _subscribe(self, client: aiomqtt.Client, pattern: str) -> None:
        await client.subscribe(pattern, qos=1)

    def _client_for(self) -> aiomqtt.Client:
        will = None
        if self._will is not None:
            will = aiomqtt.Will(self._will[0], self._will[1], qos=1, retain=True)
        return aiomqtt.Client(
            self.config.host, self.config.port_number, username=self.config.user,
            password=self._password, identifier=self.client_id, will=will,
            tls_context=self._tls, timeout=10.0, keepalive=30,
            logger=logging.getLogger("evse_rules.mqtt.paho"))

    async def _run(self) -> None:
        backoff = BACKOFF_FIRST
        failing = False
        while not self._stopping.is_set():
            try:
                async with self._client_for() as client:
                    self._client = client
                    self.connections += 1
                    self.problem = None
                    backoff = BACKOFF_FIRST
                    # All topics in a few SUBSCRIBE packets, not a round trip each.
                    patterns = list(dict.fromkeys(p for p, _ in self._handlers))
                    for first in range(0, len(patterns), 100):
                        await client.subscribe([(p, 1) for p in patterns[first:first + 100]])
                    self.connected.set()
                    self.tried.set()
                    (log.info if failing or self.connections > 1 else log.debug)(
                        "mqtt: connected to %s as %s", self.where, self.client_id)
                    failing = False
                    for callback in list(self._on_connect):
                        try:
                            await callback()
                        except aiomqtt.MqttError:
                            raise
                        except Exception:   # a face's bug must not end the connection
                            log.exception("mqtt: after connecting")
                    async for message in client.messages:
                        self._dispatch(message)
            except aiomqtt.MqttError as error:
                reason = _reason(error)
                if not failing or reason != self.problem:
                    log.warning("mqtt: broker %s: %s (trying again)", self.where, reason)
                failing = True
                self.problem = reason
                self.tried.set()
            finally:
                self._client = None
                self.connected.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), backoff)
            backoff = min(backoff * 2, BACKOFF_MAX)

    def _dispatch(self, message: aiomqtt.Message) -> None:
        data = bytes(message.payload)
        item = Message(message.topic.value, data, bool(message.retain))
        handlers = list(self._exact.get(item.topic, ()))
        handlers += [handler for pattern, handler in self._wild
                     if message.topic.matches(pattern)]
        for handler in handlers:
            try:
                handler(item)
            except Exception:       # one bad handler must not stop the others
                log.exception("mqtt: handling a message on %s", item.topic)


def _reason(error: aiomqtt.MqttError) -> str:
    text = str(error) or type(error).__name__
    if "Connection refused" in text or "[Errno 111]" in text:
        return "connection refused (is the broker running?)"
    if "Not authorized" in text or "Bad user name or password" in text or "code:5" in text:
        return "not authorized (check user and password)"
    return text


def _quiet(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.debug("mqtt: subscribe failed: %s", task.exception())
