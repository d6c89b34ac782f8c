"""The checker: names, units, types, triggers and actions of parsed rule files.

It reads the AST and never changes it. Every problem becomes a SourceError and checking
goes on, so that a file's errors are reported together; an expression whose type could not
be found has type None and is not complained about again (no cascades). The result, a
`CheckedProgram`, holds what the compiler needs: each name's symbol, each expression's type,
the resolved actions and triggers.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum

from croniter import croniter

from evse_rules.errors import Location, SourceError
from evse_rules.language import ast
from evse_rules.language.names import (
    BOOLEAN_TYPE,
    BUILTINS,
    CHARGER_PROPERTIES,
    DAY_NAMES,
    FUNCTIONS,
    NUMBER_TYPE,
    TEXT_TYPE,
    TIME_TYPE,
)
from evse_rules.language.program import MODES, ActionKind, Environment, Kind, Value, ValueType
from evse_rules.language.units import (
    DISPLAY_UNITS,
    DURATION,
    NUMBER,
    UNITS,
    Dimension,
    UnitError,
    lookup_unit,
)


class SymbolKind(str, Enum):  # noqa: UP042 (str() must stay the member name)
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


@dataclass(frozen=True, slots=True)
class CheckedStatement:
    statement: ast.Statement
    block: int | None                      # index into CheckedProgram.triggers; None: every tick
    then: tuple[CheckedAction, ...]
    otherwise: tuple[CheckedAction, ...]


@dataclass(frozen=True, slots=True)
class CheckedTrigger:
    trigger: ast.Trigger
    days: tuple[int, ...] = ()             # `at ... on`: weekday numbers (0 = Monday)
    symbol: Symbol | None = None           # `on change of`


@dataclass(slots=True)
class CheckedProgram:
    files: tuple[ast.RuleFile, ...]
    chargers: tuple[str, ...]
    inputs: list[Symbol] = field(default_factory=list)
    variables: list[tuple[Symbol, Value]] = field(default_factory=list)
    lets: list[tuple[Symbol, ast.Expr]] = field(default_factory=list)
    triggers: list[CheckedTrigger] = field(default_factory=list)
    statements: list[CheckedStatement] = field(default_factory=list)
    # Keyed by id() of AST nodes (the nodes live as long as `files`).
    types: dict[int, ValueType] = field(default_factory=dict)
    symbols: dict[int, Symbol] = field(default_factory=dict)
    windows: dict[int, str] = field(default_factory=dict)   # id(Call) -> avg / min / max
    charger_symbols: list[Symbol] = field(default_factory=list)
    declarations: int = 0


def _did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """"; did you mean X?" for the closest candidate (case does not count), or ""."""
    by_lower = {c.lower(): c for c in candidates}
    close = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.6)
    return f"; did you mean {by_lower[close[0]]}?" if close else ""


def _choices(values: Sequence[str]) -> str:
    if len(values) <= 1:
        return "".join(values)
    return ", ".join(values[:-1]) + " or " + values[-1]


def _type_name(vtype: ValueType) -> str:
    if vtype.kind is Kind.NUMBER:
        return vtype.dimension.name
    if vtype.kind is Kind.ENUM:
        return "a choice of " + ", ".join(vtype.choices)
    if vtype.kind is Kind.TIME:
        return "a time of day"
    return str(vtype.kind.value)


def _is_zero(expr: ast.Expr) -> bool:
    return isinstance(expr, ast.NumberLit) and expr.value == 0 and expr.unit is None


_ORDERING = ("<", "<=", ">", ">=")
# Deeper expressions are refused: nobody writes them, and the compiled code must stay
# within Python's own nesting limits.
MAX_DEPTH = 40
_EQUALITY = ("==", "!=")


class Checker:
    """Checks files against an environment; `run` returns the program and the errors."""

    def __init__(self, files: Sequence[ast.RuleFile], env: Environment) -> None:
        self.files = tuple(files)
        self.env = env
        self.errors: list[SourceError] = []
        self.lines = {f.path: f.lines for f in files}
        self.chargers: tuple[str, ...] = env.chargers
        self.symbols: dict[str, Symbol] = {}
        self.let_order: dict[str, int] = {}
        self.current_let: int | None = None
        self.program = CheckedProgram(self.files, self.chargers)
        self.charger_symbols: dict[str, Symbol] = {}
        self.broken: set[str] = set()     # lets whose expression has an error
        self.depth = 0
        self.deep_reported = False

    # ---- reporting --------------------------------------------------------------------------

    def error(self, loc: Location, message: str) -> None:
        lines = self.lines.get(loc.file, ())
        source = lines[loc.line - 1] if 0 < loc.line <= len(lines) else None
        self.errors.append(SourceError(loc, message, source))

    # ---- the passes -------------------------------------------------------------------------

    def run(self) -> tuple[CheckedProgram, list[SourceError]]:
        self._chargers()
        self.program.chargers = self.chargers
        for name, input_type in self.env.inputs.items():
            symbol = Symbol(name, SymbolKind.INPUT, input_type)
            self.symbols[name] = symbol
            self.program.inputs.append(symbol)
        self._declarations()
        for symbol, expr in list(self.program.lets):
            self.current_let = self.let_order[symbol.name]
            vtype = self.expr(expr)
            self.current_let = None
            if vtype is None:
                self.broken.add(symbol.name)
            else:
                # The let's type is its expression's: fix the symbol made at declaration.
                fixed = Symbol(symbol.name, symbol.kind, vtype, symbol.decl)
                self.symbols[symbol.name] = fixed
        self.program.lets = [(self.symbols[s.name], e) for s, e in self.program.lets]
        for file in self.files:
            for item in file.items:
                if isinstance(item, ast.Block):
                    self._block(item)
                elif isinstance(item, (ast.IfStmt, ast.DoStmt)):
                    self._statement(item, None)
        # Symbols of lets were fixed after some uses were resolved: point those at the fixed.
        for key, symbol in self.program.symbols.items():
            if symbol.kind is SymbolKind.LET:
                self.program.symbols[key] = self.symbols.get(symbol.name, symbol)
        self.program.charger_symbols = list(self.charger_symbols.values())
        return self.program, self.errors

    def _chargers(self) -> None:
        declared: list[ast.Ident] = []
        for file in self.files:
            for item in file.items:
                if isinstance(item, ast.ChargerDecl):
                    seen: set[str] = set()
                    for ident in item.names:
                        if ident.name in seen:
                            self.error(ident.loc, f"charger {ident.name} is listed twice")
                        seen.add(ident.name)
                        declared.append(ident)
                    self.program.declarations += 1
        if not declared:
            return
        if self.env.chargers == Environment().chargers:
            # No config (the default charger `evse`): the files say which chargers they drive.
            names: list[str] = []
            for ident in declared:
                if ident.name not in names:
                    names.append(ident.name)
            self.chargers = tuple(names)
            return
        for ident in declared:
            if ident.name not in self.env.chargers:
                self.error(ident.loc, f"charger {ident.name} is not in the config (chargers: "
                           f"{', '.join(self.env.chargers)})"
                           + _did_you_mean(ident.name, self.env.chargers))

    def _reserved(self, ident: ast.Ident, what: str) -> bool:
        """Report a declared name that would hide another meaning; True if it does."""
        name = ident.name
        if name in BUILTINS:
            self.error(ident.loc, f"{what} {name} would hide the built-in {name}")
        elif name in CHARGER_PROPERTIES:
            self.error(ident.loc, f"{what} {name} would hide the charger property {name}")
        elif name in self.chargers:
            self.error(ident.loc, f"{what} {name} would hide the charger {name}")
        elif name in FUNCTIONS:
            self.error(ident.loc, f"{what} {name} would hide the function {name}")
        else:
            return False
        return True

    def _declare(self, ident: ast.Ident, symbol: Symbol, what: str) -> bool:
        if self._reserved(ident, what):
            return False
        existing = self.symbols.get(ident.name)
        if existing is not None:
            where = f", first declared at {existing.decl}" if existing.decl else \
                " by the config"
            self.error(ident.loc, f"{ident.name} is already declared as {existing.kind.value}"
                       f"{where}")
            return False
        self.symbols[ident.name] = symbol
        return True

    def _declarations(self) -> None:
        for file in self.files:
            inputs_here: set[str] = set()
            for item in file.items:
                if isinstance(item, ast.InputDecl):
                    self.program.declarations += 1
                    self._input(item, inputs_here)
                elif isinstance(item, ast.LetDecl):
                    self.program.declarations += 1
                    # The type is found when the expression is checked (in declaration order).
                    symbol = Symbol(item.name.name, SymbolKind.LET, NUMBER_TYPE, item.name.loc)
                    if self._declare(item.name, symbol, "let"):
                        self.let_order[item.name.name] = len(self.program.lets)
                        self.program.lets.append((symbol, item.expr))
                elif isinstance(item, ast.VarDecl):
                    self.program.declarations += 1
                    self._var(item)

    def _type_spec(self, spec: ast.TypeSpec) -> ValueType | None:
        text = spec.text
        if text in ("number", "boolean", "text"):
            return {"number": NUMBER_TYPE, "boolean": BOOLEAN_TYPE, "text": TEXT_TYPE}[text]
        try:
            unit = lookup_unit(text)
        except UnitError:
            known = ["number", "boolean", "text", *UNITS]
            self.error(spec.loc, f"unknown type {text}: write a unit ({', '.join(UNITS)}), "
                       f"number, boolean or text" + _did_you_mean(text, known))
            return None
        return ValueType(Kind.NUMBER, unit.dimension)

    def _input(self, item: ast.InputDecl, here: set[str]) -> None:
        vtype = self._type_spec(item.type)
        name = item.name.name
        if vtype is None or self._reserved(item.name, "input"):
            return
        existing = self.symbols.get(name)
        if existing is None:
            symbol = Symbol(name, SymbolKind.INPUT, vtype, item.name.loc)
            self.symbols[name] = symbol
            self.program.inputs.append(symbol)
        elif existing.kind is not SymbolKind.INPUT:
            self.error(item.name.loc, f"{name} is already declared as {existing.kind.value}, "
                       f"at {existing.decl}")
        elif name in here:
            self.error(item.name.loc, f"input {name} is declared twice in this file")
        elif existing.type != vtype:
            where = f"at {existing.decl}" if existing.decl else "by the config"
            self.error(item.type.loc, f"input {name} is {_type_name(existing.type)} {where}, "
                       f"not {_type_name(vtype)}")
        here.add(name)

    def _var(self, item: ast.VarDecl) -> None:
        vtype = self._type_spec(item.type)
        default = self._literal(item.default)
        if vtype is None:
            return
        symbol = Symbol(item.name.name, SymbolKind.VARIABLE, vtype, item.name.loc)
        if not self._declare(item.name, symbol, "var"):
            return
        if default is _NOT_LITERAL:
            self.error(item.default.loc, "a variable's default must be a plain value, like "
                       "20 kWh, true or \"text\"")
            return
        dtype = self.expr(item.default)
        if dtype is not None and not self._assignable(vtype, dtype, item.default):
            self.error(item.default.loc, f"the default of {item.name.name} must be "
                       f"{_type_name(vtype)}, found {_type_name(dtype)}"
                       + _unit_hint(vtype, item.default))
            return
        assert default is None or isinstance(default, float | bool | str)
        self.program.variables.append((symbol, default))

    @staticmethod
    def _literal(expr: ast.Expr) -> Value | object:
        if isinstance(expr, ast.NumberLit):
            return expr.value
        if isinstance(expr, (ast.BoolLit, ast.TextLit)):
            return expr.value
        return _NOT_LITERAL

    @staticmethod
    def _assignable(target: ValueType, value: ValueType, expr: ast.Expr) -> bool:
        if target == value:
            return True
        return target.kind is Kind.NUMBER and value.kind is Kind.NUMBER and _is_zero(expr)

    # ---- blocks, statements, actions --------------------------------------------------------

    def _block(self, block: ast.Block) -> None:
        trigger = block.trigger
        checked = CheckedTrigger(trigger)
        if isinstance(trigger, ast.Every):
            self._duration(trigger.period, "every")
        elif isinstance(trigger, ast.At):
            self._time(trigger.time)
            days: list[int] = []
            order = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
            for ident in trigger.days:
                names = DAY_NAMES.get(ident.name.lower())
                if names is None:
                    self.error(ident.loc, f"unknown day {ident.name}: write mon, tue, wed, thu, "
                               "fri, sat, sun, weekdays or weekend"
                               + _did_you_mean(ident.name.lower(), DAY_NAMES))
                    continue
                days.extend(order.index(n) for n in names if order.index(n) not in days)
            checked = CheckedTrigger(trigger, days=tuple(sorted(days)))
        elif isinstance(trigger, ast.Cron):
            self._cron(trigger)
        elif isinstance(trigger, ast.OnChange):
            symbol = self.resolve(trigger.name)
            checked = CheckedTrigger(trigger, symbol=symbol)
        index = len(self.program.triggers)
        self.program.triggers.append(checked)
        for statement in block.statements:
            self._statement(statement, index)

    def _cron(self, trigger: ast.Cron) -> None:
        fields = trigger.expression.split()
        if len(fields) != 5:
            self.error(trigger.expression_loc, f"a cron expression has 5 fields (minute hour "
                       f"day month weekday), found {len(fields)}")
            return
        try:
            croniter(trigger.expression)
        except Exception as error:  # croniter raises several types for bad expressions
            self.error(trigger.expression_loc, f"invalid cron expression "
                       f"\"{trigger.expression}\": {error}")

    def _statement(self, statement: ast.Statement, block: int | None) -> None:
        if isinstance(statement, ast.IfStmt):
            self.condition(statement.condition)
            then = self._actions(statement.then)
            otherwise = self._actions(statement.otherwise)
        else:
            then = self._actions(statement.actions)
            otherwise = ()
        self.program.statements.append(CheckedStatement(statement, block, then, otherwise))

    def _actions(self, actions: tuple[ast.Action, ...]) -> tuple[CheckedAction, ...]:
        checked = []
        for action in actions:
            result = self._action(action)
            if result is not None:
                checked.append(result)
        return tuple(checked)

    def _charger(self, ident: ast.Ident | None, loc: Location, what: str,
                 pattern: str) -> str | None:
        """The charger an action names, or the only one; `pattern` shows how to name it."""
        if ident is not None:
            if ident.name in self.chargers:
                return ident.name
            self.error(ident.loc, f"unknown charger {ident.name} (chargers: "
                       f"{', '.join(self.chargers)})" + _did_you_mean(ident.name, self.chargers))
            return None
        if len(self.chargers) == 1:
            return self.chargers[0]
        if not self.chargers:
            self.error(loc, f"{what} needs a charger, and none is configured")
            return None
        self.error(loc, f"{what} must name its charger when there are several: "
                   + _choices([pattern.replace("CHARGER", c) for c in self.chargers]))
        return None

    def _action(self, action: ast.Action) -> CheckedAction | None:
        if isinstance(action, ast.RunAction):
            word = "start" if action.start else "stop"
            charger = self._charger(action.charger, action.loc, word, f"{word} CHARGER")
            kind = ActionKind.START if action.start else ActionKind.STOP
            return CheckedAction(kind, action.loc, charger=charger)
        if isinstance(action, ast.LogAction):
            for part in action.parts:
                if not isinstance(part, str):
                    self.expr(part)
            return CheckedAction(ActionKind.LOG, action.loc, parts=action.parts)
        return self._set(action)

    def _set(self, action: ast.SetAction) -> CheckedAction | None:
        target = action.target.name
        if action.charger is not None or (target in ("amps", "mode")
                                          and target not in self.symbols):
            if target not in ("amps", "mode"):
                if target in CHARGER_PROPERTIES:
                    self.error(action.target.loc, f"{target} of a charger cannot be set: rules "
                               "set amps and mode")
                else:
                    self.error(action.target.loc, f"unknown charger setting {target}: rules set "
                               "amps and mode" + _did_you_mean(target, ("amps", "mode")))
                self.expr(action.value)
                return None
            charger = self._charger(action.charger, action.loc, f"set {target}",
                                    f"set {target} of CHARGER")
            if target == "amps":
                return self._set_amps(action, charger)
            return self._set_mode(action, charger)
        symbol = self.symbols.get(target)
        vtype = self.expr(action.value)
        if symbol is None:
            known = [s.name for s in self.symbols.values() if s.kind is SymbolKind.VARIABLE]
            hint = _did_you_mean(target, [*known, "amps", "mode"])
            if target in CHARGER_PROPERTIES:
                self.error(action.target.loc, f"{target} of a charger cannot be set: rules set "
                           "amps and mode")
            elif target in BUILTINS:
                self.error(action.target.loc, f"cannot set {target}: it is a built-in; only "
                           "variables declared with var can be set")
            else:
                self.error(action.target.loc, f"unknown variable {target}: declare it with "
                           f"`var {target}: TYPE = DEFAULT`" + hint)
            return None
        if symbol.kind is not SymbolKind.VARIABLE:
            self.error(action.target.loc, f"cannot set {target}: it is {_article(symbol.kind)}; "
                       "only variables declared with var can be set")
            return None
        if vtype is not None and not self._assignable(symbol.type, vtype, action.value):
            self.error(action.value.loc, f"cannot set {target} ({_type_name(symbol.type)}) to "
                       f"{_type_name(vtype)}" + _unit_hint(symbol.type, action.value))
            return None
        return CheckedAction(ActionKind.SET_VAR, action.loc, variable=symbol, value=action.value)

    def _set_amps(self, action: ast.SetAction, charger: str | None) -> CheckedAction | None:
        vtype = self.expr(action.value)
        current = CHARGER_PROPERTIES["amps"]
        if vtype is not None and vtype != current:
            self.error(action.value.loc, f"set amps to needs a current (A), found "
                       f"{_type_name(vtype)}" + _unit_hint(current, action.value))
            return None
        if charger is None or vtype is None:
            return None
        return CheckedAction(ActionKind.SET_AMPS, action.loc, charger=charger, value=action.value)

    def _set_mode(self, action: ast.SetAction, charger: str | None) -> CheckedAction | None:
        value = action.value
        if not isinstance(value, ast.Name) or value.qualifier is not None:
            self.error(value.loc, "set mode to takes auto or manual")
            return None
        if value.name not in MODES:
            self.error(value.loc, f"{value.name} is not a mode: expected {_choices(MODES)}"
                       + _did_you_mean(value.name, MODES))
            return None
        if charger is None:
            return None
        return CheckedAction(ActionKind.SET_MODE, action.loc, charger=charger, mode=value.name)

    # ---- expressions ----------------------------------------------------------------------

    def condition(self, expr: ast.Expr) -> None:
        vtype = self.expr(expr)
        if vtype is not None and vtype.kind is not Kind.BOOLEAN:
            self.error(expr.loc, f"a condition must be true or false, found {_type_name(vtype)}")

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
        assert isinstance(e, ast.For)
        self.condition(e.condition)
        self._duration(e.duration, "for")
        return BOOLEAN_TYPE

    def _number(self, e: ast.NumberLit) -> ValueType | None:
        if e.dimension is None:
            unit = e.unit or ""
            self.error(e.loc, f"unknown unit {unit} (units: {', '.join(UNITS)})"
                       + _did_you_mean(unit, UNITS))
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
                _type_name(vtype)
            self.error(e.loc, f"{what} takes a duration (like 5 min or 30 s), found {found}")
        elif e.value <= 0:
            self.error(e.loc, f"a duration must be positive, found {e.text}")

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
            if name.qualifier not in self.chargers:
                if name.qualifier in self.symbols or name.qualifier in BUILTINS:
                    self.error(name.loc, f"{name.qualifier} is not a charger, so "
                               f"{name.text} means nothing (chargers: "
                               f"{', '.join(self.chargers)})")
                else:
                    self.error(name.loc, f"unknown charger {name.qualifier} (chargers: "
                               f"{', '.join(self.chargers)})"
                               + _did_you_mean(name.qualifier, self.chargers))
                return None
            if name.name not in CHARGER_PROPERTIES:
                self.error(name.loc, f"unknown charger property {name.name} (properties: "
                           f"{', '.join(CHARGER_PROPERTIES)})"
                           + _did_you_mean(name.name, CHARGER_PROPERTIES))
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
        if name.name in CHARGER_PROPERTIES:
            if len(self.chargers) == 1:
                return self._charger_property(self.chargers[0], name.name)
            if not self.chargers:
                self.error(name.loc, f"{name.name} is a charger property, and no charger is "
                           "configured")
                return None
            self.error(name.loc, f"{name.name} is ambiguous with several chargers: write "
                       + _choices([f"{c}.{name.name}" for c in self.chargers]))
            return None
        self.error(name.loc, f"unknown name {name.name}" + self._suggest(name.name))
        return None

    def _suggest(self, word: str) -> str:
        candidates = list(self.symbols) + list(BUILTINS)
        if len(self.chargers) == 1:
            candidates += list(CHARGER_PROPERTIES)
        else:
            candidates += [f"{c}.{p}" for c in self.chargers for p in CHARGER_PROPERTIES]
            close = difflib.get_close_matches(word, CHARGER_PROPERTIES, n=1, cutoff=0.6)
            if close:
                return f"; did you mean {_choices([f'{c}.{close[0]}' for c in self.chargers])}?"
        hint = _did_you_mean(word, candidates)
        if hint:
            return hint
        return f" (declare it with `input {word}: UNIT`, or define it with let or var)"

    def _unary(self, e: ast.Unary) -> ValueType | None:
        if e.op == "not":
            vtype = self.expr(e.operand)
            if vtype is not None and vtype.kind is not Kind.BOOLEAN:
                self.error(e.operand.loc, f"not takes a condition (true or false), found "
                           f"{_type_name(vtype)}")
                return None
            return BOOLEAN_TYPE if vtype is not None else None
        return self._number_arg(e.operand, "-")

    def _number_arg(self, e: ast.Expr, what: str) -> ValueType | None:
        vtype = self.expr(e)
        if vtype is not None and vtype.kind is not Kind.NUMBER:
            self.error(e.loc, f"{what} takes a number, found {_type_name(vtype)}")
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
                               f"{_type_name(vtype)}")
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
            self.error(where.loc, f"{_verb(op)} takes numbers, found {_type_name(bad)}{hint}")
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
            if left.dimension == right.dimension or _is_zero(e.left) or _is_zero(e.right):
                return BOOLEAN_TYPE
            literal = e.right if isinstance(e.right, ast.NumberLit) else e.left
            hint = _unit_hint(left if literal is e.right else right, literal)
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
                self.error(e.loc, f"cannot compare {_type_name(left)} with {_type_name(right)}")
            else:
                self.error(e.loc, f"{op} compares numbers or times, found {_type_name(bad)}"
                           + ("; use is for choices and texts"
                              if bad.kind in (Kind.ENUM, Kind.TEXT) else ""))
            return None
        if left == right:
            return BOOLEAN_TYPE
        if left.kind is Kind.ENUM and right.kind is Kind.ENUM:
            return BOOLEAN_TYPE
        self.error(e.loc, f"cannot compare {_type_name(left)} with {_type_name(right)}")
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
            if e.value not in vtype.choices:
                label = subject.rsplit(".", 1)[-1]
                self.error(e.value_loc, f"{e.value} is not a {label}: expected "
                           f"{_choices(vtype.choices)}" + _did_you_mean(e.value, vtype.choices))
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
        self.error(e.loc, f"is compares choices and texts, found {_type_name(vtype)}; "
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
                               f"found {_type_name(btype)}")
                    return None
            return BOOLEAN_TYPE
        if subject.kind is not Kind.NUMBER:
            assert e.subject is not None
            self.error(e.subject.loc, f"between compares numbers or times, found "
                       f"{_type_name(subject)}")
            return None
        for bound, btype in ((e.low, low), (e.high, high)):
            if btype.kind is not Kind.NUMBER or (btype.dimension != subject.dimension
                                                 and not _is_zero(bound)):
                self.error(bound.loc, f"cannot compare {subject.dimension.name} with "
                           f"{_type_name(btype)}" + _unit_hint(subject, bound))
                return None
        return BOOLEAN_TYPE

    def _call(self, e: ast.Call) -> ValueType | None:
        name = e.function
        if name not in FUNCTIONS or name == "smooth":
            self.error(e.function_loc, f"unknown function {name}"
                       + (_did_you_mean(name, FUNCTIONS) or
                          f" (functions: {', '.join(FUNCTIONS)})"))
            for arg in e.args:
                self.expr(arg)
            return None
        args = e.args
        if name in ("min", "max", "avg") and len(args) == 2 \
                and isinstance(args[1], ast.NumberLit) and args[1].dimension == DURATION:
            first = self.expr(args[0])
            if name == "avg" or (first is not None and first.dimension != DURATION):
                self._duration(args[1], name)
                if first is not None and first.kind is not Kind.NUMBER:
                    self.error(args[0].loc, f"{name} over a time window takes a number, "
                               f"found {_type_name(first)}")
                    return None
                self.program.windows[id(e)] = name
                return first
        if name == "avg":
            self.error(e.loc, f"avg takes a value and a time window: {FUNCTIONS[name]}")
            for arg in args:
                self.expr(arg)
            return None
        if name in ("round", "floor", "ceil", "abs", "known") and len(args) != 1:
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
                self.error(arg.loc, f"{name} takes numbers, found {_type_name(vtype)}")
                return None
            if vtype.dimension != first_type.dimension and not _is_zero(arg):
                self.error(arg.loc, f"{name} mixes {first_type.dimension.name} with "
                           f"{vtype.dimension.name}" + _unit_hint(first_type, arg))
                return None
        return first_type

    def _number_arg_type(self, arg: ast.Expr, vtype: ValueType, name: str) -> ValueType | None:
        if vtype.kind is not Kind.NUMBER:
            self.error(arg.loc, f"{name} takes a number, found {_type_name(vtype)}")
            return None
        return vtype


_NOT_LITERAL = object()


def _article(kind: SymbolKind) -> str:
    return {"input": "an input", "let": "a let", "built-in": "a built-in",
            "charger property": "a charger property", "variable": "a variable"}[kind.value]


def _verb(op: str) -> str:
    return {"+": "+", "-": "-", "*": "*", "/": "/"}.get(op, op)


def _unit_hint(wanted: ValueType, expr: ast.Expr) -> str:
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


def check(files: Sequence[ast.RuleFile], env: Environment) -> tuple[CheckedProgram,
                                                                      list[SourceError]]:
    """Check parsed files together, as one program, against `env`."""
    return Checker(files, env).run()
