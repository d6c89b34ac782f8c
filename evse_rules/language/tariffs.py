"""The tariff functions: `cheapest(price, 3 h, 07:00)` and `offpeak(price)`.

Both read the price series of a price input (docs/tariffs.md). The language knows no HTTP
and no clock: the series reaches the tick through the values the engine passes, in the slot
of an external of kind PRICES named like the input (the store writes the series there), and
the time through the tick's `n` (POSIX seconds) and the built-in `time` (seconds since
local midnight).

`cheapest(price, DURATION, UNTIL)` is true while now lies in the cheapest slots of the
period that ends at the next UNTIL (a local time of day) and began 24 h earlier, chosen
cheapest first until they cover DURATION (whole slots: 3 h of half-hour prices are six
slots; a slot that is partly needed counts whole). `cheapest(price, DURATION, FROM, UNTIL)`
takes the period from FROM to UNTIL instead; outside it the function is false. The choice
is made over the whole period, past hours included, so it does not move as the night
passes: a rolling choice "from now on" would pick new hours each hour and charge for far
longer than asked. Unknown (so false) when no series is known or it has no price for now.

`offpeak(price)` is true in the off-peak windows of a fixed tariff (`offpeak = [...]`) and
false in its peak hours; unknown for a market price, which has no windows.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from typing import TYPE_CHECKING, Any

from evse_rules.language import ast
from evse_rules.language.checked import Symbol, SymbolKind, type_name
from evse_rules.language.names import BOOLEAN_TYPE, NUMBER_TYPE
from evse_rules.language.program import Kind, ValueType
from evse_rules.language.units import NUMBER
from evse_rules.prices import PriceSeries

if TYPE_CHECKING:
    from evse_rules.language.checked import CheckedProgram
    from evse_rules.language.compile import _FunctionBuilder
    from evse_rules.language.types import ExpressionChecker

PRICE_FUNCTIONS = {
    "cheapest": "cheapest(price, DURATION, UNTIL) or cheapest(price, DURATION, FROM, UNTIL), "
                "like cheapest(price, 3 h, 07:00)",
    "offpeak": "offpeak(price)",
}
# The symbol of a price input's series: a name no rule can write, so it never meets one.
_PREFIX = "prices:"
_DAY = 86400.0


def series_symbol(input_name: str) -> Symbol:
    return Symbol(_PREFIX + input_name, SymbolKind.INPUT, NUMBER_TYPE)


def is_series(symbol: Symbol) -> bool:
    return symbol.name.startswith(_PREFIX)


def external_name(symbol: Symbol) -> str:
    """The name the engine knows a series by: its input's."""
    return symbol.name.removeprefix(_PREFIX)


def series_symbols(program: CheckedProgram) -> list[Symbol]:
    """The series the program reads, one per price input, in the order first read."""
    price_calls: dict[int, str] = getattr(program, "price_calls", {})
    return [series_symbol(name) for name in dict.fromkeys(price_calls.values())]


# ---- checking ----------------------------------------------------------------------------

def check_call(checker: ExpressionChecker, e: ast.Call) -> ValueType | None:
    """Check a call of `cheapest` or `offpeak`; its type (boolean), None after an error."""
    name, args = e.function, e.args
    usage = PRICE_FUNCTIONS[name]
    wanted = (1,) if name == "offpeak" else (3, 4)
    if len(args) not in wanted:
        checker.error(e.loc, f"{name} takes {' or '.join(map(str, wanted))} argument"
                      f"{'s' if wanted != (1,) else ''}: {usage}, found {len(args)}")
        for arg in args:
            checker.expr(arg)
        return None
    ok = _price_input(checker, args[0], name)
    if name == "cheapest":
        duration = args[1]
        if not isinstance(duration, ast.NumberLit):
            checker.error(duration.loc, f"cheapest takes a duration written out, like 3 h: "
                          f"{usage}")
            ok = False
        else:
            before = len(checker.errors)
            checker._duration(duration, "cheapest")
            ok = ok and len(checker.errors) == before
        for bound in args[2:]:
            vtype = checker.expr(bound)
            if not isinstance(bound, ast.TimeLit) or vtype is None \
                    or vtype.kind is not Kind.TIME:
                if vtype is not None:
                    checker.error(bound.loc, f"cheapest takes times of day written out, like "
                                  f"07:00: {usage}")
                ok = False
        if ok and len(args) == 4:
            start, end = args[2], args[3]
            assert isinstance(start, ast.TimeLit) and isinstance(end, ast.TimeLit)
            if start.seconds == end.seconds:
                checker.error(end.loc, "the period of cheapest starts when it ends: give "
                              "only the end for a whole day, like cheapest(price, 3 h, 07:00)")
                ok = False
    if not ok:
        return None
    # The built-in `time` is read: the tick computes the built-ins.
    checker.program.uses_clock = True
    first = args[0]
    assert isinstance(first, ast.Name)
    price_calls: dict[int, str] = checker.program.price_calls
    price_calls[id(e)] = first.name
    return BOOLEAN_TYPE


