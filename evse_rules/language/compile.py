"""The compiler: a checked program -> Python functions, built once.

Each `let` and each statement becomes one Python function generated from the AST (never
from user text): names are read as `v[i]` from the tick's value list into locals, constants
are literals (finite floats) or default arguments (strings), and stateful parts (`for`,
windows, smoothing) are objects of `runtime` called with the tick time. Kleene logic is
compiled into two forms of each condition - "is it true" and "is it false" - so that an
unknown value never needs a three-valued object at run time, and None checks are left out
where the checker's types prove a value is always known (literals, built-ins, `for`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from types import CodeType
from typing import Any

from evse_rules.language import ast, runtime
from evse_rules.language.checked import CheckedAction, CheckedProgram, Symbol, SymbolKind
from evse_rules.language.names import TEXT_TYPE
from evse_rules.language.program import (
    ActionKind,
    Formatter,
    Kind,
    ProposedAction,
    RuleRef,
    TickResult,
    Value,
    ValueType,
)
from evse_rules.language.units import DISPLAY_UNITS, ENERGY, Dimension, format_quantity

_SIMPLE = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_]*|-?[0-9.e+-]+|True|False|None)$")
_SHARED_NAME = re.compile(r"\bk[0-9]+\b")
_NEGATE = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "=="}


def formatter(vtype: ValueType) -> Callable[[Value], str]:
    """How a value of this type is shown to people (journal, log interpolation)."""
    if vtype.kind is Kind.NUMBER:
        return _number_formatter(vtype.dimension)
    if vtype.kind is Kind.BOOLEAN:
        return lambda value: "unknown" if value is None else ("true" if value else "false")
    if vtype.kind is Kind.TIME:
        def clock(value: Value) -> str:
            if value is None:
                return "unknown"
            assert isinstance(value, float | int)
            seconds = int(value)
            text = f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"
            return text if seconds % 60 == 0 else f"{text}:{seconds % 60:02d}"
        return clock
    return lambda value: "unknown" if value is None else str(value)


def _number_formatter(dimension: Dimension) -> Callable[[Value], str]:
    """`units.format_quantity` for one dimension, with the unit looked up once (reasons are
    formatted on every tick a rule fires)."""
    unit = DISPLAY_UNITS.get(dimension)
    if unit is None or dimension == ENERGY:
        def general(value: Value) -> str:
            if value is None:
                return "unknown"
            assert isinstance(value, float | int)
            return format_quantity(float(value), dimension)
        return general
    factor = unit.factor
    suffix = "%" if unit.symbol == "%" else " " + unit.symbol

    def number(value: Value) -> str:
        if value is None:
            return "unknown"
        assert isinstance(value, float | int)
        return f"{value / factor:g}{suffix}"
    return number


@dataclass(frozen=True, slots=True)
class _Function:
    """One generated function: its source and the names it binds as default arguments."""

    name: str
    source: str


class _FunctionBuilder:
    """Generates the body of one function: locals for names, hoisted stateful calls."""

    def __init__(self, gen: CodeGen, prefix: str = "", share: bool = False) -> None:
        self.gen = gen
        self.prefix = prefix                 # of temporaries: unique within the tick function
        self.loads: dict[int, str] = {}      # slot -> local name
        self.hoisted: list[str] = []
        self._hoists = 0                     # names hoisted so far
        # Namespace names bound as default arguments, in order (a dict: a statement may bind
        # thousands, and a list would be searched at every bind).
        self._bound: dict[str, None] = {}
        # The hoisted name of each node computed once per evaluation (stateful parts and
        # boolean values), by id(): asked again, the node gives the same name.
        self._once: dict[int, tuple[str, bool]] = {}
        self.temps = 0
        # Statements share their simple tests (`mode is auto` in every rule): the tick
        # function computes each once, before the statements (see CodeGen.shared).
        self.share = share
        self.shared: list[str] = []          # the shared tests this function reads
        self.clocks: list[str] = []          # the `for` clocks (state names) it keeps

    def temp(self) -> str:
        self.temps += 1
        return f"{self.prefix}t{self.temps}"

    def bind(self, name: str) -> str:
        self._bound[name] = None
        return name

    @property
    def bound(self) -> list[str]:
        return list(self._bound)

    def local(self, slot: int) -> str:
        name = self.loads.get(slot)
        if name is None:
            name = self.loads[slot] = f"x{slot}"
        return name

    def function(self, name: str, body: list[str]) -> _Function:
        params = ", ".join(["v", "n", *(f"{b}={b}" for b in self.bound)])
        lines = [f"def {name}({params}):"]
        lines += [f"    {local} = v[{slot}]" for slot, local in sorted(self.loads.items())]
        lines += [f"    {line}" for line in self.hoisted]
        lines += [f"    {line}" for line in body]
        if self.shared:
            # On its own a statement computes its shared tests where it reads them (the
            # names are generated tokens, and generated code holds no string literals).
            shared = self.gen.shared
            lines = [_SHARED_NAME.sub(lambda m: shared[m.group(0)], line) for line in lines]
        if len(lines) == 1:
            lines.append("    return None")
        return _Function(name, "\n".join(lines))

    # ---- expressions ---------------------------------------------------------------------

    def _operands(self, *exprs: ast.Expr) -> tuple[list[str], list[str]]:
        """Values of operands, and the operands that may be None (each evaluated once: a
        complex one is bound to a temporary where it is first tested)."""
        uses: list[str] = []
        nullable: list[str] = []
        for expr in exprs:
            code, may_be_none = self.value(expr)
            if not may_be_none:
                uses.append(code)
            elif _SIMPLE.match(code):
                uses.append(code)
                nullable.append(code)
            else:
                temp = self.temp()
                nullable.append(f"({temp} := {code})")
                uses.append(temp)
        return uses, nullable

    @staticmethod
    def _any_none(nullable: list[str]) -> str:
        return " or ".join(f"{n} is None" for n in nullable)

    @staticmethod
    def _all_known(nullable: list[str]) -> list[str]:
        return [f"{n} is not None" for n in nullable]

    def value(self, e: ast.Expr) -> tuple[str, bool]:
        """Python code for the value of `e` (None when unknown), and whether it can be None."""
        once = self._once.get(id(e))
        if once is not None:
            return once
        gen = self.gen
        if isinstance(e, ast.NumberLit):
            return gen.number(e.value, self), False
        if isinstance(e, ast.TimeLit):
            return gen.number(e.seconds, self), False
        if isinstance(e, ast.TextLit):
            return self.bind(gen.constant(e.value)), False
        if isinstance(e, ast.BoolLit):
            return repr(e.value), False
        if isinstance(e, ast.Name):
            symbol = gen.checked.symbols[id(e)]
            return self.local(gen.slot(symbol)), symbol.kind is not SymbolKind.BUILTIN
        vtype = gen.checked.types[id(e)]
        if vtype.kind is Kind.BOOLEAN and not isinstance(e, ast.For):
            return self._boolean_value(e)
        if isinstance(e, ast.Unary):
            (operand,), nullable = self._operands(e.operand)
            if not nullable:
                return f"(-{operand})", False
            return f"(None if {self._any_none(nullable)} else -{operand})", True
        if isinstance(e, ast.Binary):
            (left, right), nullable = self._operands(e.left, e.right)
            op = e.op
            checks = [f"{n} is None" for n in nullable]
            if op == "/":
                constant_divisor = isinstance(e.right, ast.NumberLit) and e.right.value != 0
                if not constant_divisor:
                    # `not x` is true for None and for 0: one test covers both.
                    if right in nullable:
                        checks.remove(f"{right} is None")
                        checks.append(f"not {right}")
                    elif nullable and nullable[-1].startswith(f"({right} :="):
                        checks[-1] = f"not {nullable[-1]}"
                    else:
                        checks.append(f"not {right}")
            if not checks:
                return f"({left} {op} {right})", False
            return f"(None if {' or '.join(checks)} else {left} {op} {right})", True
        if isinstance(e, ast.Call):
            return self._call(e)
        if isinstance(e, ast.Cond):
            then, _ = self.value(e.then)
            otherwise, _ = self.value(e.otherwise)
            return (f"({then} if {self.true(e.condition)} else {otherwise} if "
                    f"{self.false(e.condition)} else None)"), True
        if isinstance(e, ast.Until):
            (subject, target), nullable = self._operands(e.subject, e.target)
            body = f"{self.bind(gen.constant(runtime.until))}({subject}, {target})"
            if not nullable:
                return body, False
            return f"(None if {self._any_none(nullable)} else {body})", True
        if isinstance(e, ast.Template):
            return gen.message(self, e.parts), False
        if isinstance(e, ast.Smooth):
            code, _ = self.value(e.subject)
            assert e.rise.value > 0 and e.fall.value > 0
            obj = self.bind(gen.state(runtime.Smoother(e.rise.value, e.fall.value)))
            # runtime.Smoother.__call__, inline (the same arithmetic, in the same order).
            name = self._hoist(code)
            state = f"{name}s"
            exp = self.bind(gen.constant(math.exp))
            rise, fall = gen.number(e.rise.value, self), gen.number(e.fall.value, self)
            self.hoisted += [
                f"if {name} is not None:",
                f"    {state} = {obj}.state",
                f"    if {state} is not None:",
                f"        {name} = {state} + ({name} - {state}) * (1.0 - {exp}(-(n - {obj}.last)"
                f" / ({rise} if {name} > {state} else {fall})))",
                f"    {obj}.state = {name}",
                f"    {obj}.last = n",
            ]
            return self._computed_once(e, name, True)
        if isinstance(e, ast.For):
            truth = self.true(e.condition)
            obj = self.bind(gen.state(runtime.ForClock(e.duration.value)))
            self.clocks.append(obj)
            # runtime.ForClock.__call__, inline.
            name = self._hoist(truth)
            since = f"{name}s"
            self.hoisted += [
                f"if {name}:",
                f"    {since} = {obj}.since",
                f"    if {since} is None:",
                f"        {obj}.since = {since} = n",
                f"    {name} = n - {since} >= {gen.number(e.duration.value, self)}",
                "else:",
                f"    {obj}.since = None",
            ]
            return self._computed_once(e, name, False)
        raise AssertionError(f"no code for {type(e).__name__}")

    def _shared(self, test: str) -> str:
        """A test of locals and constants that other statements may ask too, by name."""
        if not self.share:
            return test
        gen = self.gen
        name = gen.shared_names.get(test)
        if name is None:
            name = gen.shared_names[test] = f"k{len(gen.shared)}"
            gen.shared[name] = test
        if name not in self.shared:
            self.shared.append(name)
        return name

    def _hoist(self, code: str) -> str:
        """Stateful parts run at every evaluation, before any short-circuit: hoist them."""
        name = f"{self.prefix}h{self._hoists}"
        self._hoists += 1
        self.hoisted.append(f"{name} = {code}")
        return name

    def _computed_once(self, e: ast.Expr, name: str, may_be_none: bool) -> tuple[str, bool]:
        """Remember that `e` is computed once, into the hoisted `name`."""
        self._once[id(e)] = (name, may_be_none)
        return name, may_be_none

    def _call(self, e: ast.Call) -> tuple[str, bool]:
        gen = self.gen
        window = gen.checked.windows.get(id(e))
        if window is not None:
            code, _ = self.value(e.args[0])
            duration = e.args[1]
            assert isinstance(duration, ast.NumberLit)
            obj = gen.state(runtime.Window(window, duration.value))
            return self._computed_once(e, self._hoist(f"{self.bind(obj)}(n, {code})"), True)
        name = e.function
        if name in ("cheapest", "offpeak"):
            from evse_rules.language.tariffs import call_code

            return call_code(self, e)
        if name == "today":
            code, _ = self.value(e.args[0])
            day = ast.Name(e.loc, "date")
            gen.checked.symbols[id(day)] = gen.date_symbol
            gen.keep.append(day)
            obj = self.bind(gen.state(runtime.Today()))
            return self._computed_once(e, self._hoist(
                f"{obj}({self.value(day)[0]}, {code})"), True)
        if name == "known":
            code, may_be_none = self.value(e.args[0])
            return (f"({code} is not None)" if may_be_none else "True"), False
        uses, nullable = self._operands(*e.args)
        if name in ("min", "max", "abs"):
            body = f"{name}({', '.join(uses)})"
        elif name == "clamp":
            body = f"min(max({uses[0]}, {uses[1]}), {uses[2]})"
        else:
            helper = {"round": runtime.round_half_away, "floor": runtime.floor,
                      "ceil": runtime.ceil}[name]
            body = f"{self.bind(gen.constant(helper))}({uses[0]})"
        if not nullable:
            return body, False
        return f"(None if {self._any_none(nullable)} else {body})", True

    def _boolean_value(self, e: ast.Expr) -> tuple[str, bool]:
        if isinstance(e, (ast.Name, ast.BoolLit)):
            return self.value(e)
        if isinstance(e, ast.Call) and e.function in ("known", "cheapest", "offpeak"):
            return self._call(e)
        # Computed once, before the statement: written in place, its two forms (true, false)
        # would each hold the code of its operands, and `p == (q == (r == ...))` would double
        # in size at every level.
        truth = self.true(e)
        falsity = self.false(e)
        name = self._hoist(f"(True if {truth} else False if {falsity} else None)")
        return self._computed_once(e, name, True)

    def true(self, e: ast.Expr) -> str:
        """Code that is True exactly when `e` is true (False when false or unknown)."""
        return self._logic(e, want=True)

    def false(self, e: ast.Expr) -> str:
        """Code that is True exactly when `e` is false (False when true or unknown)."""
        return self._logic(e, want=False)

    def _logic(self, e: ast.Expr, want: bool) -> str:
        if isinstance(e, ast.BoolLit):
            return repr(e.value is want)
        if isinstance(e, (ast.Name, ast.Call, ast.For)):
            code, may_be_none = self.value(e)
            if not may_be_none:
                return code if want else f"(not {code})"
            return f"({code} is {want})"
        if isinstance(e, ast.Unary):
            assert e.op == "not"
            return self._logic(e.operand, not want)
        if isinstance(e, ast.Binary):
            if e.op in ("and", "or"):
                # and: true when both are true, false when either is false; or: the dual.
                joiner = " and " if (e.op == "and") == want else " or "
                return f"({self._logic(e.left, want)}{joiner}{self._logic(e.right, want)})"
            op = e.op if want else _NEGATE[e.op]
            (left, right), nullable = self._operands(e.left, e.right)
            return "(" + " and ".join([*self._all_known(nullable), f"{left} {op} {right}"]) + ")"
        if isinstance(e, ast.Cond):
            return (f"(({self.true(e.condition)} and {self._logic(e.then, want)}) or "
                    f"({self.false(e.condition)} and {self._logic(e.otherwise, want)}))")
        group = self.gen.checked.sets.get(id(e))
        if group is not None:
            # `weekday in (sat, sun)`, `weekday is weekend`: membership of a constant set.
            assert isinstance(e, ast.Is | ast.In)
            members = self.bind(self.gen.constant(frozenset(group)))
            code, may_be_none = self.value(e.subject)
            inside = want != (isinstance(e, ast.Is) and e.negated)
            if inside:
                return f"({code} in {members})"
            known = f"{code} is not None and " if may_be_none else ""
            return f"({known}{code} not in {members})"
        if isinstance(e, ast.Is):
            constant = self.bind(self.gen.constant(e.value))
            if want != e.negated:
                # Unknown never equals a choice: no None check needed.
                code, _ = self.value(e.subject)
                test = f"({code} == {constant})"
                return self._shared(test) if _SIMPLE.match(code) else test
            (subject,), nullable = self._operands(e.subject)
            return "(" + " and ".join([*self._all_known(nullable),
                                       f"{subject} != {constant}"]) + ")"
        if isinstance(e, ast.Between):
            return self._between(e, want)
        raise AssertionError(f"no condition code for {type(e).__name__}")

    def _between(self, e: ast.Between, want: bool) -> str:
        gen = self.gen
        if e.subject is None:
            subject_expr: ast.Expr = ast.Name(e.loc, "time")
            gen.checked.symbols[id(subject_expr)] = gen.time_symbol
            gen.keep.append(subject_expr)
        else:
            subject_expr = e.subject
        is_time = gen.checked.types.get(id(e.low), None)
        (subject, low, high), nullable = self._operands(subject_expr, e.low, e.high)
        known = self._all_known(nullable)
        if is_time is not None and is_time.kind is Kind.TIME:
            test = f"{self.bind(gen.constant(runtime.time_between))}({subject}, {low}, {high})"
        else:
            test = f"{low} <= {subject} <= {high}"
        if not want:
            test = f"not ({test})"
        return "(" + " and ".join([*known, test]) + ")"


@dataclass(frozen=True, slots=True)
class ActionPlan:
    """One action of a statement, as the tick function proposes it."""

    kind: ActionKind
    charger: str | None
    name: str | None
    mode: str | None
    safety: bool = False


@dataclass(frozen=True, slots=True)
class StatementPlan:
    """What the tick function needs of one statement besides its code."""

    ref: RuleRef
    block: int | None                         # its trigger; None: every tick
    then: tuple[ActionPlan, ...]
    otherwise: tuple[ActionPlan, ...]
    reads: tuple[tuple[str, Formatter], ...]  # the names its reason shows, and how
    read_slots: tuple[int, ...]               # where their values are, aligned with reads
    guards: tuple[int, ...] = ()              # the condition blocks it stands in


@dataclass(frozen=True, slots=True)
class TriggerPlan:
    """A block's trigger object and, for `on change of`, the slot it watches; for `when`
    and `on change of` an expression, the expression."""

    trigger: runtime.Trigger
    slot: int | None = None
    expr: ast.Expr | None = None


@dataclass(frozen=True, slots=True)
class _LetCode:
    builder: _FunctionBuilder
    slot: int
    code: str


@dataclass(frozen=True, slots=True)
class _StatementCode:
    builder: _FunctionBuilder
    truth: str | None                         # None: no condition, always fires
    then: tuple[str, ...]                     # the value code of each action
    otherwise: tuple[str, ...]


# Values an action proposes only when known and finite (DESIGN.md: a stale input never
# makes a rule act); `x - x == 0.0` is false exactly for NaN and the infinities.
_CHECKED_VALUES = (ActionKind.SET_AMPS, ActionKind.SET_VAR)


class CodeGen:
    """Collects constants, stateful objects and generated functions for one program."""

    def __init__(self, checked: CheckedProgram, slots: dict[str, int],
                 time_symbol: Symbol) -> None:
        self.checked = checked
        self.slots = slots
        self.time_symbol = time_symbol
        self.date_symbol = Symbol("date", SymbolKind.BUILTIN, TEXT_TYPE)
        self.namespace: dict[str, Any] = {"__builtins__": {"min": min, "max": max, "abs": abs}}
        self.functions: list[_Function] = []
        # Functions compiled on first use: the lines before each in `__source__`, its source.
        self._later: dict[str, tuple[int, str]] = {}
        self.states: list[Any] = []
        self.keep: list[ast.Expr] = []       # synthesised nodes, kept alive for their id()
        self._constants: dict[tuple[type, Any], str] = {}
        self._lets: list[_LetCode] = []
        self._statements: list[_StatementCode] = []
        self._blocks: list[_FunctionBuilder] = []     # triggers' and guards' conditions
        # Tests statements share, by name: computed once per tick, after the lets (a let
        # does not share: the tick function computes lets before these).
        self.shared: dict[str, str] = {}
        self.shared_names: dict[str, str] = {}   # the other way: test -> name

    def slot(self, symbol: Symbol) -> int:
        return self.slots[symbol.name]

    def constant(self, value: Any) -> str:
        key = (type(value), value if not callable(value) else id(value))
        name = self._constants.get(key)
        if name is None:
            name = self._constants[key] = f"c{len(self._constants)}"
            self.namespace[name] = value
        return name

    def number(self, value: float, fb: _FunctionBuilder) -> str:
        if math.isfinite(value):
            return repr(float(value))
        return fb.bind(self.constant(float(value)))

    def state(self, obj: Any) -> str:
        name = f"s{len(self.states)}"
        self.states.append(obj)
        self.namespace[name] = obj
        return name

    def let_function(self, index: int, expr: ast.Expr, slot: int) -> str:
        fb = _FunctionBuilder(self, f"l{index}_")
        code, _ = fb.value(expr)
        name = f"let_{index}"
        self.functions.append(fb.function(name, [f"return {code}"]))
        self._lets.append(_LetCode(fb, slot, code))
        return name

    def statement_clocks(self, index: int) -> list[str]:
        """The state names of the `for` clocks of statement `index`."""
        return list(self._statements[index].builder.clocks)

    def block_code(self, prefix: str, expr: ast.Expr, truth: bool) -> tuple[_FunctionBuilder,
                                                                             str]:
        """Code the tick function computes once per tick, before the statements: a block's
        condition (`truth`: whether it is true) or the value `on change of` watches."""
        fb = _FunctionBuilder(self, prefix)
        code = fb.true(expr) if truth else fb.value(expr)[0]
        self._blocks.append(fb)
        return fb, code

    def statement_function(self, index: int, condition: ast.Expr | None,
                           then: tuple[CheckedAction, ...],
                           otherwise: tuple[CheckedAction, ...]) -> str:
        fb = _FunctionBuilder(self, f"r{index}_", share=True)
        body: list[str] = []
        then_codes = self._action_codes(fb, then)
        then_values = _tuple(then_codes)
        truth: str | None = None
        otherwise_codes: tuple[str, ...] = ()
        if condition is None:
            body.append(f"return 0, {then_values}")
        else:
            truth = fb.true(condition)
            body.append(f"if {truth}:")
            body.append(f"    return 0, {then_values}")
            if otherwise:
                otherwise_codes = self._action_codes(fb, otherwise)
                body.append(f"return 1, {_tuple(otherwise_codes)}")
        name = f"rule_{index}"
        self.functions.append(fb.function(name, body))
        self._statements.append(_StatementCode(fb, truth, then_codes, otherwise_codes))
        return name

    def _action_codes(self, fb: _FunctionBuilder,
                      actions: tuple[CheckedAction, ...]) -> tuple[str, ...]:
        codes: list[str] = []
        for action in actions:
            if action.deadline is not None and action.value is not None:
                # A plan: its energy and its deadline, both proposed or neither.
                codes.append(f"({fb.value(action.value)[0]}, {fb.value(action.deadline)[0]})")
            elif action.value is not None:
                codes.append(fb.value(action.value)[0])
            elif action.parts:
                codes.append(self.message(fb, action.parts))
            else:
                codes.append("None")
        return tuple(codes)

    def message(self, fb: _FunctionBuilder, parts: tuple[str | ast.Expr, ...]) -> str:
        pieces: list[str] = []
        for part in parts:
            if isinstance(part, str):
                pieces.append(fb.bind(self.constant(part)))
            else:
                show = fb.bind(self.constant(formatter(self.checked.types[id(part)])))
                pieces.append(f"{show}({fb.value(part)[0]})")
        if len(pieces) <= 1:
            return pieces[0] if pieces else repr("")
        # One join of a flat tuple: a chain of `+` nests one level per piece, and Python's
        # compiler gives up on a few thousand levels.
        return f"{fb.bind(self.constant(''))}.join({_tuple(tuple(pieces))})"

    def tick_function(self, externals: int, builtin_base: int | None,
                      let_names: tuple[str, ...], triggers: list[TriggerPlan],
                      statements: list[StatementPlan],
                      trigger_codes: dict[int, tuple[_FunctionBuilder, str]] | None = None,
                      guards: list[tuple[_FunctionBuilder, str]] | None = None) -> str:
        """The whole tick as one function, from the lets and statements generated so far:
        `tick(now, n, values)` -> TickResult, `Program.tick` with `n` = `now.timestamp()`.

        It checks its arguments and keeps its own clock (`runtime.TickClock`, reset with the
        other states). `values` are the externals as the engine passes them (read, never
        copied); the built-ins (only when `builtin_base` is given) and the lets are locals;
        the triggers are asked once, then each statement runs only when its block is due.
        Proposals are built here, with their reasons raw (formatted only when someone asks).
        """
        assert len(statements) == len(self._statements)
        writer = _TickWriter(self)
        clock = writer.bind_name(self.state(runtime.TickClock()))
        # The length of `values` is the caller's to get right (`Program.tick` checks it;
        # the engine's list is built for the program): indexing fails on a short one.
        body: list[str] = [
            f"if now.tzinfo is None or n < {clock}.last:",
            f"    {writer.const(runtime.refuse_tick)}(now, values, n, {externals}, {clock}.last)",
        ]
        if triggers:
            body.append(f"first = {clock}.first")
        if builtin_base is not None:
            names = ", ".join(f"x{builtin_base + i}" for i in range(runtime.BUILTIN_COUNT))
            body.append(f"{names} = {writer.const(runtime.builtins_at)}(now)")
        for let in self._lets:
            writer.bind_all(let.builder)
            body += let.builder.hoisted
            body.append(f"x{let.slot} = {let.code}")
        coded = trigger_codes or {}
        for j, trigger in enumerate(triggers):
            code_of = coded.get(j)
            if code_of is None:
                body.append(f"d{j} = {writer.trigger(trigger)}")
                continue
            # `when COND` and `on change of EXPR`: the expression is computed at every tick
            # (an edge or a change is seen only by looking every time).
            builder, watched = code_of
            writer.bind_all(builder)
            body += builder.hoisted
            obj = writer.const(trigger.trigger)
            call = "rose" if isinstance(trigger.trigger, runtime.Edge) else "changed"
            body.append(f"d{j} = {obj}.{call}({watched})")
        for j, (builder, holds) in enumerate(guards or ()):
            writer.bind_all(builder)
            body += builder.hoisted
            body.append(f"g{j} = {holds}")
        body += [f"{name} = {test}" for name, test in self.shared.items()]
        body += ["actions = []", "fired = []", "propose = actions.append",
                 "fire = fired.append"]
        pairs = list(zip(self._statements, statements, strict=True))
        if len(pairs) <= _PART_STATEMENTS:
            for i, (code, statement) in enumerate(pairs):
                writer.bind_all(code.builder)
                body += writer.statement(i, code, statement)
        else:
            # A long file: its statements in parts, each a function the tick calls with the
            # values it reads (one function of 16,000 statements took Python's compiler
            # 200 MB at once).
            for first in range(0, len(pairs), _PART_STATEMENTS):
                body.append(self._part(writer, first, pairs[first:first + _PART_STATEMENTS]))
        lets = _tuple(tuple(f"x{let.slot}" for let in self._lets))
        result = ", ".join(["actions", "fired", "None", writer.const(let_names), lets])
        body += [f"{clock}.first = False", f"{clock}.last = n",
                 f"return {writer.const(tuple.__new__)}({writer.const(TickResult)}, ({result}))"]
        # Every slot read anywhere that is an external comes from `values`.
        used = {slot for piece in [*(let.builder for let in self._lets),
                                   *(st.builder for st in self._statements), *self._blocks]
                for slot in piece.loads}
        used.update(slot for plan in statements for slot in plan.read_slots)
        used.update(plan.slot for plan in triggers if plan.slot is not None)
        loads = [f"x{slot} = values[{slot}]" for slot in sorted(used) if slot < externals]
        params = ", ".join(["now", "n", "values", *(f"{b}={b}" for b in writer.bound)])
        # The checks first, then the loads (a short list must not fail on an index).
        checks = 3 if triggers else 2
        lines = [f"def tick({params}):",
                 *(f"    {line}" for line in body[:checks] + loads + body[checks:])]
        self.functions.append(_Function("tick", "\n".join(lines)))
        return "tick"

    def _part(self, writer: _TickWriter, first: int,
              pairs: list[tuple[_StatementCode, StatementPlan]]) -> str:
        """A function for statements `first`, `first + 1`, ... of the tick: it takes the
        locals they read (values, trigger flags, shared tests) and proposes what they
        propose. Returns the tick's line that calls it."""
        part = _TickWriter(self)
        lines: list[str] = []
        slots: set[int] = set()
        blocks: set[int] = set()
        guards: set[int] = set()
        shared: dict[str, None] = {}
        for i, (code, plan) in enumerate(pairs, first):
            part.bind_all(code.builder)
            lines += part.statement(i, code, plan)
            slots.update(code.builder.loads)
            slots.update(plan.read_slots)
            if plan.block is not None:
                blocks.add(plan.block)
            guards.update(plan.guards)
            shared.update(dict.fromkeys(code.builder.shared))
        reads = ["n", "propose", "fire", *(f"x{slot}" for slot in sorted(slots)),
                 *(f"d{block}" for block in sorted(blocks)),
                 *(f"g{guard}" for guard in sorted(guards)), *shared]
        name = f"part_{first}"
        params = ", ".join([*reads, *(f"{b}={b}" for b in part.bound)])
        self.functions.append(_Function(name, "\n".join(
            [f"def {name}({params}):", *(f"    {line}" for line in lines)])))
        return f"{writer.bind_name(name)}({', '.join(reads)})"

    def build(self, later: Collection[str] = ()) -> dict[str, Any]:
        """Compile the functions into the namespace, except those named in `later`: each of
        those is compiled by `build_later` when first asked for (the per-statement functions
        are for tests and benchmarks; a program runs its tick function only).

        The source is compiled a few thousand lines at a time: Python's compiler holds the
        tokens and tree of all it is given, several hundred bytes per token, and a long file
        given at once made the peak memory of a reload several times the program's size."""
        deferred = frozenset(later)
        ordered = [f for f in self.functions if f.name not in deferred] + \
            [f for f in self.functions if f.name in deferred]
        # The whole source, the functions compiled now first: a line number in a traceback
        # is a line of `__source__`, for each batch and the functions compiled later too.
        batch: list[str] = []
        batch_line = 0          # the lines of `__source__` before the batch
        batch_lines = 0
        lines = 0
        for function in ordered:
            if function.name in deferred:
                self._later[function.name] = (lines, function.source)
            else:
                if not batch:
                    batch_line, batch_lines = lines, 0
                batch.append(function.source)
                batch_lines += function.source.count("\n") + 2
                if batch_lines >= _BATCH_LINES:
                    self._run("\n\n".join(batch), batch_line)
                    batch = []
            lines += function.source.count("\n") + 2   # and the blank line after it
        if batch:
            self._run("\n\n".join(batch), batch_line)
        self.namespace["__source__"] = "\n\n".join(f.source for f in ordered)
        return self.namespace

    def build_later(self, name: str) -> Any:
        """A function that `build` left for later, compiled now, in the same namespace (it
        shares the state objects of the others)."""
        if name not in self.namespace:
            offset, source = self._later[name]
            self._run(source, offset)
        return self.namespace[name]

    def _run(self, source: str, first_line: int = 0) -> None:
        """Compile and run `source`, its line 1 numbered `first_line` + 1 in tracebacks."""
        code = compile(source, "<evse-rules program>", "exec")
        if first_line:
            code = _moved(code, first_line)
        exec(code, self.namespace)  # the source is generated from the AST (module doc)


