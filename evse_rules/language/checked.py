"""What the checker finds out, for the compiler: symbols, resolved actions and triggers,
the type of every expression; and the phrases its error messages share."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from evse_rules.errors import Location, SourceError
from evse_rules.language import ast
from evse_rules.language.program import ActionKind, Kind, Value, ValueType
from evse_rules.language.units import DISPLAY_UNITS, NUMBER


class SymbolKind(StrEnum):
    INPUT = "input"
    CHARGER = "charger property"
    VARIABLE = "variable"
    LET = "let"
    BUILTIN = "built-in"


@dataclass(frozen=True, slots=True)
class Symbol:
    """A name a rule can read. Charger properties are qualified: "garage.power"."""

    name: str
    kind: SymbolKind
    type: ValueType
    decl: Location | None = None


class RuleWarning(SourceError):
    """Dubious but legal code: shown with its place like an error, and the file still runs
    (`evse-rules check` exits 0)."""

    def render(self) -> str:
        return super().render().replace(": error: ", ": warning: ", 1)


@dataclass(frozen=True, slots=True)
class CheckedAction:
    """An action with its charger and target resolved."""

    kind: ActionKind
    loc: Location
    charger: str | None = None
    variable: Symbol | None = None
    value: ast.Expr | None = None          # set amps / set VAR
    mode: str | None = None                # set mode
    parts: tuple[str | ast.Expr, ...] = ()  # log
    safety: bool = False                   # `stop now`: no contactor guard holds it back
    deadline: ast.Expr | None = None       # plan: the time of day (`value` is the energy)


@dataclass(frozen=True, slots=True)
class CheckedStatement:
    statement: ast.Statement
    block: int | None                      # index into CheckedProgram.triggers; None: every tick
    then: tuple[CheckedAction, ...]
    otherwise: tuple[CheckedAction, ...]
    guards: tuple[int, ...] = ()           # indices into CheckedProgram.guards, outermost first
    label: str | None = None               # the blocks it stands in, as the trace shows them


@dataclass(frozen=True, slots=True)
class CheckedGuard:
    """A condition block (`if`, `while`, `between`): its statements run while it holds."""

    guard: ast.Guard


@dataclass(frozen=True, slots=True)
class CheckedTrigger:
    trigger: ast.Trigger
    days: tuple[int, ...] = ()             # `at ... on`: weekday numbers (0 = Monday)
    symbol: Symbol | None = None           # `on change of` a name


@dataclass(slots=True)
class CheckedProgram:
    files: tuple[ast.RuleFile, ...]
    chargers: tuple[str, ...]
    inputs: list[Symbol] = field(default_factory=list)
    variables: list[tuple[Symbol, Value]] = field(default_factory=list)
    lets: list[tuple[Symbol, ast.Expr]] = field(default_factory=list)
    triggers: list[CheckedTrigger] = field(default_factory=list)
    guards: list[CheckedGuard] = field(default_factory=list)
    # id(Is or In) -> the choices it accepts (`weekday is weekend`, `weekday in (sat, sun)`)
    sets: dict[int, tuple[str, ...]] = field(default_factory=dict)
    warnings: list[SourceError] = field(default_factory=list)
    units: dict[str, str] = field(default_factory=dict)     # input -> the type a file wrote
    uses_clock: bool = False               # a rule reads the local date (today)

    @property
    def statement_count(self) -> int:
        """Statements and declarations, as `evse-rules check` counts them."""
        return len(self.statements) + self.declarations
    statements: list[CheckedStatement] = field(default_factory=list)
    # Keyed by id() of AST nodes (the nodes live as long as `files`).
    types: dict[int, ValueType] = field(default_factory=dict)
    symbols: dict[int, Symbol] = field(default_factory=dict)
    windows: dict[int, str] = field(default_factory=dict)   # id(Call) -> avg / min / max
    # id(Call) of cheapest / offpeak -> the price input whose series it reads (tariffs.py)
    price_calls: dict[int, str] = field(default_factory=dict)
    charger_symbols: list[Symbol] = field(default_factory=list)
    declarations: int = 0



def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """"; did you mean X?" for the closest candidate (case does not count), or ""."""
    by_lower = {c.lower(): c for c in candidates}
    close = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.6)
    return f"; did you mean {by_lower[close[0]]}?" if close else ""


def choices(values: Sequence[str]) -> str:
    if len(values) <= 1:
        return "".join(values)
    return ", ".join(values[:-1]) + " or " + values[-1]


def type_name(vtype: ValueType) -> str:
    if vtype.kind is Kind.NUMBER:
        return vtype.dimension.name
    if vtype.kind is Kind.ENUM:
        return "a choice of " + ", ".join(vtype.choices)
    if vtype.kind is Kind.TIME:
        return "a time of day"
    return str(vtype.kind.value)


def is_zero(expr: ast.Expr) -> bool:
    return isinstance(expr, ast.NumberLit) and expr.value == 0 and expr.unit is None



def unit_hint(wanted: ValueType, expr: ast.Expr) -> str:
    """For a bare number where a quantity was wanted: say how to write it."""
    if wanted.kind is not Kind.NUMBER or wanted.dimension == NUMBER:
        return ""
    if isinstance(expr, ast.NumberLit) and expr.unit is None:
        unit = DISPLAY_UNITS.get(wanted.dimension)
        if unit is None:
            return ""
        return f"; write {expr.text} {unit.symbol}" if unit.symbol != "%" else \
            f"; write {expr.text}%"
    return ""


def article(kind: SymbolKind) -> str:
    return {"input": "an input", "let": "a let", "built-in": "a built-in",
            "charger property": "a charger property", "variable": "a variable"}[kind.value]