def _price_input(checker: ExpressionChecker, arg: ast.Expr, function: str) -> bool:
    vtype = checker.expr(arg)
    if vtype is None:
        return False
    symbol = checker.program.symbols.get(id(arg)) if isinstance(arg, ast.Name) else None
    if symbol is None or symbol.kind is not SymbolKind.INPUT:
        checker.error(arg.loc, f"{function} reads the series of a price input, like "
                      f"{function}(price, ...): give the input's name")
        return False
    prices: frozenset[str] | None = getattr(getattr(checker, "env", None), "prices", None)
    if prices is not None and symbol.name not in prices:
        known = ", ".join(sorted(prices)) or "none; add [inputs.price] kind = \"prices\""
        checker.error(arg.loc, f"{symbol.name} is not a price input (price inputs: {known})")
        return False
    if vtype.kind is not Kind.NUMBER or vtype.dimension != NUMBER:
        checker.error(arg.loc, f"a price is a plain number (per kWh), {symbol.name} is "
                      f"{type_name(vtype)}")
        return False
    return True


# ---- compiling ---------------------------------------------------------------------------

def call_code(fb: _FunctionBuilder, e: ast.Call) -> tuple[str, bool]:
    """Code for a checked call of a price function: hoisted, computed once per evaluation."""
    gen = fb.gen
    first = e.args[0]
    assert isinstance(first, ast.Name)
    series = fb.local(gen.slots[series_symbol(first.name).name])
    if e.function == "offpeak":
        obj = fb.bind(gen.state(Offpeak()))
        return fb._computed_once(e, fb._hoist(f"{obj}(n, {series})"), True)
    duration = e.args[1]
    assert isinstance(duration, ast.NumberLit)
    bounds = [arg.seconds for arg in e.args[2:] if isinstance(arg, ast.TimeLit)]
    time_of_day = ast.Name(e.loc, "time")
    gen.checked.symbols[id(time_of_day)] = gen.time_symbol
    gen.keep.append(time_of_day)
    clock, _ = fb.value(time_of_day)
    start = bounds[0] if len(bounds) == 2 else None
    obj = fb.bind(gen.state(Cheapest(duration.value, start, bounds[-1])))
    return fb._computed_once(e, fb._hoist(f"{obj}(n, {clock}, {series})"), True)


# ---- running -----------------------------------------------------------------------------

class _Stamps:
    """A series as POSIX seconds (start, end, price, label), made once per series."""

    __slots__ = ("series", "slots", "starts")

    def __init__(self) -> None:
        self.series: Any = None
        self.slots: list[tuple[float, float, float, str | None]] = []
        self.starts: list[float] = []

    def of(self, series: PriceSeries) -> bool:
        """Take `series` (True when it is another than the last one)."""
        if series is self.series:
            return False
        self.series = series
        self.slots = [(s.start.timestamp(), s.end.timestamp(), s.price, s.label)
                      for s in series.slots]
        self.starts = [slot[0] for slot in self.slots]
        return True

    def at(self, n: float) -> tuple[float, float, float, str | None] | None:
        i = bisect_right(self.starts, n) - 1
        if i >= 0 and n < self.slots[i][1]:
            return self.slots[i]
        return None


class Cheapest:
    """`cheapest(price, DURATION, [FROM,] UNTIL)` at each evaluation (see the module)."""

    __slots__ = ("chosen", "duration", "end", "span", "stamps", "until")

    def __init__(self, duration: float, start: float | None, until: float) -> None:
        self.duration = duration
        self.until = until
        self.span = _DAY if start is None else ((until - start) % _DAY or _DAY)
        self.stamps = _Stamps()
        self.end = math.nan                 # the period the choice was made for
        self.chosen: list[tuple[float, float]] = []

    def __call__(self, n: float, time_of_day: float | None,
                 series: object) -> bool | None:
        if series.__class__ is not PriceSeries or time_of_day is None:
            return None
        assert isinstance(series, PriceSeries)
        fresh = self.stamps.of(series)
        now_slot = self.stamps.at(n)
        if now_slot is None:
            return None
        # The next UNTIL after now: local midnight (n - time) plus UNTIL, a day later when
        # UNTIL is not after now. Rounded to the millisecond: the same period at each tick.
        ahead = (self.until - time_of_day) % _DAY or _DAY
        end = round(n + ahead, 3)
        start = end - self.span
        if n < start:
            return False
        if fresh or end != self.end:
            self.end = end
            self.chosen = self._choose(start, end)
        return any(low <= n < high for low, high in self.chosen)

    def _choose(self, start: float, end: float) -> list[tuple[float, float]]:
        cut = [(max(s0, start), min(s1, end), price)
               for s0, s1, price, _ in self.stamps.slots if s1 > start and s0 < end]
        cut.sort(key=lambda slot: (slot[2], slot[0]))
        chosen: list[tuple[float, float]] = []
        covered = 0.0
        for low, high, _ in cut:
            if covered >= self.duration - 1e-6:
                break
            chosen.append((low, high))
            covered += high - low
        return chosen

    def reset(self) -> None:
        self.stamps = _Stamps()
        self.end = math.nan
        self.chosen = []


class Offpeak:
    """`offpeak(price)`: whether now's slot is an off-peak window of a fixed tariff."""

    __slots__ = ("stamps",)

    def __init__(self) -> None:
        self.stamps = _Stamps()

    def __call__(self, n: float, series: object) -> bool | None:
        if series.__class__ is not PriceSeries:
            return None
        assert isinstance(series, PriceSeries)
        self.stamps.of(series)
        slot = self.stamps.at(n)
        if slot is None or slot[3] is None:
            return None
        return slot[3] == "offpeak"

    def reset(self) -> None:
        self.stamps = _Stamps()
