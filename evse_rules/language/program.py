"""The contract between the language and the engine.

The language turns rule files into a `Program`; the engine feeds it one tick at a time and
gets back `ProposedAction`s. This module holds only the data types both sides share. The
engine never looks inside a program, and the language knows nothing of chargers, HTTP or
clocks: it receives `now` and the values of the names it reads, nothing else.

Values are canonical (see `units`): floats in A, V, W, J, s, %; booleans; strings for text
and enumerations. `None` means unknown (never received, or stale): arithmetic on an unknown
is unknown, a comparison with an unknown is unknown, and a condition that is unknown is
false, so a stale input can never make a rule fire (and breaks `for`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import NamedTuple, Protocol, runtime_checkable

from evse_rules.language.units import NUMBER, Dimension

Value = float | bool | str | None


class Kind(str, Enum):  # noqa: UP042 (kept: the engine relies on str, Enum)
    NUMBER = "number"        # a quantity; see ValueType.dimension
    BOOLEAN = "boolean"
    TEXT = "text"
    ENUM = "enum"            # one of ValueType.choices
    TIME = "time"            # a time of day, in seconds since midnight


@dataclass(frozen=True, slots=True)
class ValueType:
    kind: Kind
    dimension: Dimension = NUMBER
    choices: tuple[str, ...] = ()

    def __str__(self) -> str:
        if self.kind is Kind.NUMBER:
            return self.dimension.name
        if self.kind is Kind.ENUM:
            return "one of " + ", ".join(self.choices)
        return str(self.kind.value)


# The charger states and modes as rules name them (DESIGN.md section 5).
CHARGER_STATES = (
    "starting", "not_connected", "connected", "charging", "sleeping", "disabled", "error",
    "offline",
)
MODES = ("auto", "manual")


@dataclass(frozen=True, slots=True)
class Environment:
    """What the checker knows besides the rule files: the config's inputs and chargers.

    Without a config the environment is one charger named `evse` and no inputs (the files
    then declare the inputs they read with `input NAME: UNIT`, and may declare other
    chargers with `charger NAME, ...`). With a config (`chargers_from_config`), the chargers
    are the config's and a file's `charger` declaration must name one of them.
    """

    inputs: dict[str, ValueType] = field(default_factory=dict)
    chargers: tuple[str, ...] = ("evse",)
    chargers_from_config: bool = False
    # Per charger, the current a rule may set: (min_amps, max_amps) of the config; a charger
    # not listed has 6..32 A. A constant current outside is an error at check time.
    limits: dict[str, tuple[float, float]] = field(default_factory=dict)
    # Where each input comes from, as messages name it ("[inputs.pv] of the config",
    # "column pv of day.csv"); an input not listed comes from "the config".
    origins: dict[str, str] = field(default_factory=dict)
    # Inputs whose type the files may give (`input pv: W`, `input cheap: boolean`): a CSV
    # column without a unit, whose numbers take the unit the file declares.
    open_types: frozenset[str] = frozenset()
    # The inputs that carry a price series (`[inputs.NAME] kind = "prices"`, a replay's
    # price column), which `cheapest` and `offpeak` read; None: not known (no config), any
    # number input may.
    prices: frozenset[str] | None = None


class ExternalKind(str, Enum):  # noqa: UP042 (kept: the engine relies on str, Enum)
    INPUT = "input"          # an external input (config, `input` declaration, CSV column)
    CHARGER = "charger"      # a charger property, name is "CHARGER.PROPERTY"
    VARIABLE = "variable"    # a user variable (`var`), owned and persisted by the engine
    # The price series of a price input (name: the input's); its value is a
    # `evse_rules.prices.PriceSeries`, read only by the price functions (cheapest, offpeak).
    PRICES = "prices"


@dataclass(frozen=True, slots=True)
class External:
    """A name the program reads from outside, with its qualified name and type.

    Charger properties are always qualified ("garage.state"), even when a rule file wrote
    the bare name. `mode` is a charger property ("garage.mode") held by the engine.
    """

    name: str
    kind: ExternalKind
    type: ValueType


@dataclass(frozen=True, slots=True)
class VariableDecl:
    name: str
    type: ValueType
    default: Value


@dataclass(frozen=True, slots=True)
class RuleRef:
    """A statement of a rule file: where it stands and what it says."""

    index: int               # position among all statements of the program, in file order
    file: str
    line: int
    col: int
    text: str                # the statement's first source line, stripped
    # The blocks it stands in, outermost first, as people read them ("between 22:00 and
    # 06:00 (off_peak.evr:12)"); None for a statement outside any block.
    block: str | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"

    @property
    def described(self) -> str:
        """The statement's text with the blocks it stands in, as the trace shows it."""
        return f"{self.text} [in {self.block}]" if self.block else self.text


