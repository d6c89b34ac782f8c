"""`GET /api/v1/stream`: the state as server-sent events, at connect and after every change."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

from fastapi import Request
from pydantic import TypeAdapter
from sse_starlette import EventSourceResponse, ServerSentEvent

from evse_rules.live.views import EngineFace, EngineView

KEEP_ALIVE_SECONDS = 15
_VIEW = TypeAdapter(EngineView)


def state_event(face: EngineFace) -> ServerSentEvent:
    return ServerSentEvent(data=_VIEW.dump_json(face.view()).decode(), event="state")


async def state_events(face: EngineFace) -> AsyncGenerator[ServerSentEvent, None]:
    """The state now, then once per change, for as long as the client listens.

    `changes()` wakes those already waiting: a change between reading the view and waiting
    again (while the event is being sent) would be missed, and the page would stay a tick
    behind. So the wait for the next change starts before the view is read.
    """
    while True:
        waiter = asyncio.ensure_future(face.changes())
        try:
            await asyncio.sleep(0)      # let it reach its wait before the view is read
            yield state_event(face)
            await waiter
        finally:
            waiter.cancel()


def state_stream(face: EngineFace, request: Request) -> EventSourceResponse:
    # The keep-alive comment keeps proxies and phones from closing a quiet connection.
    return EventSourceResponse(
        state_events(face), ping=KEEP_ALIVE_SECONDS,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
