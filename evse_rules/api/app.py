"""`create_app(face, password=..., allowed_origins=...)`: the API under /api/v1 and the dashboard.

Every command goes through `face.command` (the engine's one command path): this module only
turns HTTP into `HandCommand`s and outcomes into answers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import Body, FastAPI, Header, Query, Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from sse_starlette import EventSourceResponse
from starlette.routing import Match

from evse_rules.api.bodies import (
    AmpsBody,
    EmptyBody,
    ErrorBody,
    JournalBody,
    ModeBody,
    OutcomeBody,
    PlanBody,
    SeriesBody,
    TextBody,
    VariableBody,
)
from evse_rules.api.errors import install_error_handlers
from evse_rules.api.security import Guard
from evse_rules.api.stream import state_stream
from evse_rules.live.views import (
    ChargerView,
    CommandRefused,
    EngineFace,
    EngineView,
    HandAction,
    HandCommand,
    Source,
)

STATIC = Path(__file__).with_name("static")
PREFIX = "/api/v1"
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (400, 401, 403, 404, 409, 415, 422)}
SourceHeader = Annotated[str | None, Header(alias="X-Evse-Source")]


def _source(header: str | None) -> Source:
    """dashboard and cli say who they are; anything else is the API."""
    name = (header or "").strip().lower()
    return "dashboard" if name == "dashboard" else "cli" if name == "cli" else "api"


class ApiError(Exception):
    """An answer other than 200, with its message in words (`{"detail": ...}`)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def create_app(face: EngineFace, *, password: str | None,
               allowed_origins: tuple[str, ...] = ()) -> FastAPI:
    """The API and the dashboard in front of `face`.

    `password` (None: no password) guards every path, the page included; `allowed_origins`
    are the origins besides the server's own that may send state-changing requests.
    """
    app = FastAPI(
        title="evse-rules",
        summary="Hand control and state of the chargers an evse-rules engine runs",
        openapi_url=f"{PREFIX}/openapi.json",
        # The interactive docs load their scripts from a CDN: off, the JSON document stays.
        docs_url=None, redoc_url=None,
        responses=_ERRORS,
    )
    install_error_handlers(app)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status)

    @app.exception_handler(CommandRefused)
    async def _refused(request: Request, exc: CommandRefused) -> JSONResponse:
        return JSONResponse({"detail": exc.message}, status_code=exc.status)

    def charger(name: str) -> ChargerView:
        chargers = face.view().chargers
        for view in chargers:
            if view.name == name:
                return view
        names = ", ".join(c.name for c in chargers) or "none"
        raise ApiError(404, f"no charger named {name!r} (chargers: {names})")

    async def command(action: HandAction, target: str, value: float | str | bool | None,
                      header: str | None) -> JSONResponse:
        outcome = await face.command(HandCommand(action, target, value, _source(header)))
        body = OutcomeBody(ok=outcome.ok, message=outcome.message, sent=list(outcome.sent))
        return JSONResponse(body.model_dump(), status_code=outcome.status)

    @app.get(f"{PREFIX}/state", response_model=EngineView, tags=["state"])
    async def state() -> EngineView:
        """The whole state: chargers, inputs, variables, rules, ticks."""
        return face.view()

    @app.get(f"{PREFIX}/chargers/{{name}}", response_model=ChargerView, tags=["state"])
    async def one_charger(name: str) -> ChargerView:
        """One charger's tile."""
        return charger(name)

    def charger_action(action: HandAction, summary: str) -> None:
        async def act(name: str, x_evse_source: SourceHeader = None,
                      body: Annotated[EmptyBody | None, Body()] = None) -> JSONResponse:
            charger(name)
            return await command(action, name, None, x_evse_source)

        app.post(f"{PREFIX}/chargers/{{name}}/{action}", response_model=OutcomeBody,
                 tags=["commands"], summary=summary, name=action)(act)

    charger_action("start", "ON: start charging now (the charger goes to manual)")
    charger_action("stop", "OFF: stop charging now (the charger goes to manual)")
    charger_action("release", "Hand the charger back to its own settings (drop the claim)")

    @app.post(f"{PREFIX}/chargers/{{name}}/amps", response_model=OutcomeBody,
              tags=["commands"])
    async def amps(name: str, body: AmpsBody,
                   x_evse_source: SourceHeader = None) -> JSONResponse:
        """Set the current (clamped to [min_amps, max_amps]; the charger goes to manual)."""
        charger(name)
        return await command("amps", name, body.amps, x_evse_source)

    @app.post(f"{PREFIX}/chargers/{{name}}/mode", response_model=OutcomeBody,
              tags=["commands"])
    async def mode(name: str, body: ModeBody,
                   x_evse_source: SourceHeader = None) -> JSONResponse:
        """Man./Auto.: "auto" hands the charger back to the rules."""
        charger(name)
        return await command("mode", name, body.mode, x_evse_source)

    @app.post(f"{PREFIX}/chargers/{{name}}/plan", response_model=OutcomeBody,
              tags=["commands"])
    async def set_plan(name: str, body: PlanBody,
                       x_evse_source: SourceHeader = None) -> JSONResponse:
        """A charge plan: this energy by this time, in the cheapest slots of the charger's
        `plan_price` input (the charger goes to auto; it replaces a plan already set)."""
        charger(name)
        return await command("plan", name, f"{body.energy} by {body.by}", x_evse_source)

    @app.delete(f"{PREFIX}/chargers/{{name}}/plan", response_model=OutcomeBody,
                tags=["commands"])
    async def cancel_plan(name: str, x_evse_source: SourceHeader = None) -> JSONResponse:
        """Cancel the charger's charge plan (the rules drive it again)."""
        charger(name)
        return await command("cancel_plan", name, None, x_evse_source)

    @app.post(f"{PREFIX}/variables/{{name}}", response_model=OutcomeBody, tags=["commands"])
    async def variable(name: str, body: VariableBody,
                       x_evse_source: SourceHeader = None) -> JSONResponse:
        """Set a user variable: a number in its unit, a text with a unit, true/false, a text."""
        return await command("set", name, body.value, x_evse_source)

    @app.get(f"{PREFIX}/journal", response_model=JournalBody, tags=["state"])
    async def journal(limit: Annotated[int, Query(ge=1, le=1000)] = 50,
                      charger_name: Annotated[str | None, Query(alias="charger")] = None
                      ) -> JournalBody:
        """The latest journal lines, newest first (optionally of one charger)."""
        if charger_name:
            charger(charger_name)
        return JournalBody(entries=face.journal(limit, charger_name or None))

    @app.get(f"{PREFIX}/series", response_model=SeriesBody, tags=["state"])
    async def series(hours: Annotated[float, Query(gt=0, le=24 * 31)] = 24.0) -> SeriesBody:
        """The inputs' and chargers' samples of the last `hours`, for the chart."""
        return SeriesBody(series=face.series(hours))

    @app.get(f"{PREFIX}/why/{{name}}", response_model=TextBody, tags=["state"])
    async def why(name: str) -> TextBody:
        """`evse-rules why NAME`: what decided the charger's last state, in words."""
        charger(name)
        return TextBody(text=face.why(name))

    @app.get(f"{PREFIX}/stream", tags=["state"], response_class=EventSourceResponse,
             responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}},
                              "description": "`event: state` with the state's JSON"}})
    async def stream(request: Request) -> Any:
        """Server-sent events: the state at once and after every change; a comment every 15 s."""
        return state_stream(face, request)

    @app.api_route("/api/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                   include_in_schema=False)
    async def unknown(request: Request, rest: str) -> None:
        # A known path asked with another method lands here too (this route takes them all).
        for route in app.routes:
            if (isinstance(route, APIRoute) and route.path != "/api/{rest:path}"
                    and route.matches(request.scope)[0] == Match.PARTIAL):
                raise ApiError(405, f"{request.method} is not allowed on /api/{rest}")
        raise ApiError(404, f"no such path: /api/{rest}")

    app.mount("/", StaticFiles(directory=STATIC, html=True), name="dashboard")
    # Outermost: nothing (page, API, error) is reached without the password.
    app.add_middleware(Guard, password=password, allowed_origins=allowed_origins)
    return app