class ActionKind(str, Enum):  # noqa: UP042 (kept: the engine relies on str, Enum)
    START = "start"
    STOP = "stop"
    SET_AMPS = "set_amps"
    SET_MODE = "set_mode"
    SET_VAR = "set_var"
    LOG = "log"
    PLAN = "plan"            # a charge plan (value: the energy, or None to cancel)


# A plan asks for more than 0 and at most this much energy (a rule's constant is checked
# against it, a person's plan and a rule's computed energy by the engine).
MAX_PLAN_KWH = 1000.0


Formatter = Callable[[Value], str]
"""How a value of one type is shown to people: `2300 W`, `true`, `12:00`, `unknown`."""


def shown_values(shown: tuple[tuple[str, str], ...],
                 reads: tuple[tuple[str, Formatter], ...],
                 raw: tuple[Value, ...]) -> tuple[tuple[str, str], ...]:
    """The decisive values as text: `shown` when they were formatted already, else each raw
    value through its formatter (done only when a journal, trace or `why` asks)."""
    if not reads:
        return shown
    return tuple([(label, show(value)) for (label, show), value in zip(reads, raw,
                                                                       strict=True)])


class _ProposedActionFields(NamedTuple):
    kind: ActionKind
    rule: RuleRef
    charger: str | None
    name: str | None
    value: Value
    shown: tuple[tuple[str, str], ...]
    reads: tuple[tuple[str, Formatter], ...]
    raw: tuple[Value, ...]
    safety: bool
    deadline: float | None


class ProposedAction(_ProposedActionFields):
    """What a rule asks for in one tick, before the engine's arbitration and guards.

    `charger` is the charger's config name for start, stop, set_amps and set_mode; `name` is
    the variable for set_var; `value` is amperes (set_amps), "auto"/"manual" (set_mode), the
    variable's new value (set_var), the interpolated message (log) or a plan's energy in
    joules (plan; None for `cancel plan`), whose `deadline` is a time of day in seconds since
    local midnight. `values` are the names the deciding condition read, with their values
    shown as a person reads them.

    A program gives those values raw: `reads` names them with their formatters and `raw`
    holds their values at this tick, and `values` formats them only when asked (the journal,
    a trace, "why"); a year-long replay never does. A caller that has the text already gives
    `values=` instead. A named tuple, not a frozen dataclass: most ticks propose something,
    and a tuple is the cheapest immutable record to build.

    `safety` marks a safety stop (`stop now`): it wins over any start for its charger in
    the same tick and no contactor guard (min_on) holds it back.
    """

    __slots__ = ()

    def __new__(
        cls, kind: ActionKind, rule: RuleRef, charger: str | None = None,
        name: str | None = None, value: Value = None,
        values: tuple[tuple[str, str], ...] = (),
        reads: tuple[tuple[str, Formatter], ...] = (), raw: tuple[Value, ...] = (),
        safety: bool = False, deadline: float | None = None,
    ) -> ProposedAction:
        if len(reads) != len(raw):
            raise ValueError(f"{len(reads)} names read but {len(raw)} raw values")
        return tuple.__new__(cls, (kind, rule, charger, name, value, values, reads, raw,
                                   safety, deadline))

    @property
    def values(self) -> tuple[tuple[str, str], ...]:
        """The names the deciding condition read, with their values as text."""
        return shown_values(self.shown, self.reads, self.raw)

    @property
    def target(self) -> tuple[str, str]:
        """What the action competes for: the last proposal per target in one tick wins."""
        if self.kind in (ActionKind.START, ActionKind.STOP):
            return ("run", self.charger or "")
        if self.kind is ActionKind.SET_AMPS:
            return ("amps", self.charger or "")
        if self.kind is ActionKind.SET_MODE:
            return ("mode", self.charger or "")
        if self.kind is ActionKind.SET_VAR:
            return ("var", self.name or "")
        if self.kind is ActionKind.PLAN:
            return ("plan", self.charger or "")
        return ("log", str(self.rule.index))

    def __repr__(self) -> str:
        return (f"ProposedAction(kind={self.kind!r}, rule={self.rule!r}, "
                f"charger={self.charger!r}, name={self.name!r}, value={self.value!r}, "
                f"values={self.values!r}"
                + (", safety=True" if self.safety else "")
                + ("" if self.deadline is None else f", deadline={self.deadline!r}") + ")")


