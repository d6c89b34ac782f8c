"""The syntax tree of a rule file: frozen dataclasses, each carrying its source span.

The parser builds these nodes and nothing else; the checker reads them and never changes
them. Quantities are already in canonical units (see `units`): `1.4 kW` is held as 1400 W.
"""

from __future__ import annotations

from dataclasses import dataclass

from evse_rules.errors import Location
from evse_rules.language.units import Dimension


@dataclass(frozen=True, slots=True)
class Ident:
    """A bare identifier where the grammar expects one (declared names, weekdays, chargers)."""

    loc: Location
    name: str


# ---- expressions --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NumberLit:
    """`1400 W`, `5min`, `80%`, `3`. `dimension` is None when `unit` is not a known unit."""

    loc: Location
    value: float
    dimension: Dimension | None
    unit: str | None
    text: str


@dataclass(frozen=True, slots=True)
class TimeLit:
    """A time of day, `22:00`, in seconds since midnight (`valid` is False for 25:99)."""

    loc: Location
    seconds: float
    text: str
    valid: bool


@dataclass(frozen=True, slots=True)
class TextLit:
    loc: Location
    value: str


@dataclass(frozen=True, slots=True)
class BoolLit:
    loc: Location
    value: bool


@dataclass(frozen=True, slots=True)
class Name:
    """`pv`, or `garage.power` (qualifier "garage", name "power")."""

    loc: Location
    name: str
    qualifier: str | None = None

    @property
    def text(self) -> str:
        return f"{self.qualifier}.{self.name}" if self.qualifier else self.name


@dataclass(frozen=True, slots=True)
class Unary:
    """`-x` (op "-") or `not x` (op "not")."""

    loc: Location
    op: str
    operand: Expr


@dataclass(frozen=True, slots=True)
class Binary:
    """Arithmetic (+ - * /), comparison (< <= > >= == !=) or logic (and, or)."""

    loc: Location
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Is:
    """`mode is auto`, `state is not charging`, `tariff is "HC"` (`text` True for a string)."""

    loc: Location
    subject: Expr
    value: str
    value_loc: Location
    negated: bool
    text: bool


@dataclass(frozen=True, slots=True)
class Between:
    """`x between a and b`; `subject` None means the local time of day."""

    loc: Location
    subject: Expr | None
    low: Expr
    high: Expr


@dataclass(frozen=True, slots=True)
class Call:
    """A function call: min, max, clamp, round, floor, ceil, abs, known, avg (and windowed
    min/max, decided by the checker)."""

    loc: Location
    function: str
    function_loc: Location
    args: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Smooth:
    """`smooth(x, rise 20 s, fall 10 min)`: exponential smoothing, two time constants."""

    loc: Location
    subject: Expr
    rise: NumberLit
    fall: NumberLit


@dataclass(frozen=True, slots=True)
class For:
    """`COND for 3 min`: COND has held at every evaluation for at least the duration."""

    loc: Location
    condition: Expr
    duration: NumberLit


@dataclass(frozen=True, slots=True)
class Cond:
    """`A if C else B`: A when C is true, B when it is false, unknown when C is unknown."""

    loc: Location
    condition: Expr
    then: Expr
    otherwise: Expr


@dataclass(frozen=True, slots=True)
class In:
    """`weekday in (sat, sun)`: the subject is one of the listed choices."""

    loc: Location
    subject: Expr
    values: tuple[Ident, ...]


@dataclass(frozen=True, slots=True)
class Until:
    """`time until 07:00`: the duration from the time of day to the next given one."""

    loc: Location
    subject: Name
    target: Expr


@dataclass(frozen=True, slots=True)
class Template:
    """`"charging at {amps}"`: a text with values interpolated, in order."""

    loc: Location
    parts: tuple[str | Expr, ...]


Expr = NumberLit | TimeLit | TextLit | BoolLit | Name | Unary | Binary | Is | Between | Call \
    | Smooth | For | Cond | In | Until | Template


# ---- actions --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunAction:
    """`start` / `stop`, optionally naming the charger; `stop now` is a safety stop."""

    loc: Location
    start: bool
    charger: Ident | None
    safety: bool = False


