"""`GET /api/v1/stream`: the state as server-sent events, at connect and after every change."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import Request
from pydantic import TypeAdapter
from sse_starlette import EventSourceResponse, ServerSentEvent

from evse_rules.live.views import EngineFace, EngineView

KEEP_ALIVE_SECONDS = 15
_VIEW = TypeAdapter(EngineView)


def state_event(face: EngineFace) -> ServerSentEvent:
    return ServerSentEvent(data=_VIEW.dump_json(face.view()).decode(), event="state")


async def state_events(face: EngineFace) -> AsyncIterator[ServerSentEvent]:
    """The state now, then once per change, for as long as the client listens."""
    yield state_event(face)
    while True:
        await face.changes()
        yield state_event(face)


def state_stream(face: EngineFace, request: Request) -> EventSourceResponse:
    # The keep-alive comment keeps proxies and phones from closing a quiet connection.
    return EventSourceResponse(
        state_events(face), ping=KEEP_ALIVE_SECONDS,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