# Lines of generated source compiled at once (see CodeGen.build).
_BATCH_LINES = 4000
# Statements per part of a long tick function (see CodeGen.tick_function).
_PART_STATEMENTS = 200


def _moved(code: CodeType, lines: int) -> CodeType:
    """`code` and the functions it defines with their line numbers `lines` further on (a
    code object's line table counts from its first line)."""
    consts = tuple(_moved(c, lines) if isinstance(c, CodeType) else c for c in code.co_consts)
    return code.replace(co_firstlineno=code.co_firstlineno + lines, co_consts=consts)


class _TickWriter:
    """The parts of the tick function: triggers, statements, proposals."""

    def __init__(self, gen: CodeGen) -> None:
        self.gen = gen
        # Namespace names bound as default arguments, in order (a dict: thousands of them in
        # a long file, and a list would be searched at every use).
        self._bound: dict[str, None] = {}

    @property
    def bound(self) -> list[str]:
        return list(self._bound)

    def bind_all(self, builder: _FunctionBuilder) -> None:
        for name in builder.bound:
            self._bound[name] = None

    def const(self, value: Any) -> str:
        return self.bind_name(self.gen.constant(value))

    def bind_name(self, name: str) -> str:
        self._bound[name] = None
        return name

    def trigger(self, plan: TriggerPlan) -> str:
        """Code for whether a block is due at this tick."""
        trigger = self.const(plan.trigger)
        if isinstance(plan.trigger, runtime.OnStart):
            return "first"
        if plan.slot is not None:
            return f"{trigger}.changed(x{plan.slot})"
        if isinstance(plan.trigger, runtime.At | runtime.Cron):
            # A float comparison first: the datetime arithmetic only when it may be due.
            return f"n >= {trigger}.next_n and {trigger}.due(now, n, first)"
        return f"{trigger}.due(now, n, first)"

    def statement(self, i: int, code: _StatementCode, plan: StatementPlan) -> list[str]:
        lines: list[str] = [f"# statement {i}", *code.builder.hoisted]
        if code.truth is None:
            lines += self.branch(i, plan, plan.then, code.then)
        else:
            lines.append(f"if {code.truth}:")
            lines += [f"    {line}" for line in self.branch(i, plan, plan.then, code.then)]
            if plan.otherwise:
                lines.append("else:")
                lines += [f"    {line}" for line in self.branch(i, plan, plan.otherwise,
                                                                code.otherwise)]
        if plan.block is not None:
            lines = [f"if d{plan.block}:", *(f"    {line}" for line in lines)]
        if plan.guards:
            # Outside its blocks a statement does not run, and its `for` clocks start again
            # when the blocks hold again (a condition held yesterday evening is not held).
            test = " and ".join(f"g{g}" for g in plan.guards)
            lines = [f"if {test}:", *(f"    {line}" for line in lines)]
            if code.builder.clocks:
                lines.append("else:")
                lines += [f"    {clock}.since = None" for clock in code.builder.clocks]
        return lines

    def branch(self, i: int, plan: StatementPlan, actions: tuple[ActionPlan, ...],
               codes: tuple[str, ...]) -> list[str]:
        """A branch taken: the statement fired; its proposals, each with the reason's raw
        values (one tuple for the branch)."""
        ref = self.const(plan.ref)
        out = [f"fire({ref})"]
        raw = "()"
        if actions and plan.read_slots:
            raw = f"r{i}_w"
            out.append(f"{raw} = {_tuple(tuple(f'x{slot}' for slot in plan.read_slots))}")
        new, action_type = self.const(tuple.__new__), self.const(ProposedAction)
        reads = self.const(plan.reads)
        for k, (action, value) in enumerate(zip(actions, codes, strict=True)):
            if action.kind is ActionKind.PLAN and value != "None":
                out += self._plan(i, k, action, value, (ref, reads, raw))
                continue
            checked = action.kind in _CHECKED_VALUES and value != "None"
            if action.kind is ActionKind.SET_MODE:
                value = self.const(action.mode)
            elif checked:
                out.append(f"r{i}_a{k} = {value}")
                value = f"r{i}_a{k}"
            fields = ", ".join([self.const(action.kind), ref, self.const(action.charger),
                                self.const(action.name), value, "()", reads, raw,
                                repr(action.safety), "None"])
            append = f"propose({new}({action_type}, ({fields})))"
            if checked:
                out.append(f"if {value} is not None and ({value}.__class__ is not "
                           f"{self.const(float)} or {value} - {value} == 0.0):")
                out.append(f"    {append}")
            elif action.kind not in _CHECKED_VALUES:
                out.append(append)
        return out

    def _plan(self, i: int, k: int, action: ActionPlan, value: str,
              why: tuple[str, str, str]) -> list[str]:
        """A plan's proposal: only when its energy and its deadline are known and finite
        (a stale input never asks for a plan). `why`: the code of the rule, the names its
        reason reads and their raw values."""
        ref, reads, raw = why
        energy, by = f"r{i}_a{k}", f"r{i}_b{k}"
        fields = ", ".join([self.const(ActionKind.PLAN), ref, self.const(action.charger),
                            "None", energy, "()", reads, raw, "False", by])
        new, action_type = self.const(tuple.__new__), self.const(ProposedAction)
        return [f"{energy}, {by} = {value}",
                f"if {energy} is not None and {by} is not None and {energy} - {energy} == 0.0 "
                f"and {by} - {by} == 0.0:",
                f"    propose({new}({action_type}, ({fields})))"]


def _tuple(codes: tuple[str, ...]) -> str:
    return "(" + "".join(f"{c}, " for c in codes) + ")"
