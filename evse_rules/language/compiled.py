"""The compiled program: what `load_program` returns and the engine ticks.

Every value has a slot: the externals first (in `Program.externals` order, as the engine
passes them), then the built-ins computed from `now`, then the `let` values. A tick is one
generated function (`CodeGen.tick_function`): it reads the externals from the engine's list
by index, keeps built-ins and lets in locals, asks the triggers, runs the due statements and
builds the proposals, with their reasons as raw values (formatted only when someone reads
them). Nothing is looked up by name while ticking, and nothing is copied.

Each let and statement is also a function of its own over a list of all slots
(`rule_function`, `slot_values`), for tests and benchmarks; both forms share the state
objects (`for`, windows, smoothing). A statement's function is compiled when first asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import fields
from datetime import datetime
from typing import Any

from evse_rules.language import ast, runtime
from evse_rules.language.checked import (
    CheckedAction,
    CheckedProgram,
    CheckedTrigger,
    Symbol,
    SymbolKind,
)
from evse_rules.language.compile import (
    ActionPlan,
    CodeGen,
    StatementPlan,
    TriggerPlan,
    formatter,
)
from evse_rules.language.names import BUILTINS, TIME_TYPE
from evse_rules.language.program import (
    External,
    ExternalKind,
    Formatter,
    RuleRef,
    TickResult,
    Value,
    VariableDecl,
    Waiting,
)
from evse_rules.language.tariffs import external_name, is_series, series_symbols

_EXTERNAL_KIND = {
    SymbolKind.INPUT: ExternalKind.INPUT,
    SymbolKind.CHARGER: ExternalKind.CHARGER,
    SymbolKind.VARIABLE: ExternalKind.VARIABLE,
}
_BUILTIN_ORDER = ("now", "time", "hour", "weekday", "date", "minute")


RuleFunction = Callable[[list[Value], float], tuple[int, tuple[Value, ...]] | None]
# `tick_at(now, timestamp, values)`: the generated tick function (see TimedProgram).
TickFunction = Callable[[datetime, float, list[Value]], TickResult]


_CHILDREN: dict[type, tuple[str, ...]] = {}


def _children(node: Any) -> tuple[str, ...]:
    """The fields of a node that may hold expressions (cached per class)."""
    kind = type(node)
    names = _CHILDREN.get(kind)
    if names is None:
        names = tuple(f.name for f in fields(node) if f.name not in ("loc", "value_loc",
                                                                      "function_loc"))
        _CHILDREN[kind] = names
    return names


def _names_in(node: Any) -> Iterator[ast.Name]:
    """Every Name read by an expression (or a tuple of them), in source order."""
    if isinstance(node, ast.Name):
        yield node
    elif isinstance(node, tuple):
        for item in node:
            yield from _names_in(item)
    elif isinstance(node, CheckedAction):
        yield from _names_in(node.value)
        yield from _names_in(node.parts)
    elif hasattr(node, "__dataclass_fields__") and not isinstance(node, ast.Ident):
        for name in _children(node):
            yield from _names_in(getattr(node, name))


class CompiledProgram:
    """A checked, compiled set of rule files (satisfies `program.Program`)."""

    def __init__(self, checked: CheckedProgram) -> None:
        self._files = tuple(f.path for f in checked.files)
        self._chargers = checked.chargers
        externals: list[Symbol] = [*checked.inputs, *checked.charger_symbols,
                                   *(s for s, _ in checked.variables),
                                   *series_symbols(checked)]
        self._externals = tuple(
            External(external_name(s), ExternalKind.PRICES, s.type) if is_series(s)
            else External(s.name, _EXTERNAL_KIND[s.kind], s.type) for s in externals)
        self._variables = tuple(VariableDecl(s.name, s.type, default)
                                for s, default in checked.variables)
        slots = {s.name: i for i, s in enumerate(externals)}
        base = len(externals)
        for offset, name in enumerate(_BUILTIN_ORDER):
            slots[name] = base + offset
        let_base = base + len(_BUILTIN_ORDER)
        for offset, (symbol, _) in enumerate(checked.lets):
            slots[symbol.name] = let_base + offset
        self._let_names = tuple(s.name for s, _ in checked.lets)
        self._let_padding = (None,) * len(checked.lets)
        # The built-ins are only computed when some rule reads one.
        needs_builtins = any(s.kind is SymbolKind.BUILTIN
                             for s in checked.symbols.values()) or any(
            _has_between(st.statement) for st in checked.statements) or any(
            _has_between(e) for _, e in checked.lets) or any(
            _has_between(g.guard.condition) for g in checked.guards) or any(
            _has_between(t.trigger) for t in checked.triggers) or checked.uses_clock

        gen = CodeGen(checked, slots, Symbol("time", SymbolKind.BUILTIN, TIME_TYPE))
        let_names = [gen.let_function(i, expr, let_base + i)
                     for i, (_, expr) in enumerate(checked.lets)]
        trigger_codes = {}
        for j, checked_trigger in enumerate(checked.triggers):
            node = checked_trigger.trigger
            if isinstance(node, ast.When):
                trigger_codes[j] = gen.block_code(f"w{j}_", node.condition, True)
            elif isinstance(node, ast.OnChange) and checked_trigger.symbol is None:
                trigger_codes[j] = gen.block_code(f"w{j}_", node.subject, False)
        guard_codes = [gen.block_code(f"g{j}_", guard.guard.condition, True)
                       for j, guard in enumerate(checked.guards)]
        rule_names: list[str] = []
        for i, statement in enumerate(checked.statements):
            condition = statement.statement.condition if isinstance(
                statement.statement, ast.IfStmt) else None
            rule_names.append(gen.statement_function(i, condition, statement.then,
                                                     statement.otherwise))

        lines = {f.path: f.lines for f in checked.files}
        plans: list[StatementPlan] = []
        for i, statement in enumerate(checked.statements):
            loc = statement.statement.loc
            text = lines[loc.file][loc.line - 1].strip() if loc.line <= len(
                lines[loc.file]) else ""
            ref = RuleRef(i, loc.file, loc.line, loc.col, text, statement.label)
            trigger = checked.triggers[statement.block] if statement.block is not None else None
            why = self._why(checked, trigger, statement.statement,
                            statement.then + statement.otherwise, slots)
            plans.append(StatementPlan(
                ref, statement.block, tuple(_plan(a) for a in statement.then),
                tuple(_plan(a) for a in statement.otherwise),
                tuple((label, show) for label, _, show in why),
                tuple(slot for _, slot, _ in why), statement.guards))
        self._triggers = tuple(_trigger(t, slots) for t in checked.triggers)
        tick_name = gen.tick_function(
            base, base if needs_builtins else None, self._let_names,
            [TriggerPlan(t, t.slot if isinstance(t, runtime.OnChange) and t.slot >= 0
                         else None)
             for t in self._triggers], plans, trigger_codes, guard_codes)
        # The per-statement functions are compiled on first use (tests and benchmarks): a
        # program ticks with its one tick function, and compiling them would double the cost.
        namespace = gen.build(later=rule_names)
        self.source: str = namespace["__source__"]
        self._states = gen.states
        self._lets = tuple(zip(range(let_base, let_base + len(let_names)),
                               (namespace[n] for n in let_names), strict=True))
        self._gen = gen
        self._rule_names = tuple(rule_names)
        self.tick_at: TickFunction = namespace[tick_name]
        self._rule_refs = tuple(plan.ref for plan in plans)
        # Per statement, its `for` clocks with the actions they hold back (the countdown).
        self._clocks = tuple(
            (plan.ref, tuple(namespace[name] for name in gen.statement_clocks(i)),
             tuple(a.kind for a in plan.then), _one_charger(plan.then))
            for i, plan in enumerate(plans))
        self.statement_count = len(plans) + checked.declarations
        # The unit or type each input was declared with in a file (`input pv: kW` -> "kW"):
        # a replay's column without a unit takes it.
        self.input_units: dict[str, str] = dict(checked.units)
        # Dubious but legal code (`evse-rules check` shows them and exits 0).
        self.warnings = list(checked.warnings)

    @staticmethod
    def _why(checked: CheckedProgram, trigger: CheckedTrigger | None,
             statement: ast.Statement, actions: tuple[CheckedAction, ...],
             slots: dict[str, int]) -> tuple[tuple[str, int, Formatter], ...]:
        """The names a rule's reason shows: what `on change of` watched, what the condition
        and the actions read."""
        seen: dict[str, tuple[str, int, Formatter]] = {}
        watched: Any = ()
        if trigger is not None and isinstance(trigger.trigger, ast.OnChange | ast.When):
            watched = trigger.trigger.subject if isinstance(trigger.trigger, ast.OnChange) \
                else trigger.trigger.condition
        condition = statement.condition if isinstance(statement, ast.IfStmt) else ()
        if isinstance(statement, ast.IfStmt) and _has_between(statement.condition):
            seen["time"] = ("time", slots["time"], formatter(TIME_TYPE))
        for name in _names_in((watched, condition, actions)):
            symbol = checked.symbols.get(id(name))
            if symbol is None or name.text in seen:
                continue
            seen[name.text] = (name.text, slots[symbol.name], formatter(symbol.type))
        return tuple(seen.values())

    # ---- the Program protocol ---------------------------------------------------------------

    @property
    def externals(self) -> tuple[External, ...]:
        return self._externals

    @property
    def variables(self) -> tuple[VariableDecl, ...]:
        return self._variables

    @property
    def rules(self) -> tuple[RuleRef, ...]:
        return self._rule_refs

    @property
    def files(self) -> tuple[str, ...]:
        return self._files

    @property
    def chargers(self) -> tuple[str, ...]:
        """The chargers the program drives (the config's, or those its files declare)."""
        return self._chargers

    @property
    def lets(self) -> tuple[str, ...]:
        """The names of the `let` values, in the order they are computed."""
        return self._let_names

    def waiting(self, now: datetime) -> list[Waiting]:
        """The statements whose `for` clock runs at `now`: their condition has held since the
        clock started, and they act (their `then` actions) in `seconds_left` if it holds."""
        n = now.timestamp()
        found: list[Waiting] = []
        for ref, clocks, kinds, charger in self._clocks:
            left = max((c.duration - (n - c.since) for c in clocks if c.since is not None),
                       default=None)
            if left is not None and left > 0:
                found.append(Waiting(ref, kinds, charger, left))
        return found

    def rule_function(self, index: int) -> RuleFunction:
        """The compiled function of statement `index`, for tests and benchmarks. Call it with
        `slot_values(...)` and the time in seconds; it returns None (nothing fired) or the
        branch taken (0 then, 1 else) with the values of its actions."""
        rule: RuleFunction = self._gen.build_later(self._rule_names[index])
        return rule

    def slot_values(self, values: list[Value], now: datetime | None = None) -> list[Value]:
        """The list compiled code reads: the externals, the built-ins at `now` (unknown
        without it) and the `let` values computed from them."""
        v: list[Value] = list(values)
        v += runtime.builtins_at(now) if now is not None else [None] * len(_BUILTIN_ORDER)
        v += self._let_padding
        n = now.timestamp() if now is not None else 0.0
        for slot, function in self._lets:
            v[slot] = function(v, n)
        return v

    def tick(self, now: datetime, values: list[Value]) -> TickResult:
        if now.tzinfo is None:
            raise ValueError("tick needs a timezone-aware `now`")
        if len(values) != len(self._externals):
            raise ValueError(f"tick needs {len(self._externals)} values (one per external), "
                             f"got {len(values)}")
        return self.tick_at(now, now.timestamp(), values)

    def reset(self) -> None:
        for state in self._states:      # with the tick function's own clock
            state.reset()
        for trigger in self._triggers:
            trigger.reset()


def _has_between(node: Any) -> bool:
    if isinstance(node, ast.Between):
        return node.subject is None or _has_between((node.subject, node.low, node.high))
    if isinstance(node, tuple):
        return any(_has_between(item) for item in node)
    if hasattr(node, "__dataclass_fields__") and not isinstance(node, ast.Ident):
        return any(_has_between(getattr(node, name)) for name in _children(node))
    return False


def _one_charger(actions: tuple[ActionPlan, ...]) -> str | None:
    chargers = {a.charger for a in actions if a.charger is not None}
    return chargers.pop() if len(chargers) == 1 else None


def _plan(action: CheckedAction) -> ActionPlan:
    name = action.variable.name if action.variable is not None else None
    return ActionPlan(action.kind, action.charger, name, action.mode, action.safety)


def _trigger(checked: Any, slots: dict[str, int]) -> runtime.Trigger:
    trigger = checked.trigger
    if isinstance(trigger, ast.Every):
        return runtime.Every(trigger.period.value)
    if isinstance(trigger, ast.At):
        return runtime.At(trigger.time.seconds, checked.days)
    if isinstance(trigger, ast.Cron):
        return runtime.Cron(trigger.expression)
    if isinstance(trigger, ast.OnChange):
        # A name is watched in its slot; an expression is computed by the tick function.
        return runtime.OnChange(slots[checked.symbol.name] if checked.symbol else -1)
    if isinstance(trigger, ast.When):
        return runtime.Edge()
    return runtime.OnStart()


assert set(_BUILTIN_ORDER) == set(BUILTINS)