@dataclass(frozen=True, slots=True)
class Waiting:
    """A statement whose `for` clock runs: it acts in `seconds_left` if its condition holds
    that long (the dashboard's countdown)."""

    rule: RuleRef
    actions: tuple[ActionKind, ...]
    charger: str | None
    seconds_left: float


class _TickResultFields(NamedTuple):
    actions: list[ProposedAction]
    fired: list[RuleRef]
    given_lets: dict[str, Value] | None
    let_names: tuple[str, ...]
    let_values: tuple[Value, ...]


class TickResult(_TickResultFields):
    """The outcome of one tick: proposals in file order, the rules that fired, `let` values.

    `lets` is a dict built when read. A program gives the names once (`let_names`, shared
    by every tick) and this tick's values as a tuple (`let_values`), so that a tick nobody
    looks at builds no dict; a caller that has a dict gives `lets` instead. A named tuple:
    one is built per tick, and a tuple is the cheapest record to build.
    """

    __slots__ = ()

    def __new__(
        cls, actions: list[ProposedAction], fired: list[RuleRef],
        lets: dict[str, Value] | None = None, let_names: tuple[str, ...] = (),
        let_values: tuple[Value, ...] = (),
    ) -> TickResult:
        if len(let_names) != len(let_values):
            raise ValueError(f"{len(let_names)} let names but {len(let_values)} values")
        return tuple.__new__(cls, (actions, fired, lets, let_names, let_values))

    @property
    def lets(self) -> dict[str, Value]:
        """The `let` values by name (a new dict at each read when built from the tuple)."""
        lets = self.given_lets
        if lets is None:
            return dict(zip(self.let_names, self.let_values, strict=True))
        return lets

    def __repr__(self) -> str:
        return f"TickResult(actions={self.actions!r}, fired={self.fired!r}, lets={self.lets!r})"


class Program(Protocol):
    """A checked, compiled set of rule files. Built by `evse_rules.language.load_program`."""

    @property
    def externals(self) -> tuple[External, ...]:
        """The names read, in the order `tick` expects their values."""
        ...

    @property
    def variables(self) -> tuple[VariableDecl, ...]: ...

    @property
    def rules(self) -> tuple[RuleRef, ...]: ...

    @property
    def files(self) -> tuple[str, ...]: ...

    def tick(self, now: datetime, values: list[Value]) -> TickResult:
        """Evaluate the statements whose trigger is due at `now` (timezone-aware).

        `values[i]` is the value of `externals[i]`, None when unknown or stale. Triggers,
        `for` and time-window aggregates keep their state in the program between ticks;
        `now` must not go backwards (call `reset` first to start again).
        """
        ...

    def reset(self) -> None:
        """Forget all state kept between ticks: the next tick is a first tick (`on start`)."""
        ...


@runtime_checkable
class TimedProgram(Program, Protocol):
    """A program that can also be given the tick's time in POSIX seconds.

    Converting an aware datetime to seconds costs about as much as a small rule; a caller
    that steps a clock of its own (a replay) has the seconds at hand. The engine uses
    `tick_at` when the program has it and the caller gave the seconds.
    """

    def tick_at(self, now: datetime, timestamp: float, values: list[Value]) -> TickResult:
        """`tick(now, values)`, with `timestamp` equal to `now.timestamp()`. A caller that
        builds `values` for the program's externals (the engine) need not have their number
        checked at every tick: this may leave it to indexing."""
        ...
