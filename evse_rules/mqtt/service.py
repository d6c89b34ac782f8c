"""The MQTT face of `evse-rules run`: state out, commands in, Home Assistant discovery.

Started after the engine, beside the HTTP API (`Service` of live/views.py). Its link keeps
trying to reach the broker in the background: `start` never fails for a broker that is
down (the engine must run without it); it fails only for a config it cannot use (a
password file that cannot be read, a charger named like a topic of its own).

After each `EngineFace.changes()` the changed state topics are published; everything is
published again every minute and at each new connection (a broker restarted without
persistence has forgotten its retained messages). Commands go through
`EngineFace.command` with source "mqtt"; a refusal is journaled there and said on
`<base>/error` as JSON `{"topic", "payload", "error"}` (not retained).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Coroutine
from typing import Any

from evse_rules.config import MqttConfig
from evse_rules.live.views import CommandRefused, EngineFace, EngineView, HandCommand
from evse_rules.mqtt.commands import NotACommand, command_topic, parse_command, variable_command
from evse_rules.mqtt.discovery import Discovery, encode
from evse_rules.mqtt.link import Message, MqttLink, default_client_id
from evse_rules.mqtt.state import RESERVED, StateOut

log = logging.getLogger("evse_rules.mqtt")

REFRESH_SECONDS = 60.0        # state is published whole at least this often


class MqttService:
    """Publishes `face`'s state to the broker of `config` and takes commands from it."""

    name = "mqtt"

    def __init__(self, face: EngineFace, config: MqttConfig, *,
                 refresh: float = REFRESH_SECONDS) -> None:
        self.face = face
        self.config = config
        self.base = config.base_topic
        self.refresh = refresh
        self.status_topic = f"{self.base}/status"
        self.error_topic = f"{self.base}/error"
        self.link: MqttLink | None = None
        self._state = StateOut(self.base)
        self._discovery = Discovery(self.base, config.discovery_prefix)
        self._discovered: dict[str, str] = {}      # config topic -> payload sent
        self._seen: set[str] = set()                # retained configs of this node found
        self._shape: tuple[object, ...] | None = None
        self._task: asyncio.Task[None] | None = None
        self._commands: set[asyncio.Task[object]] = set()
        self._lock = asyncio.Lock()                 # one publishing pass at a time
        self._wake = asyncio.Event()

    async def start(self) -> None:
        view = self.face.view()
        clash = [c.name for c in view.chargers if c.name in RESERVED]
        if clash:
            raise RuntimeError(f"a charger named {clash[0]!r} would share the topics "
                               f"{self.base}/{clash[0]}/...: rename it ([mqtt] not started)")
        client_id = self.config.client_id or default_client_id()
        link = MqttLink(self.config, client_id, will=(self.status_topic, "offline"))
        link.subscribe(f"{self.base}/+/+/set", self._on_set)
        if self.config.discovery:
            link.subscribe(f"{self.config.discovery_prefix}/status", self._on_ha_status)
            link.subscribe(self._discovery.pattern(), self._on_config)
        link.on_connect(self._connected)
        self.link = link
        link.start()
        self._task = asyncio.get_running_loop().create_task(self._follow(), name="mqtt state")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for pending in list(self._commands):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pending, 2.0)
        if self.link is not None:
            await self.link.stop(last=(self.status_topic, "offline"))

    # -- state out ----------------------------------------------------------------------

    async def _follow(self) -> None:
        """Publish after each change of the engine, and everything every `refresh`."""
        loop = asyncio.get_running_loop()
        whole_at = loop.time() + self.refresh
        while True:
            changed = asyncio.ensure_future(self.face.changes())
            woken = asyncio.ensure_future(self._wake.wait())
            timeout = max(0.0, whole_at - loop.time())
            _, pending = await asyncio.wait({changed, woken}, timeout=timeout,
                                            return_when=asyncio.FIRST_COMPLETED)
            for item in pending:
                item.cancel()
            self._wake.clear()
            everything = loop.time() >= whole_at
            if everything:
                whole_at = loop.time() + self.refresh
            try:
                await self.publish(everything=everything)
            except Exception:        # a bug here must not end the MQTT face
                log.exception("mqtt: publishing the state")

    async def publish(self, *, everything: bool = False) -> None:
        """Publish what changed in the view (everything with `everything`)."""
        link = self.link
        if link is None or not link.connected.is_set():
            return
        async with self._lock:
            view = self.face.view()
            if self.config.discovery:
                await self._discover(link, view)
            pairs = self._state.changes(view, everything)
            ok = True
            for topic, text in pairs:
                ok = await link.publish(topic, text, retain=True) and ok
            if ok:
                self._state.published()

    async def _connected(self) -> None:
        """A new connection: online, then the whole state and the discovery again."""
        assert self.link is not None
        await self.link.publish(self.status_topic, "online", retain=True)
        self._state.forget()
        self._discovered.clear()
        self._shape = None
        await self.publish(everything=True)

    # -- discovery ------------------------------------------------------------------------

    async def _discover(self, link: MqttLink, view: EngineView) -> None:
        """Send the entities' configs that are new or changed, remove those gone; nothing
        when the chargers and variables are as before (a refresh leaves them alone)."""
        shape = self._discovery.shape(view)
        if shape == self._shape:
            return
        wanted = {topic: encode(payload)
                  for topic, payload in self._discovery.messages(view).items()}
        for topic, text in wanted.items():
            if self._discovered.get(topic) != text:
                await link.publish(topic, text, retain=True)
        for topic in [t for t in self._discovered if t not in wanted]:
            await link.publish(topic, "", retain=True)
        for topic in [t for t in self._seen if t not in wanted]:
            await self._remove(topic)
        self._discovered = wanted
        self._shape = shape

    def _on_ha_status(self, message: Message) -> None:
        if message.payload.strip().lower() == b"online":
            # Home Assistant started again: discovery and the state it has to show.
            self._shape = None
            self._discovered.clear()
            self._spawn(self.publish(everything=True))

    def _on_config(self, message: Message) -> None:
        """A retained config of this node from an earlier run: removed when its charger or
        variable is gone."""
        if not message.payload or not message.retain:
            return
        self._seen.add(message.topic)
        if self._shape is not None and message.topic not in self._discovered:
            self._spawn(self._remove(message.topic))

    async def _remove(self, topic: str) -> None:
        if self.link is not None and topic in self._seen:
            log.info("mqtt: removing the Home Assistant entity %s (gone)", topic)
            self._seen.discard(topic)
            await self.link.publish(topic, "", retain=True)

    # -- commands in ----------------------------------------------------------------------

    def _on_set(self, message: Message) -> None:
        where = command_topic(self.base, message.topic)
        if where is None or not message.payload:
            return          # an empty payload clears a retained message: no command
        if message.retain:
            # A retained command would be carried out again at every connection.
            self._spawn(self._refuse(message, "a retained command is not carried out "
                                              "(publish commands without retain)"))
            return
        target, key = where
        try:
            command = (variable_command(key, message.payload) if target == "var"
                       else parse_command(target, key, message.payload))
        except NotACommand as error:
            log.warning("mqtt: %s: refused: %s", message.topic, error.message)
            self._spawn(self._refuse(message, error.message))
            return
        self._spawn(self._carry_out(message, command))

    async def _carry_out(self, message: Message, command: HandCommand) -> None:
        try:
            outcome = await self.face.command(command)
        except CommandRefused as refused:
            await self._refuse(message, refused.message)
            return
        if not outcome.ok:
            await self._refuse(message, outcome.message)
        self._wake.set()

    async def _refuse(self, message: Message, why: str) -> None:
        if self.link is None:
            return
        text = message.payload.decode("utf-8", errors="replace")[:60]
        await self.link.publish(self.error_topic, json.dumps(
            {"topic": message.topic, "payload": text, "error": why}), retain=False)

    def _spawn(self, work: Coroutine[Any, Any, object]) -> None:
        task = asyncio.ensure_future(work)
        self._commands.add(task)
        task.add_done_callback(self._commands.discard)
