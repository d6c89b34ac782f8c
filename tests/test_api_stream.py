"""The event stream through a real uvicorn: the state at connect, then after every change."""

from __future__ import annotations

import asyncio
import json

import httpx

from evse_rules.api import create_app
from evse_rules.api.demo import DemoFace
from evse_rules.api.stream import KEEP_ALIVE_SECONDS, state_events, state_stream
from evse_rules.live.views import EngineView
from tests.browser import Served


def _events(lines: list[str]) -> list[tuple[str, dict[str, object]]]:
    events, kind = [], ""
    for line in lines:
        if line.startswith("event:"):
            kind = line.partition(":")[2].strip()
        elif line.startswith("data:"):
            events.append((kind, json.loads(line.partition(":")[2])))
    return events


def test_the_stream_sends_the_state_at_connect_and_after_each_change() -> None:
    face = DemoFace()
    with Served(create_app(face, password="pw")) as served, httpx.Client(
            auth=("dashboard", "pw"), timeout=10) as http, \
            http.stream("GET", f"{served.url}/api/v1/stream") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-store"
        lines = response.iter_lines()
        seen: list[str] = []
        while len(_events(seen)) < 1:
            seen.append(next(lines))
        face.tick(10)   # a tick: the countdown shortens
        while len(_events(seen)) < 2:
            seen.append(next(lines))
        # A command from elsewhere is a change too.
        http.post(f"{served.url}/api/v1/chargers/garage/stop")
        while len(_events(seen)) < 3:
            seen.append(next(lines))
    events = _events(seen)
    assert [kind for kind, _ in events] == ["state"] * 3
    first, second, third = (body["chargers"][0] for _, body in events)  # type: ignore[index]
    assert first["countdown"]["seconds"] == 40.0
    assert second["countdown"]["seconds"] == 30.0
    assert third["mode"] == "manual" and third["state_text"] == "Sleeping (not charging)"


def test_the_stream_keeps_quiet_connections_alive_every_15_s() -> None:
    from starlette.requests import Request

    response = state_stream(DemoFace(), Request({"type": "http", "headers": []}))
    assert KEEP_ALIVE_SECONDS == 15 and response.ping_interval == 15


class EdgeFace(DemoFace):
    """`changes()` as the daemon has it: it wakes only those already waiting. A tick lands
    just after the first view is read, before the stream waits again."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.waiting: list[asyncio.Event] = []

    async def changes(self, since: int | None = None) -> int:
        event = asyncio.Event()
        self.waiting.append(event)
        await event.wait()
        return self.sequence

    def view(self) -> EngineView:
        view = super().view()
        if self.sequence == 0:
            self.tick(5)
            for event in self.waiting:
                event.set()
            self.waiting.clear()
        return view


async def test_a_change_while_the_state_is_sent_is_not_missed() -> None:
    face = EdgeFace()
    events = state_events(face)
    first = await anext(events)
    # Without the fix the stream waits for a change that already happened: a hang, cut here.
    second = await asyncio.wait_for(anext(events), timeout=5)
    await events.aclose()
    assert json.loads(str(first.data))["chargers"][0]["countdown"]["seconds"] == 40.0
    assert json.loads(str(second.data))["chargers"][0]["countdown"]["seconds"] == 35.0