@dataclass(frozen=True, slots=True)
class SetAction:
    """`set TARGET to EXPR`; `set amps of garage to`, `set garage.amps to` give a charger."""

    loc: Location
    target: Ident
    charger: Ident | None
    value: Expr


@dataclass(frozen=True, slots=True)
class LogAction:
    """`log "pv is {pv}"`: literal text and interpolated expressions, in order."""

    loc: Location
    parts: tuple[str | Expr, ...]


@dataclass(frozen=True, slots=True)
class PlanAction:
    """`plan 20 kWh by 07:00` (`plan garage 20 kWh by 07:00`): a charge plan asked by a
    rule; `cancel plan` (`cancel plan garage`) has neither energy nor deadline."""

    loc: Location
    charger: Ident | None
    energy: Expr | None
    deadline: Expr | None


Action = RunAction | SetAction | LogAction | PlanAction


# ---- statements, declarations, blocks -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IfStmt:
    loc: Location
    condition: Expr
    then: tuple[Action, ...]
    otherwise: tuple[Action, ...]


@dataclass(frozen=True, slots=True)
class DoStmt:
    """Actions without a condition (they run whenever their trigger fires)."""

    loc: Location
    actions: tuple[Action, ...]


Statement = IfStmt | DoStmt


@dataclass(frozen=True, slots=True)
class TypeSpec:
    """What follows `input NAME:` or `var NAME:`: a unit symbol, number, boolean or text."""

    loc: Location
    text: str


@dataclass(frozen=True, slots=True)
class InputDecl:
    loc: Location
    name: Ident
    type: TypeSpec


@dataclass(frozen=True, slots=True)
class LetDecl:
    loc: Location
    name: Ident
    expr: Expr


@dataclass(frozen=True, slots=True)
class VarDecl:
    loc: Location
    name: Ident
    type: TypeSpec
    default: Expr


@dataclass(frozen=True, slots=True)
class ChargerDecl:
    """`charger garage, carport`: the chargers a file expects."""

    loc: Location
    names: tuple[Ident, ...]


@dataclass(frozen=True, slots=True)
class ShareDecl:
    """`share pv - house among garage, carport`: one power shared by the chargers, in the
    order listed (the first has first claim); each reads its part as `garage.share`."""

    loc: Location
    expr: Expr
    chargers: tuple[Ident, ...]


Declaration = InputDecl | LetDecl | VarDecl | ChargerDecl | ShareDecl


@dataclass(frozen=True, slots=True)
class Every:
    loc: Location
    period: NumberLit


@dataclass(frozen=True, slots=True)
class At:
    loc: Location
    time: TimeLit
    days: tuple[Ident, ...]


@dataclass(frozen=True, slots=True)
class Cron:
    loc: Location
    expression: str
    expression_loc: Location


@dataclass(frozen=True, slots=True)
class OnChange:
    """`on change of x`: `subject` is a name or any expression (`known(pv)`)."""

    loc: Location
    subject: Expr


@dataclass(frozen=True, slots=True)
class OnStart:
    loc: Location


@dataclass(frozen=True, slots=True)
class When:
    """`when COND:`: fires once each time COND becomes true (a rising edge)."""

    loc: Location
    condition: Expr


Trigger = Every | At | Cron | OnChange | OnStart | When


@dataclass(frozen=True, slots=True)
class Guard:
    """A condition block: `if COND:`, `while COND:` or `between 22:00 and 06:00:` (whose
    condition is a time Between). Its statements run while the condition holds."""

    loc: Location
    word: str                  # "if", "while" or "between"
    condition: Expr


@dataclass(frozen=True, slots=True)
class Block:
    """A trigger or condition block and what it holds: statements and nested blocks."""

    loc: Location
    trigger: Trigger | Guard
    statements: tuple[Statement | Block, ...]


Item = Declaration | Statement | Block


@dataclass(frozen=True, slots=True)
class RuleFile:
    """A parsed file: its items in order and its source lines (for error carets)."""

    path: str
    items: tuple[Item, ...]
    lines: tuple[str, ...]
