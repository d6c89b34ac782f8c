"""Type checking of expressions: names, units and dimensions, conditions, functions.

`ExpressionChecker` is the half of the checker that reads expressions; `check.Checker`
adds declarations, triggers and actions. Each expression's type is recorded for the
compiler; an expression whose type cannot be found has type None and is not complained
about again (no cascades).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence

from evse_rules.errors import Location, SourceError
from evse_rules.language import ast
from evse_rules.language.checked import (
    CheckedProgram,
    Symbol,
    SymbolKind,
    choices,
    did_you_mean,
    is_zero,
    type_name,
    unit_hint,
)
from evse_rules.language.names import (
    BOOLEAN_TYPE,
    BUILTINS,
    CHARGER_PROPERTIES,
    DAY_NAMES,
    FUNCTIONS,
    TEXT_TYPE,
    TIME_TYPE,
    WEEKDAYS,
)
from evse_rules.language.program import Kind, ValueType
from evse_rules.language.share import SHARE_PROPERTIES
from evse_rules.language.units import DURATION, NUMBER, UNITS, Dimension

_ORDERING = ("<", "<=", ">", ">=")
# Deeper expressions are refused: nobody writes them, and the compiled code must stay
# within Python's own nesting limits.
MAX_DEPTH = 40
_EQUALITY = ("==", "!=")
# Numbers as written: at most MAX_DIGITS digits and MAX_NUMBER in magnitude, far above any
# quantity a rule compares (a gigawatt is 1e9 W), so that every literal is a finite float
# (`1` and 400 zeros was infinity).
MAX_DIGITS = 30
MAX_NUMBER = 1e15
# Durations (`every`, `for`, time windows, smoothing): from a millisecond to a leap year.
# Nothing shorter than a millisecond can be told apart between ticks, and a time window
# longer than a year would keep more than a year of samples.
MIN_DURATION = 0.001
MAX_DURATION = 366 * 86400.0
# "Did you mean" compares a misspelt name with every name the files declare: with thousands
# of names and thousands of misspellings that took minutes. A check makes at most this many
# comparisons for the names, chargers and variables of the files; past it, messages go
# without the hint (each comparison is a few microseconds).
HINT_BUDGET = 100_000



class ExpressionChecker:
    """Types expressions against the names known so far; errors go to `error`."""

    program: CheckedProgram
    symbols: dict[str, Symbol]
    chargers: tuple[str, ...]
    let_order: dict[str, int]
    current_let: int | None
    charger_symbols: dict[str, Symbol]
    broken: set[str]
    depth: int
    deep_reported: bool
    missing_chargers: set[str]
    errors: list[SourceError]
    hint_budget: int

    def hint(self, word: str, candidates: Callable[[], Sequence[str]], count: int) -> str:
        """`did_you_mean` among names that grow with the files (the `count` of them, made
        by `candidates` only when the budget allows: building them is a cost too)."""
        if count > self.hint_budget:
            self.hint_budget = 0
            return ""
        self.hint_budget -= count
        return did_you_mean(word, candidates())

    def error(self, loc: Location, message: str) -> None:
        raise NotImplementedError

    def condition(self, expr: ast.Expr) -> None:
        vtype = self.expr(expr)
        if vtype is not None and vtype.kind is not Kind.BOOLEAN:
            self.error(expr.loc, f"a condition must be true or false, found {type_name(vtype)}")

    def expr(self, expr: ast.Expr) -> ValueType | None:
        self.depth += 1
        if self.depth == 1:
            self.deep_reported = False
        try:
            if self.depth > MAX_DEPTH:
                if not self.deep_reported:
                    self.deep_reported = True
                    self.error(expr.loc, f"this expression is nested too deeply (more than "
                               f"{MAX_DEPTH} levels): split it with let")
                return None
            vtype = self._expr(expr)
        finally:
            self.depth -= 1
        if vtype is not None:
            self.program.types[id(expr)] = vtype
        return vtype

    def _expr(self, e: ast.Expr) -> ValueType | None:
        if isinstance(e, ast.NumberLit):
            return self._number(e)
        if isinstance(e, ast.TimeLit):
            return TIME_TYPE if self._time(e) else None
        if isinstance(e, ast.TextLit):
            return TEXT_TYPE
        if isinstance(e, ast.BoolLit):
            return BOOLEAN_TYPE
        if isinstance(e, ast.Name):
            symbol = self.resolve(e)
            return symbol.type if symbol is not None else None
        if isinstance(e, ast.Unary):
            return self._unary(e)
        if isinstance(e, ast.Binary):
            return self._binary(e)
        if isinstance(e, ast.Is):
            return self._is(e)
        if isinstance(e, ast.Between):
            return self._between(e)
        if isinstance(e, ast.Call):
            return self._call(e)
        if isinstance(e, ast.Smooth):
            vtype = self._number_arg(e.subject, "smooth")
            self._duration(e.rise, "rise")
            self._duration(e.fall, "fall")
            return vtype
        if isinstance(e, ast.For):
            self.condition(e.condition)
            self._duration(e.duration, "for")
            return BOOLEAN_TYPE
        if isinstance(e, ast.Cond):
            return self._cond(e)
        if isinstance(e, ast.In):
            return self._in(e)
        if isinstance(e, ast.Until):
            return self._until(e)
        assert isinstance(e, ast.Template)
        for part in e.parts:
            if not isinstance(part, str):
                self.expr(part)
        return TEXT_TYPE

    def _cond(self, e: ast.Cond) -> ValueType | None:
        self.condition(e.condition)
        then = self.expr(e.then)
        otherwise = self.expr(e.otherwise)
        if then is None or otherwise is None:
            return None
        if then == otherwise:
            return then
        if then.kind is Kind.NUMBER and otherwise.kind is Kind.NUMBER:
            if is_zero(e.then):
                return otherwise
            if is_zero(e.otherwise):
                return then
        self.error(e.loc, f"both values of `A if C else B` must have one type: found "
                   f"{type_name(then)} and {type_name(otherwise)}"
                   + unit_hint(then, e.otherwise))
        return None

    def _in(self, e: ast.In) -> ValueType | None:
        vtype = self.expr(e.subject)
        if vtype is None:
            return None
        if vtype.kind is not Kind.ENUM:
            self.error(e.subject.loc, f"in takes a choice (like weekday or state), found "
                       f"{type_name(vtype)}")
            return None
        accepted: list[str] = []
        for ident in e.values:
            values = self._choice(vtype, ident.name)
            if values is None:
                self.error(ident.loc, f"{ident.name} is not one of {choices(vtype.choices)}"
                           + did_you_mean(ident.name, vtype.choices))
                return None
            accepted += [v for v in values if v not in accepted]
        self.program.sets[id(e)] = tuple(accepted)
        return BOOLEAN_TYPE

    @staticmethod
    def _choice(vtype: ValueType, word: str) -> tuple[str, ...] | None:
        """The choices a word stands for: itself, or for weekdays a set (weekend,
        weekdays) or a day's full name."""
        if word in vtype.choices:
            return (word,)
        if vtype.choices == WEEKDAYS:
            return DAY_NAMES.get(word.lower())
        return None

    def _until(self, e: ast.Until) -> ValueType | None:
        if e.subject.name != "time" or e.subject.qualifier is not None:
            self.error(e.subject.loc, f"until follows time: write time until 07:00, found "
                       f"{e.subject.text} until")
            return None
        target = self.expr(e.target)
        if target is None:
            return None
        if target.kind is not Kind.TIME:
            self.error(e.target.loc, f"time until takes a time of day like 07:00, found "
                       f"{type_name(target)}")
            return None
        self.expr(e.subject)
        return ValueType(Kind.NUMBER, DURATION)

    def _number(self, e: ast.NumberLit) -> ValueType | None:
        digits = sum(ch.isdigit() for ch in e.text)
        written = e.text.split()[0].lstrip("-")
        if digits > MAX_DIGITS:
            self.error(e.loc, f"the number {_shorten(written)} has {digits:,} digits: a number "
                       f"has at most {MAX_DIGITS}")
            return None
        if float(written) > MAX_NUMBER:
            self.error(e.loc, f"the number {written} is too large: numbers are at most "
                       f"{MAX_NUMBER:,.0f} (1e15)")
            return None
        if e.dimension is None:
            unit = e.unit or ""
            spelled = _SPELLED_UNITS.get(unit.lower().rstrip("s"))
            hint = f"; write {spelled}" if spelled else did_you_mean(unit, UNITS)
            self.error(e.loc, f"unknown unit {unit} (units: {', '.join(UNITS)}){hint}")
            return None
        return ValueType(Kind.NUMBER, e.dimension)

    def _time(self, e: ast.TimeLit) -> bool:
        if not e.valid:
            self.error(e.loc, f"{e.text} is not a time of day (00:00 to 23:59)")
        return e.valid

    def _duration(self, e: ast.NumberLit, what: str) -> None:
        vtype = self.expr(e)
        if vtype is None:
            return
        if vtype.dimension != DURATION:
            found = f"the number {e.text}" if vtype.dimension == NUMBER else \
                type_name(vtype)
            self.error(e.loc, f"{what} takes a duration (like 5 min or 30 s), found {found}")
        elif e.value <= 0:
            self.error(e.loc, f"a duration must be positive, found {e.text}")
        elif e.value < MIN_DURATION:
            self.error(e.loc, f"a duration must be at least 1 ms, found {e.text}")
        elif e.value > MAX_DURATION:
            self.error(e.loc, f"a duration must be at most 366 days (8784 h), found {e.text}")

    def resolve(self, name: ast.Name) -> Symbol | None:
        symbol = self._resolve(name)
        if symbol is not None:
            self.program.symbols[id(name)] = symbol
        return symbol

    def _charger_property(self, charger: str, prop: str) -> Symbol:
        key = f"{charger}.{prop}"
        symbol = self.charger_symbols.get(key)
        if symbol is None:
            symbol = Symbol(key, SymbolKind.CHARGER, CHARGER_PROPERTIES[prop])
            self.charger_symbols[key] = symbol
        return symbol

    def _resolve(self, name: ast.Name) -> Symbol | None:
        if name.qualifier is not None:
            if name.qualifier in self.missing_chargers:
                return None         # reported where the file declares it
            if name.qualifier not in self.chargers:
                if name.qualifier in self.symbols or name.qualifier in BUILTINS:
                    self.error(name.loc, f"{name.qualifier} is not a charger, so "
                               f"{name.text} means nothing (chargers: "
                               f"{', '.join(self.chargers)})")
                else:
                    self.error(name.loc, f"unknown charger {name.qualifier} (chargers: "
                               f"{', '.join(self.chargers)})"
                               + self.hint(name.qualifier, lambda: self.chargers,
                                           len(self.chargers)))
                return None
            if name.name in SHARE_PROPERTIES:
                return self._share_symbol(name, name.qualifier)
            if name.name not in CHARGER_PROPERTIES:
                self.error(name.loc, f"unknown charger property {name.name} (properties: "
                           f"{', '.join(CHARGER_PROPERTIES)})"
                           + did_you_mean(name.name, (*CHARGER_PROPERTIES, *SHARE_PROPERTIES)))
                return None
            return self._charger_property(name.qualifier, name.name)
        symbol = self.symbols.get(name.name)
        if symbol is not None:
            if name.name in self.broken:
                return None
            if symbol.kind is SymbolKind.LET and self.current_let is not None \
                    and self.let_order[name.name] >= self.current_let:
                if self.let_order[name.name] == self.current_let:
                    self.error(name.loc, f"let {name.name} cannot use itself")
                else:
                    self.error(name.loc, f"{name.name} is defined further down, at "
                               f"{symbol.decl}: a let can only use lets defined above it")
                return None
            return symbol
        if name.name in BUILTINS:
            return Symbol(name.name, SymbolKind.BUILTIN, BUILTINS[name.name])
        if name.name == "share":
            return self._bare_share(name)
        if name.name in CHARGER_PROPERTIES:
            if len(self.chargers) == 1:
                return self._charger_property(self.chargers[0], name.name)
            if not self.chargers:
                self.error(name.loc, f"{name.name} is a charger property, and no charger is "
                           "configured")
                return None
            self.error(name.loc, f"{name.name} is ambiguous with several chargers: write "
                       + choices([f"{c}.{name.name}" for c in self.chargers]))
            return None
        choice = _CHOICE_OF.get(name.name)
        if choice is not None:
            self.error(name.loc, f"unknown name {name.name}: {name.name} is a choice of "
                       f"{choice}; compare with is, like `{choice} is {name.name}`")
            return None
        self.error(name.loc, f"unknown name {name.name}" + self._suggest(name.name))
        return None

    def _bare_share(self, name: ast.Name) -> Symbol | None:
        """`share` alone: the share of the only charger."""
        if len(self.chargers) == 1:
            return self._share_symbol(name, self.chargers[0])
        if not self.chargers:
            self.error(name.loc, "share is a charger's part of a share, and no charger is "
                       "configured")
            return None
        self.error(name.loc, "share is ambiguous with several chargers: write "
                   + choices([f"{c}.share" for c in self.chargers]))
        return None

    def _share_symbol(self, name: ast.Name, charger: str) -> Symbol | None:
        """`garage.share`, `garage.available`: lets of the `share` declaration that lists
        the charger (see `share`), read like lets: only below the declaration in a let."""
        key = f"{charger}.{name.name}"
        symbol = self.symbols.get(key)
        if symbol is None:
            self.error(name.loc, f"{name.text} means nothing: no share lists {charger} "
                       f"(declare one, like `share pv - house among {charger}`)")
            return None
        if key in self.broken:
            return None
        if self.current_let is not None and self.let_order[key] >= self.current_let:
            self.error(name.loc, f"{name.text} comes from the share at {symbol.decl}, which "
                       "is computed after this: a let or a share reads only the shares "
                       "declared above it")
            return None
        return symbol

    def _suggest(self, word: str) -> str:
        several = len(self.chargers) != 1
        if several:
            close = difflib.get_close_matches(word, CHARGER_PROPERTIES, n=1, cutoff=0.6)
            if close:
                return f"; did you mean {choices([f'{c}.{close[0]}' for c in self.chargers])}?"

        def candidates() -> list[str]:
            names = list(self.symbols) + list(BUILTINS)
            if several:
                return names + [f"{c}.{p}" for c in self.chargers for p in CHARGER_PROPERTIES]
            return names + list(CHARGER_PROPERTIES)

        count = len(self.symbols) + len(BUILTINS) + len(CHARGER_PROPERTIES) * max(
            1, len(self.chargers))
        hint = self.hint(word, candidates, count)
        if hint:
            return hint
        return f" (declare it with `input {word}: UNIT`, or define it with let or var)"

    def _unary(self, e: ast.Unary) -> ValueType | None:
        if e.op == "not":
            vtype = self.expr(e.operand)
            if vtype is not None and vtype.kind is not Kind.BOOLEAN:
                self.error(e.operand.loc, f"not takes a condition (true or false), found "
                           f"{type_name(vtype)}")
                return None
            return BOOLEAN_TYPE if vtype is not None else None
        return self._number_arg(e.operand, "-")

    def _number_arg(self, e: ast.Expr, what: str) -> ValueType | None:
        vtype = self.expr(e)
        if vtype is not None and vtype.kind is not Kind.NUMBER:
            self.error(e.loc, f"{what} takes a number, found {type_name(vtype)}")
            return None
        return vtype

    def _binary(self, e: ast.Binary) -> ValueType | None:
        op = e.op
        left = self.expr(e.left)
        right = self.expr(e.right)
        if op in ("and", "or"):
            ok = True
            for side, vtype in ((e.left, left), (e.right, right)):
                if vtype is not None and vtype.kind is not Kind.BOOLEAN:
                    self.error(side.loc, f"{op} takes conditions (true or false), found "
                               f"{type_name(vtype)}")
                    ok = False
            return BOOLEAN_TYPE if ok and left is not None and right is not None else None
        if left is None or right is None:
            return BOOLEAN_TYPE if op in _ORDERING + _EQUALITY else None
        if op in _ORDERING + _EQUALITY:
            return self._compare(e, left, right)
        if left.kind is not Kind.NUMBER or right.kind is not Kind.NUMBER:
            bad = left if left.kind is not Kind.NUMBER else right
            where = e.left if bad is left else e.right
            hint = "; compare times with <, > or between" if bad.kind is Kind.TIME else ""
            self.error(where.loc, f"{op} takes numbers, found {type_name(bad)}{hint}")
            return None
        if op in ("+", "-"):
            if left.dimension != right.dimension:
                if op == "+":
                    message = f"cannot add {left.dimension.name} and {right.dimension.name}"
                else:
                    message = (f"cannot subtract {right.dimension.name} from "
                               f"{left.dimension.name}")
                self.error(e.loc, message)
                return None
            return left
        dimension: Dimension = left.dimension * right.dimension if op == "*" else \
            left.dimension / right.dimension
        return ValueType(Kind.NUMBER, dimension)

    def _compare(self, e: ast.Binary, left: ValueType, right: ValueType) -> ValueType | None:
        op = e.op
        if left.kind is Kind.NUMBER and right.kind is Kind.NUMBER:
            if left.dimension == right.dimension or is_zero(e.left) or is_zero(e.right):
                return BOOLEAN_TYPE
            literal = e.right if isinstance(e.right, ast.NumberLit) else e.left
            hint = unit_hint(left if literal is e.right else right, literal)
            # The caret goes under the operand that disagrees: a literal if there is one.
            self.error(literal.loc if isinstance(literal, ast.NumberLit) else e.loc,
                       f"cannot compare {left.dimension.name} with "
                       f"{right.dimension.name}{hint}")
            return None
        if left.kind is Kind.TIME and right.kind is Kind.TIME:
            return BOOLEAN_TYPE
        if op in _ORDERING:
            bad = left if left.kind is not Kind.NUMBER and left.kind is not Kind.TIME else right
            if left.kind in (Kind.NUMBER, Kind.TIME) and right.kind in (Kind.NUMBER, Kind.TIME):
                self.error(e.loc, f"cannot compare {type_name(left)} with {type_name(right)}")
            else:
                self.error(e.loc, f"{op} compares numbers or times, found {type_name(bad)}"
                           + ("; use is for choices and texts"
                              if bad.kind in (Kind.ENUM, Kind.TEXT) else ""))
            return None
        if left == right:
            return BOOLEAN_TYPE
        if left.kind is Kind.ENUM and right.kind is Kind.ENUM:
            return BOOLEAN_TYPE
        self.error(e.loc, f"cannot compare {type_name(left)} with {type_name(right)}")
        return None

    def _is(self, e: ast.Is) -> ValueType | None:
        vtype = self.expr(e.subject)
        if vtype is None:
            return None
        subject = e.subject.text if isinstance(e.subject, ast.Name) else "the value"
        if vtype.kind is Kind.ENUM:
            if e.text:
                self.error(e.value_loc, f"{subject} is a choice: write {subject} is "
                           f"{e.value if e.value in vtype.choices else vtype.choices[0]} "
                           "(without quotes)")
                return None
            group = self._choice(vtype, e.value)
            if group is not None and group != (e.value,):
                self.program.sets[id(e)] = group      # weekday is weekend
                return BOOLEAN_TYPE
            if e.value not in vtype.choices:
                label = subject.rsplit(".", 1)[-1]
                self.error(e.value_loc, f"{e.value} is not a {label}: expected "
                           f"{choices(vtype.choices)}" + did_you_mean(e.value, vtype.choices))
                return None
            return BOOLEAN_TYPE
        if vtype.kind is Kind.TEXT:
            if not e.text:
                self.error(e.value_loc, f"{subject} is a text: quote the value, "
                           f"{subject} is \"{e.value}\"")
                return None
            return BOOLEAN_TYPE
        if vtype.kind is Kind.BOOLEAN:
            self.error(e.loc, f"{subject} is true or false: write {subject} or not {subject}")
            return None
        self.error(e.loc, f"is compares choices and texts, found {type_name(vtype)}; "
                   "use ==, < or > for numbers")
        return None

    def _between(self, e: ast.Between) -> ValueType | None:
        subject = TIME_TYPE if e.subject is None else self.expr(e.subject)
        low = self.expr(e.low)
        high = self.expr(e.high)
        if subject is None or low is None or high is None:
            return None
        if subject.kind is Kind.TIME:
            for bound, btype in ((e.low, low), (e.high, high)):
                if btype.kind is not Kind.TIME:
                    self.error(bound.loc, f"between times takes times of day like 22:00, "
                               f"found {type_name(btype)}")
                    return None
            return BOOLEAN_TYPE
        if subject.kind is not Kind.NUMBER:
            assert e.subject is not None
            self.error(e.subject.loc, f"between compares numbers or times, found "
                       f"{type_name(subject)}")
            return None
        for bound, btype in ((e.low, low), (e.high, high)):
            if btype.kind is not Kind.NUMBER or (btype.dimension != subject.dimension
                                                 and not is_zero(bound)):
                self.error(bound.loc, f"cannot compare {subject.dimension.name} with "
                           f"{type_name(btype)}" + unit_hint(subject, bound))
                return None
        return BOOLEAN_TYPE

    def _call(self, e: ast.Call) -> ValueType | None:
        name = e.function
        if name not in FUNCTIONS or name == "smooth":
            self.error(e.function_loc, f"unknown function {name}"
                       + (did_you_mean(name, FUNCTIONS) or
                          f" (functions: {', '.join(FUNCTIONS)})"))
            for arg in e.args:
                self.expr(arg)
            return None
        if name in ("cheapest", "offpeak"):
            from evse_rules.language.tariffs import check_call

            return check_call(self, e)
        args = e.args
        if name in ("min", "max", "avg") and len(args) == 2 \
                and isinstance(args[1], ast.NumberLit) and args[1].dimension == DURATION:
            first = self.expr(args[0])
            if name == "avg" or (first is not None and first.dimension != DURATION):
                self._duration(args[1], name)
                if first is not None and first.kind is not Kind.NUMBER:
                    self.error(args[0].loc, f"{name} over a time window takes a number, "
                               f"found {type_name(first)}")
                    return None
                self.program.windows[id(e)] = name
                return first
        if name == "avg":
            self.error(e.loc, f"avg takes a value and a time window: {FUNCTIONS[name]}")
            for arg in args:
                self.expr(arg)
            return None
        if name in ("round", "floor", "ceil", "abs", "known", "today") and len(args) != 1:
            self.error(e.loc, f"{name} takes one argument: {FUNCTIONS[name]}, found "
                       f"{len(args)}")
            return None
        if name == "clamp" and len(args) != 3:
            self.error(e.loc, f"clamp takes 3 arguments: {FUNCTIONS[name]}, found {len(args)}")
            return None
        if name in ("min", "max") and len(args) < 2:
            self.error(e.loc, f"{name} takes at least 2 arguments: {FUNCTIONS[name]}")
            return None
        if name == "known":
            return BOOLEAN_TYPE if self.expr(args[0]) is not None else None
        if name == "today":
            self.program.uses_clock = True
            return self._number_arg(args[0], "today")
        types = [self.expr(arg) for arg in args]
        if any(t is None for t in types):
            return None
        first_type = types[0]
        assert first_type is not None
        if name in ("round", "floor", "ceil", "abs"):
            return self._number_arg_type(args[0], first_type, name)
        allowed_time = name in ("min", "max") and first_type.kind is Kind.TIME
        for arg, vtype in zip(args, types, strict=True):
            assert vtype is not None
            if allowed_time and vtype.kind is Kind.TIME:
                continue
            if vtype.kind is not Kind.NUMBER:
                self.error(arg.loc, f"{name} takes numbers, found {type_name(vtype)}")
                return None
            if vtype.dimension != first_type.dimension and not is_zero(arg):
                self.error(arg.loc, f"{name} mixes {first_type.dimension.name} with "
                           f"{vtype.dimension.name}" + unit_hint(first_type, arg))
                return None
        return first_type

    def _number_arg_type(self, arg: ast.Expr, vtype: ValueType, name: str) -> ValueType | None:
        if vtype.kind is not Kind.NUMBER:
            self.error(arg.loc, f"{name} takes a number, found {type_name(vtype)}")
            return None
        return vtype


# Units as people spell them out (without a final s): the symbol to write instead.
_SPELLED_UNITS = {
    "amp": "A", "ampere": "A", "milliamp": "mA", "volt": "V", "watt": "W", "kwatt": "kW",
    "kilowatt": "kW", "watthour": "Wh", "kwatthour": "kWh", "kilowatthour": "kWh",
    "percent": "%", "hr": "h", "msec": "ms",
}

# Words that are choices of a built-in or a charger property, not names: `mode == auto`.
_CHOICE_OF: dict[str, str] = {
    **{state: "state" for state in CHARGER_PROPERTIES["state"].choices},
    **{mode: "mode" for mode in CHARGER_PROPERTIES["mode"].choices},
    **{day: "weekday" for day in (*WEEKDAYS, "weekend", "weekdays")},
}


def _shorten(text: str) -> str:
    """A long number as a message shows it: its first and last digits."""
    return text if len(text) <= 20 else f"{text[:8]}...{text[-8:]}"
