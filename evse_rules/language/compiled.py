"""The compiled program: what `load_program` returns and the engine ticks.

Values live in one list per tick: the externals first (in `Program.externals` order, as
the engine passes them), then the built-ins computed from `now`, then the `let` values.
Generated functions read that list by index; nothing is looked up by name while ticking.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from datetime import datetime
from math import isfinite
from typing import Any

from evse_rules.language import ast, runtime
from evse_rules.language.checked import (
    CheckedAction,
    CheckedProgram,
    CheckedTrigger,
    Symbol,
    SymbolKind,
)
from evse_rules.language.compile import CodeGen, formatter
from evse_rules.language.names import BUILTINS, TIME_TYPE, WEEKDAYS
from evse_rules.language.program import (
    ActionKind,
    External,
    ExternalKind,
    ProposedAction,
    RuleRef,
    TickResult,
    Value,
    VariableDecl,
)

_EXTERNAL_KIND = {
    SymbolKind.INPUT: ExternalKind.INPUT,
    SymbolKind.CHARGER: ExternalKind.CHARGER,
    SymbolKind.VARIABLE: ExternalKind.VARIABLE,
}
_BUILTIN_ORDER = ("now", "time", "hour", "weekday", "date")


@dataclass(frozen=True, slots=True)
class _ActionTemplate:
    kind: ActionKind
    charger: str | None
    name: str | None
    mode: str | None


@dataclass(frozen=True, slots=True)
class _Rule:
    ref: RuleRef
    block: int | None
    function: Callable[[list[Value], float], tuple[int, tuple[Value, ...]] | None]
    branches: tuple[tuple[_ActionTemplate, ...], tuple[_ActionTemplate, ...]]
    why: tuple[tuple[str, int, Callable[[Value], str]], ...]


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
                                   *(s for s, _ in checked.variables)]
        self._externals = tuple(External(s.name, _EXTERNAL_KIND[s.kind], s.type)
                                for s in externals)
        self._variables = tuple(VariableDecl(s.name, s.type, default)
                                for s, default in checked.variables)
        slots = {s.name: i for i, s in enumerate(externals)}
        base = len(externals)
        for offset, name in enumerate(_BUILTIN_ORDER):
            slots[name] = base + offset
        let_base = base + len(_BUILTIN_ORDER)
        for offset, (symbol, _) in enumerate(checked.lets):
            slots[symbol.name] = let_base + offset
        self._slot_count = let_base + len(checked.lets)
        self._let_names = tuple(s.name for s, _ in checked.lets)
        self._let_slots = tuple(range(let_base, self._slot_count))
        self._let_pairs = tuple(zip(self._let_names, self._let_slots, strict=True))
        self._let_padding = (None,) * len(self._let_slots)
        # The built-ins are only computed when some rule reads one.
        self._needs_builtins = any(s.kind is SymbolKind.BUILTIN
                                   for s in checked.symbols.values()) or any(
            _has_between(st.statement) for st in checked.statements) or any(
            _has_between(e) for _, e in checked.lets)

        gen = CodeGen(checked, slots, Symbol("time", SymbolKind.BUILTIN, TIME_TYPE))
        let_names = [gen.let_function(i, expr) for i, (_, expr) in enumerate(checked.lets)]
        rule_names: list[str] = []
        for i, statement in enumerate(checked.statements):
            condition = statement.statement.condition if isinstance(
                statement.statement, ast.IfStmt) else None
            rule_names.append(gen.statement_function(i, condition, statement.then,
                                                     statement.otherwise))
        namespace = gen.build()
        self.source: str = namespace["__source__"]
        self._states = gen.states
        self._lets = tuple(zip(self._let_slots, (namespace[n] for n in let_names), strict=True))

        lines = {f.path: f.lines for f in checked.files}
        rules: list[_Rule] = []
        for i, statement in enumerate(checked.statements):
            loc = statement.statement.loc
            text = lines[loc.file][loc.line - 1].strip() if loc.line <= len(
                lines[loc.file]) else ""
            ref = RuleRef(i, loc.file, loc.line, loc.col, text)
            trigger = checked.triggers[statement.block] if statement.block is not None else None
            why = self._why(checked, trigger, statement.statement,
                            statement.then + statement.otherwise,
                            slots)
            branches = (tuple(_template(a) for a in statement.then),
                        tuple(_template(a) for a in statement.otherwise))
            rules.append(_Rule(ref, statement.block, namespace[rule_names[i]], branches, why))
        self._rules = tuple(rules)
        self._rule_refs = tuple(rule.ref for rule in rules)
        self._triggers = tuple(_trigger(t, slots) for t in checked.triggers)
        self.statement_count = len(rules) + checked.declarations
        self._first = True
        self._last: float | None = None

    @staticmethod
    def _why(checked: CheckedProgram, trigger: CheckedTrigger | None,
             statement: ast.Statement, actions: tuple[CheckedAction, ...],
             slots: dict[str, int]) -> tuple[tuple[str, int, Callable[[Value], str]], ...]:
        """The names a rule's reason shows: what `on change of` watched, what the condition
        and the actions read."""
        seen: dict[str, tuple[str, int, Callable[[Value], str]]] = {}
        if trigger is not None and trigger.symbol is not None \
                and isinstance(trigger.trigger, ast.OnChange):
            label = trigger.trigger.name.text
            seen[label] = (label, slots[trigger.symbol.name], formatter(trigger.symbol.type))
        condition = statement.condition if isinstance(statement, ast.IfStmt) else ()
        if isinstance(statement, ast.IfStmt) and _has_between(statement.condition):
            seen["time"] = ("time", slots["time"], formatter(TIME_TYPE))
        for name in _names_in((condition, actions)):
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

    def rule_function(self, index: int) -> Callable[[list[Value], float],
                                                    tuple[int, tuple[Value, ...]] | None]:
        """The compiled function of statement `index`, for tests and benchmarks. Call it with
        `slot_values(...)` and the time in seconds; it returns None (nothing fired) or the
        branch taken (0 then, 1 else) with the values of its actions."""
        return self._rules[index].function

    def slot_values(self, values: list[Value], now: datetime | None = None) -> list[Value]:
        """The list compiled code reads: the externals, the built-ins at `now` (unknown
        without it) and the `let` values computed from them."""
        v: list[Value] = list(values)
        v += _builtins(now) if now is not None else [None] * len(_BUILTIN_ORDER)
        v += [None] * len(self._let_slots)
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
        n = now.timestamp()
        if self._last is not None and n < self._last:
            raise ValueError("time went backwards: call reset() before replaying again")
        v: list[Value] = [*values, *(_builtins(now) if self._needs_builtins
                                     else _NO_BUILTINS), *self._let_padding]
        for slot, function in self._lets:
            v[slot] = function(v, n)
        first = self._first
        due = [trigger.due(now, n, v, first) for trigger in self._triggers]
        actions: list[ProposedAction] = []
        fired: list[RuleRef] = []
        for rule in self._rules:
            if rule.block is not None and not due[rule.block]:
                continue
            outcome = rule.function(v, n)
            if outcome is None:
                continue
            branch, results = outcome
            ref = rule.ref
            fired.append(ref)
            why = tuple([(label, show(v[slot])) for label, slot, show in rule.why])
            for template, value in zip(rule.branches[branch], results, strict=True):
                kind = template.kind
                if kind is _SET_MODE:
                    value = template.mode
                elif (kind is _SET_AMPS or kind is _SET_VAR) and (
                        value is None or (type(value) is float and not isfinite(value))):
                    continue    # an unknown value (or NaN, infinity) proposes nothing
                actions.append(ProposedAction(kind, ref, template.charger, template.name,
                                              value, why))
        self._first = False
        self._last = n
        lets = {name: v[slot] for name, slot in self._let_pairs}
        return TickResult(actions, fired, lets)

    def reset(self) -> None:
        for state in self._states:
            state.reset()
        for trigger in self._triggers:
            trigger.reset()
        self._first = True
        self._last = None


_SET_MODE = ActionKind.SET_MODE
_SET_AMPS = ActionKind.SET_AMPS
_SET_VAR = ActionKind.SET_VAR
_NO_BUILTINS: tuple[Value, ...] = (None,) * len(_BUILTIN_ORDER)


def _builtins(now: datetime) -> list[Value]:
    seconds = now.hour * 3600 + now.minute * 60 + now.second + now.microsecond / 1e6
    return [now.isoformat(timespec="seconds"), float(seconds), float(now.hour),
            WEEKDAYS[now.weekday()], now.date().isoformat()]


def _has_between(node: Any) -> bool:
    if isinstance(node, ast.Between):
        return node.subject is None or _has_between((node.subject, node.low, node.high))
    if isinstance(node, tuple):
        return any(_has_between(item) for item in node)
    if hasattr(node, "__dataclass_fields__") and not isinstance(node, ast.Ident):
        return any(_has_between(getattr(node, name)) for name in _children(node))
    return False


def _template(action: CheckedAction) -> _ActionTemplate:
    name = action.variable.name if action.variable is not None else None
    return _ActionTemplate(action.kind, action.charger, name, action.mode)


def _trigger(checked: Any, slots: dict[str, int]) -> runtime.Trigger:
    trigger = checked.trigger
    if isinstance(trigger, ast.Every):
        return runtime.Every(trigger.period.value)
    if isinstance(trigger, ast.At):
        return runtime.At(trigger.time.seconds, checked.days)
    if isinstance(trigger, ast.Cron):
        return runtime.Cron(trigger.expression)
    if isinstance(trigger, ast.OnChange):
        return runtime.OnChange(slots[checked.symbol.name])
    return runtime.OnStart()


assert set(_BUILTIN_ORDER) == set(BUILTINS)
