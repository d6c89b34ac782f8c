"""The checker: names, units, types, triggers and actions of parsed rule files.

It reads the AST and never changes it. Every problem becomes a SourceError and checking
goes on, so that a file's errors are reported together; an expression whose type could not
be found has type None and is not complained about again (no cascades). The result, a
`CheckedProgram`, holds what the compiler needs: each name's symbol, each expression's type,
the resolved actions and triggers.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache

from croniter import CroniterBadDateError, croniter

from evse_rules.errors import Location, SourceError
from evse_rules.language import ast
from evse_rules.language.checked import (
    CheckedAction,
    CheckedGuard,
    CheckedProgram,
    CheckedStatement,
    CheckedTrigger,
    RuleWarning,
    Symbol,
    SymbolKind,
    article,
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
    NUMBER_TYPE,
    TEXT_TYPE,
)
from evse_rules.language.program import (
    MAX_PLAN_KWH,
    MODES,
    ActionKind,
    Environment,
    Kind,
    Value,
    ValueType,
)
from evse_rules.language.share import share_lets
from evse_rules.language.types import HINT_BUDGET, ExpressionChecker
from evse_rules.language.units import ENERGY, POWER, UNITS, UnitError, lookup_unit

__all__ = ["CheckedAction", "CheckedProgram", "Checker", "Symbol", "SymbolKind", "check"]


class Checker(ExpressionChecker):
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
        self.missing_chargers: set[str] = set()     # declared, but not in the config
        self.hint_budget = HINT_BUDGET
        self.shares: dict[str, ast.Ident] = {}      # charger -> where a share lists it
        self.share_pools: set[str] = set()          # the lets that hold a share's power

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
            if symbol.name in self.share_pools:
                vtype = self._share_power(expr, vtype)
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
                    self._block(item, None, (), ())
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
        if not self.env.chargers_from_config:
            # No config: the files say which chargers they drive.
            names: list[str] = []
            for ident in declared:
                if ident.name not in names:
                    names.append(ident.name)
            self.chargers = tuple(names)
            return
        for ident in declared:
            if ident.name not in self.env.chargers:
                self.missing_chargers.add(ident.name)
                self.error(ident.loc, f"charger {ident.name} is not in the config (chargers: "
                           f"{', '.join(self.env.chargers)})"
                           + self.hint(ident.name, lambda: self.env.chargers,
                                       len(self.env.chargers)))

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
                f" by {self.env.origins.get(ident.name, 'the config')}"
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
                elif isinstance(item, ast.ShareDecl):
                    self.program.declarations += 1
                    self._share(item)

    def _share(self, item: ast.ShareDecl) -> None:
        """A `share` declaration: its chargers, then its lets (see `share`), declared in
        file order among the other lets."""
        listed: set[str] = set()
        ok = True
        for ident in item.chargers:
            name = ident.name
            if name in listed:
                self.error(ident.loc, f"charger {name} is listed twice in this share")
            elif name in self.missing_chargers:
                pass                # reported where the file declares it
            elif name not in self.chargers:
                self.error(ident.loc, f"unknown charger {name} (chargers: "
                           f"{', '.join(self.chargers)})"
                           + self.hint(name, lambda: self.chargers, len(self.chargers)))
            elif name in self.shares:
                self.error(ident.loc, f"charger {name} already takes part in the share at "
                           f"{self.shares[name].loc}: a charger is in one share only")
            else:
                listed.add(name)
                continue
            ok = False
        if not ok:
            return
        for ident in item.chargers:
            self.shares[ident.name] = ident
        first = item.chargers[0]
        self.share_pools.add(f"{first.name}.available")
        where = {ident.name: ident.loc for ident in item.chargers}
        for name, expr in share_lets(item):
            symbol = Symbol(name, SymbolKind.LET, NUMBER_TYPE, where[name.split(".")[0]])
            self.symbols[name] = symbol
            self.let_order[name] = len(self.program.lets)
            self.program.lets.append((symbol, expr))

    def _share_power(self, expr: ast.Expr, vtype: ValueType | None) -> ValueType | None:
        """The type of a share's expression, which must be a power (None when it is not:
        the share's lets are then left out without more errors)."""
        if vtype is not None and vtype != POWER_TYPE:
            self.error(expr.loc, f"share divides a power (W), like pv - house; found "
                       f"{type_name(vtype)}" + unit_hint(POWER_TYPE, expr))
            return None
        return vtype

    def _type_spec(self, spec: ast.TypeSpec) -> ValueType | None:
        text = spec.text
        if text in ("number", "boolean", "text"):
            return {"number": NUMBER_TYPE, "boolean": BOOLEAN_TYPE, "text": TEXT_TYPE}[text]
        try:
            unit = lookup_unit(text)
        except UnitError:
            known = ["number", "boolean", "text", *UNITS]
            self.error(spec.loc, f"unknown type {text}: write a unit ({', '.join(UNITS)}), "
                       f"number, boolean or text" + did_you_mean(text, known))
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
            self.program.units[name] = item.type.text
        elif existing.decl is None and name in self.env.open_types \
                and existing.type != vtype and name not in self.program.units:
            # A column without a unit: the file says what its numbers are.
            symbol = Symbol(name, SymbolKind.INPUT, vtype, item.name.loc)
            self.symbols[name] = symbol
            self.program.inputs[self.program.inputs.index(existing)] = symbol
            self.program.units[name] = item.type.text
        elif existing.kind is not SymbolKind.INPUT:
            self.error(item.name.loc, f"{name} is already declared as {existing.kind.value}, "
                       f"at {existing.decl}")
        elif name in here:
            self.error(item.name.loc, f"input {name} is declared twice in this file")
        elif existing.type != vtype:
            where = f"at {existing.decl}" if existing.decl else \
                f"by {self.env.origins.get(name, 'the config')}"
            self.error(item.type.loc, f"input {name} is {type_name(existing.type)} {where}, "
                       f"not {type_name(vtype)}")
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
                       f"{type_name(vtype)}, found {type_name(dtype)}"
                       + unit_hint(vtype, item.default))
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
        return target.kind is Kind.NUMBER and value.kind is Kind.NUMBER and is_zero(expr)

    # ---- blocks, statements, actions --------------------------------------------------------

    def _block(self, block: ast.Block, outer: int | None, guards: tuple[int, ...],
               labels: tuple[str, ...]) -> None:
        """A block and the blocks it holds; `outer` is the trigger of an enclosing block,
        `guards` the enclosing condition blocks, `labels` how the trace names them."""
        if len(labels) >= MAX_BLOCK_DEPTH:
            self.error(block.trigger.loc, f"blocks nest too deeply (more than "
                       f"{MAX_BLOCK_DEPTH} levels): join conditions with and")
            return
        header = self._header(block)
        if isinstance(block.trigger, ast.Guard):
            self.condition(block.trigger.condition)
            guards = (*guards, len(self.program.guards))
            self.program.guards.append(CheckedGuard(block.trigger))
            index = outer
        elif outer is not None:
            self.error(block.trigger.loc, "a trigger block cannot hold another trigger block "
                       "(a statement has one trigger): put it at the outer level, or use a "
                       "condition block (if, while, between) inside")
            return
        else:
            index = self._trigger(block.trigger)
        labels = (*labels, header)
        for statement in block.statements:
            if isinstance(statement, ast.Block):
                self._block(statement, index, guards, labels)
            else:
                self._statement(statement, index, guards, " > ".join(labels))

    def _header(self, block: ast.Block) -> str:
        """The block's header as the trace shows it: `between 22:00 and 06:00 (f.evr:12)`."""
        loc = block.trigger.loc
        lines = self.lines.get(loc.file, ())
        text = lines[loc.line - 1] if 0 < loc.line <= len(lines) else ""
        if loc.end_line == loc.line:
            text = text[loc.col - 1:loc.end_col - 1]
        text = text.split("#")[0].strip().rstrip(":").strip()
        return f"{text} ({loc.file.rsplit('/', 1)[-1]}:{loc.line})"

    def _trigger(self, trigger: ast.Trigger) -> int:
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
                               + did_you_mean(ident.name.lower(), DAY_NAMES))
                    continue
                days.extend(order.index(n) for n in names if order.index(n) not in days)
            checked = CheckedTrigger(trigger, days=tuple(sorted(days)))
        elif isinstance(trigger, ast.Cron):
            self._cron(trigger)
        elif isinstance(trigger, ast.OnChange):
            subject = trigger.subject
            if isinstance(subject, ast.Name):
                symbol = self.resolve(subject)
                if symbol is not None:
                    self.program.types[id(subject)] = symbol.type
                checked = CheckedTrigger(trigger, symbol=symbol)
            else:
                self.expr(subject)
        elif isinstance(trigger, ast.When):
            self.condition(trigger.condition)
        index = len(self.program.triggers)
        self.program.triggers.append(checked)
        return index

    def _cron(self, trigger: ast.Cron) -> None:
        fields = trigger.expression.split()
        if len(fields) != 5:
            self.error(trigger.expression_loc, f"a cron expression has 5 fields (minute hour "
                       f"day month weekday), found {len(fields)}")
            return
        problem = _cron_problem(trigger.expression)
        if problem is not None:
            self.error(trigger.expression_loc, f"invalid cron expression "
                       f"\"{trigger.expression}\": {problem}")

    def _statement(self, statement: ast.Statement, block: int | None,
                   guards: tuple[int, ...] = (), label: str | None = None) -> None:
        if isinstance(statement, ast.IfStmt):
            self.condition(statement.condition)
            then = self._actions(statement.then)
            otherwise = self._actions(statement.otherwise)
        else:
            then = self._actions(statement.actions)
            otherwise = ()
        self.program.statements.append(CheckedStatement(statement, block, then, otherwise,
                                                        guards, label))
        self._dubious(statement, block, guards)

    def warn(self, loc: Location, message: str) -> None:
        lines = self.lines.get(loc.file, ())
        source = lines[loc.line - 1] if 0 < loc.line <= len(lines) else None
        self.program.warnings.append(RuleWarning(loc, message, source))

    def _dubious(self, statement: ast.Statement, block: int | None,
                 guards: tuple[int, ...]) -> None:
        """Warnings for legal code that rarely does what its writer meant."""
        if isinstance(statement, ast.IfStmt) and statement.otherwise \
                and _tests_auto(statement.condition) \
                and not any(_tests_auto(self.program.guards[g].guard.condition)
                            for g in guards):
            self.warn(statement.otherwise[0].loc, "this else also runs in manual mode (whenever "
                      "mode is not auto), and undoes what a person did by hand: put the rule "
                      "in an `if mode is auto:` block instead")
        trigger = self.program.triggers[block].trigger if block is not None else None
        if isinstance(trigger, ast.Every):
            for call in _calls(statement):
                window = call.args[1] if len(call.args) == 2 else None
                if id(call) in self.program.windows and isinstance(window, ast.NumberLit) \
                        and window.value <= trigger.period.value:
                    self.warn(call.loc, f"{call.function} over {window.text} in a block that "
                              f"runs every {trigger.period.text} sees one sample: compute it "
                              "in a let (lets see every tick)")

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
            if ident.name in self.missing_chargers:
                return None         # reported where the file declares it
            self.error(ident.loc, f"unknown charger {ident.name} (chargers: "
                       f"{', '.join(self.chargers)})"
                       + self.hint(ident.name, lambda: self.chargers, len(self.chargers)))
            return None
        if len(self.chargers) == 1:
            return self.chargers[0]
        if not self.chargers:
            self.error(loc, f"{what} needs a charger, and none is configured")
            return None
        self.error(loc, f"{what} must name its charger when there are several: "
                   + choices([pattern.replace("CHARGER", c) for c in self.chargers]))
        return None

    def _action(self, action: ast.Action) -> CheckedAction | None:
        if isinstance(action, ast.RunAction):
            word = "start" if action.start else "stop"
            charger = self._charger(action.charger, action.loc, word, f"{word} CHARGER")
            kind = ActionKind.START if action.start else ActionKind.STOP
            return CheckedAction(kind, action.loc, charger=charger, safety=action.safety)
        if isinstance(action, ast.LogAction):
            for part in action.parts:
                if not isinstance(part, str):
                    self.expr(part)
            return CheckedAction(ActionKind.LOG, action.loc, parts=action.parts)
        if isinstance(action, ast.PlanAction):
            return self._plan(action)
        return self._set(action)

    def _plan(self, action: ast.PlanAction) -> CheckedAction | None:
        """`plan ENERGY by TIME` (an energy more than 0 and at most MAX_PLAN_KWH when it is
        a constant, a time of day) and `cancel plan`, with their charger."""
        energy, deadline = action.energy, action.deadline
        if energy is None or deadline is None:
            charger = self._charger(action.charger, action.loc, "cancel plan",
                                    "cancel plan CHARGER")
            return None if charger is None else CheckedAction(ActionKind.PLAN, action.loc,
                                                              charger=charger)
        if action.charger is None and isinstance(energy, ast.Name) and \
                energy.qualifier is None and energy.name in self.chargers and \
                energy.name not in self.symbols:
            # `plan garage by 07:00`: the charger is named and the energy left out.
            self.error(energy.loc, f"plan {energy.name} needs an energy before by, like "
                       f"plan {energy.name} 20 kWh by 07:00")
            self.expr(deadline)
            return None
        charger = self._charger(action.charger, action.loc, "plan",
                                "plan CHARGER 20 kWh by 07:00")
        ok = True
        vtype = self.expr(energy)
        if vtype is not None and vtype != ENERGY_TYPE:
            hint = f"; write {energy.text} kWh" if isinstance(energy, ast.NumberLit) \
                and energy.unit is None else ""
            self.error(energy.loc, f"plan takes an energy, like 20 kWh; found "
                       f"{type_name(vtype)}{hint}")
            ok = False
        elif vtype is not None and isinstance(energy, ast.NumberLit) \
                and not 0 < energy.value <= MAX_PLAN_KWH * 3.6e6:
            self.error(energy.loc, f"a plan takes more than 0 and at most {MAX_PLAN_KWH:g} "
                       f"kWh, found {energy.text}")
            ok = False
        dtype = self.expr(deadline)
        if dtype is not None and dtype.kind is not Kind.TIME:
            self.error(deadline.loc, f"the deadline after by must be a time of day, like "
                       f"07:00; found {type_name(dtype)}")
            ok = False
        if charger is None or vtype is None or dtype is None or not ok:
            return None
        # A plan counts what is charged from the charger's session energy: the program
        # reads it, so that whatever gives the statuses (a replay's charger) gives it too.
        self._charger_property(charger, "session_energy")
        return CheckedAction(ActionKind.PLAN, action.loc, charger=charger, value=energy,
                             deadline=deadline)

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
                               "amps and mode" + did_you_mean(target, ("amps", "mode")))
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
            hint = self.hint(target, lambda: [*(s.name for s in self.symbols.values()
                                                if s.kind is SymbolKind.VARIABLE),
                                              "amps", "mode"], len(self.symbols) + 2)
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
            self.error(action.target.loc, f"cannot set {target}: it is {article(symbol.kind)}; "
                       "only variables declared with var can be set")
            return None
        if vtype is not None and not self._assignable(symbol.type, vtype, action.value):
            self.error(action.value.loc, f"cannot set {target} ({type_name(symbol.type)}) to "
                       f"{type_name(vtype)}" + unit_hint(symbol.type, action.value))
            return None
        return CheckedAction(ActionKind.SET_VAR, action.loc, variable=symbol, value=action.value)

    def _set_amps(self, action: ast.SetAction, charger: str | None) -> CheckedAction | None:
        vtype = self.expr(action.value)
        current = CHARGER_PROPERTIES["amps"]
        if vtype is not None and vtype != current:
            self.error(action.value.loc, f"set amps to needs a current (A), found "
                       f"{type_name(vtype)}" + unit_hint(current, action.value))
            return None
        if charger is None or vtype is None:
            return None
        value = action.value
        if isinstance(value, ast.NumberLit):
            # A constant current outside the charger's range would be clamped at every tick:
            # the rule does not do what it says.
            low, high = self.env.limits.get(charger, (6.0, 32.0))
            whence = "the config's" if charger in self.env.limits else "the default"
            if not low <= value.value <= high:
                self.error(value.loc, f"{value.text} is outside {charger}'s {low:g}..{high:g} A "
                           f"({whence} min_amps..max_amps): the engine would clamp it to "
                           f"{min(max(value.value, low), high):g} A at every tick")
                return None
        return CheckedAction(ActionKind.SET_AMPS, action.loc, charger=charger, value=value)

    def _set_mode(self, action: ast.SetAction, charger: str | None) -> CheckedAction | None:
        value = action.value
        if not isinstance(value, ast.Name) or value.qualifier is not None:
            self.error(value.loc, "set mode to takes auto or manual")
            return None
        if value.name not in MODES:
            self.error(value.loc, f"{value.name} is not a mode: expected {choices(MODES)}"
                       + did_you_mean(value.name, MODES))
            return None
        if charger is None:
            return None
        return CheckedAction(ActionKind.SET_MODE, action.loc, charger=charger, mode=value.name)

    # ---- expressions ----------------------------------------------------------------------


