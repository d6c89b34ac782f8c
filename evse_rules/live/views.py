"""What the running engine shows its faces (the API, the dashboard, MQTT) and what they may ask.

The faces never reach into the engine: they read these views and hand every command to
`EngineFace.command`, the one command path (the same checks, clamping and journal entry
whatever the source). Values are in display units (A, V, W, Wh, degC), never canonical J.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

HandAction = Literal["start", "stop", "amps", "mode", "set", "release", "plan", "cancel_plan"]
Source = Literal["dashboard", "api", "cli", "mqtt", "replay"]


@dataclass(frozen=True, slots=True)
class Countdown:
    """A start or stop the rules are waiting for ("starting in 40 s if the surplus holds")."""

    action: Literal["start", "stop"]
    seconds: float
    text: str


@dataclass(frozen=True, slots=True)
class PlanSlotView:
    """A stretch of a charge plan at full power."""

    start: datetime
    end: datetime
    price: float | None            # per kWh; None where no price is known
    energy_kwh: float              # expected into the car


@dataclass(frozen=True, slots=True)
class PlanView:
    """A charger's charge plan ("20 kWh by 07:00"), as `why` and the tile show it."""

    energy_kwh: float              # wanted since the plan began
    deadline: datetime
    began: datetime
    source: str                    # who set it: dashboard, api, cli, mqtt, replay
    charged_kwh: float             # since it began
    slots: list[PlanSlotView]      # still ahead (or running), in time order
    expected_kwh: float | None     # what the slots are expected to deliver (None: not planned)
    cost: float | None             # of the grid energy, in the prices' currency
    can_meet: bool | None          # False: it cannot be met, it charges at full power
    state: str                     # "waiting: next slot 02:00-03:00, 0.21/kWh; ..."
    text: str                      # the plan in a few lines, as `why` says it


@dataclass(frozen=True, slots=True)
class ChargerView:
    """One charger's tile."""

    name: str
    mode: Literal["auto", "manual"]
    online: bool
    state: str                     # starting, not_connected, connected, charging, sleeping, ...
    state_text: str                # in words: "Sleeping (not charging)"
    vehicle: bool | None
    charging: bool
    enabled: bool | None           # allowed to charge (what was last asked, else the state)
    current: float | None          # A, measured
    amps: float | None             # A, the pilot
    setpoint: float | None         # A, the last current the engine sent
    voltage: float | None          # V
    power: float | None            # W
    session_energy: float | None   # Wh
    temp: float | None             # degC
    min_amps: int                  # the slider's range: config limits within the hard ones
    max_amps: int
    error: str | None              # why it is offline or in error
    why: str                       # one line in words
    countdown: Countdown | None
    block: str | None              # the trigger block that decided last ("at 22:00"), if any
    updated: datetime | None       # when the status was read
    plan: PlanView | None = None   # its charge plan, if one is set


@dataclass(frozen=True, slots=True)
class InputView:
    name: str
    value: float | str | bool | None
    unit: str | None               # the display unit of `value` ("W"), None for text/boolean
    display: str                   # "1.4 kW", "unknown"
    age_seconds: float | None      # since the source last gave a value
    stale: bool


@dataclass(frozen=True, slots=True)
class VariableView:
    name: str
    type: Literal["text", "number", "boolean"]
    unit: str | None               # display unit of a number ("kWh"), None otherwise
    value: float | str | bool | None
    display: str


@dataclass(frozen=True, slots=True)
class RulesView:
    files: list[str]
    error: str | None              # while the rule files have errors (no rules run)


@dataclass(frozen=True, slots=True)
class EngineView:
    """The whole state, as `GET /api/v1/state` returns it and the stream pushes it."""

    version: str
    now: datetime
    tick_seconds: float
    last_tick: datetime | None
    next_tick: datetime | None
    rules: RulesView
    chargers: list[ChargerView]
    inputs: list[InputView]
    variables: list[VariableView]
    site: SiteView | None = None   # the supply the chargers share, with a [site] table


@dataclass(frozen=True, slots=True)
class SiteView:
    """The site limit at the last tick (docs/site.md)."""

    max_amps: float | None         # per phase
    max_power: float | None        # W
    house_w: float | None          # the load besides the chargers; None: meter silent
    room_amps: float | None        # what the chargers had together (tightest phase)
    room_w: float | None
    fallback: bool                 # the meter has been silent too long: fallback_amps apply
    paused: list[str]              # chargers the site stopped, started again when they fit
    text: str                      # the figures in words


@dataclass(frozen=True, slots=True)
class JournalLine:
    at: datetime
    kind: str                      # command, failed, held, event, hand, mode, set, log
    charger: str | None
    text: str
    source: str | None             # dashboard, api, cli, mqtt for hand commands; rule; daemon


@dataclass(frozen=True, slots=True)
class Series:
    name: str                      # "pv", "house", "garage.power", "garage.amps"
    unit: str | None
    points: list[tuple[float, float | None]]    # (epoch milliseconds, value)


@dataclass(frozen=True, slots=True)
class HandCommand:
    """A person's press, from any face.

    `value`: amps -> a number of amperes; mode -> "auto" | "manual"; set -> the variable's
    value (a number in its display unit, a text with a unit such as "20 kWh", a boolean or a
    text); start, stop, release, cancel_plan -> None; plan -> "20 kWh by 07:00". `target` is
    the charger, or the variable for `set`.
    """

    action: HandAction
    target: str
    value: float | str | bool | None
    source: Source


@dataclass(frozen=True, slots=True)
class CommandOutcome:
    """What the engine did with a hand command. `ok` False: refused, nothing was changed."""

    ok: bool
    message: str                   # "stop sent", "refused: 40 A is above max_amps 32 A"
    status: int = 200              # the HTTP status a face should answer (400, 404, 409...)
    sent: list[str] = field(default_factory=list)    # the commands sent, in words


class CommandRefused(Exception):
    """A hand command that cannot be taken; `status` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class EngineFace(Protocol):
    """What the running engine offers its faces."""

    def view(self) -> EngineView:
        """The state now (cheap: built from the store, no I/O)."""
        ...

    def journal(self, limit: int = 50, charger: str | None = None) -> list[JournalLine]:
        """The latest journal lines, newest first."""
        ...

    def series(self, hours: float = 24.0) -> list[Series]:
        """The inputs' and chargers' samples of the last `hours`, for the chart."""
        ...

    def why(self, charger: str) -> str:
        """`evse-rules why CHARGER`'s text."""
        ...

    async def command(self, command: HandCommand) -> CommandOutcome:
        """Carry out a hand command at once, through the engine's one command path."""
        ...

    async def changes(self, since: int | None = None) -> int:
        """Wait for the next change (a tick, a command) and return its sequence number; with
        `since` (a number this returned before), return at once if a change came after it,
        so that a change made while the caller was busy is never missed."""
        ...


class Service(Protocol):
    """A face that runs beside the engine (the HTTP API, MQTT): started after the engine
    has started, stopped before it stops. `start` raises when it cannot run (a port in use):
    the engine then runs without it and journals why."""

    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...