def _tests_auto(expr: ast.Expr) -> bool:
    """Whether a condition requires `mode is auto` (alone or in a chain of and)."""
    if isinstance(expr, ast.Is):
        return expr.value == "auto" and not expr.negated and isinstance(expr.subject, ast.Name) \
            and expr.subject.name == "mode"
    if isinstance(expr, ast.Binary) and expr.op == "and":
        return _tests_auto(expr.left) or _tests_auto(expr.right)
    return False


def _calls(node: object) -> list[ast.Call]:
    """The calls in a statement, in source order."""
    found: list[ast.Call] = []
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, tuple):
            stack.extend(reversed(item))
        elif hasattr(item, "__dataclass_fields__") and not isinstance(item, ast.Ident):
            if isinstance(item, ast.Call):
                found.append(item)
            stack.extend(getattr(item, f) for f in reversed(item.__dataclass_fields__)
                         if f not in ("loc", "value_loc", "function_loc"))
    return found


_NOT_LITERAL = object()
POWER_TYPE = ValueType(Kind.NUMBER, POWER)
ENERGY_TYPE = ValueType(Kind.NUMBER, ENERGY)
# Blocks nest at most this deep: nobody writes more, and checking recurses once per level.
MAX_BLOCK_DEPTH = 20


# A cron expression must give a time within this many years of any moment: one that never
# does ("0 0 31 2 *", the 31st of February) would be asked again at every tick in vain.
CRON_YEARS = 5
_CRON_START = datetime(2026, 1, 1, tzinfo=UTC)


@lru_cache(maxsize=256)
def _cron_problem(expression: str) -> str | None:
    """What croniter finds wrong with a cron expression (None: nothing). Files repeat the
    same few expressions, and croniter takes a while to parse one.

    An expression that gives any time gives one within every 4 years from 2026 (the times
    repeat with the leap years; a day of the month and a weekday together mean either), so
    looking 5 years ahead of a fixed date finds a time for every expression that ever fires.
    Only a day no month has ("31 2", "31 4,6") gives none."""
    try:
        croniter(expression, _CRON_START, max_years_between_matches=CRON_YEARS).get_next(
            datetime)
    except CroniterBadDateError:
        return f"it gives no time in {CRON_YEARS} years: no month has that day"
    except Exception as error:  # croniter raises several types for bad expressions
        return str(error)
    return None


def check(files: Sequence[ast.RuleFile], env: Environment) -> tuple[CheckedProgram,
                                                                      list[SourceError]]:
    """Check parsed files together, as one program, against `env`."""
    return Checker(files, env).run()
