"""The state store: every value the rules read, with its time and staleness.

The program reads one flat `values` list aligned with `program.externals`. The store keeps
that list up to date *incrementally*: each setter writes only the positions it owns, and
only when the value changed, so a tick costs nothing for the values that did not move.

Times are the caller's (`at`), never the wall clock: the same store runs live and in a
replay. Values are canonical (see `evse_rules.language.units`): W, A, V, J, s, %.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, cast

from evse_rules.chargers.base import ChargerState, ChargerStatus
from evse_rules.engine.settings import ChargerSettings
from evse_rules.language.program import (
    MODES,
    External,
    ExternalKind,
    Kind,
    Value,
    ValueType,
    VariableDecl,
)
from evse_rules.prices import PriceSeries

if TYPE_CHECKING:
    from evse_rules.engine.plan_store import PlanRecord

_WH = 3600.0            # J per Wh
_KWH = 3_600_000.0      # J per kWh

# How each charger property of DESIGN.md section 5 is read from a status, in canonical units.
_STATUS_PROPERTIES: dict[str, Callable[[ChargerStatus], Value]] = {
    "state": lambda s: s.state.value,
    "vehicle": lambda s: s.vehicle,
    "charging": lambda s: s.state is ChargerState.CHARGING,
    "current": lambda s: s.current,
    "amps": lambda s: s.amps,
    "voltage": lambda s: s.voltage,
    "power": lambda s: s.power,
    "session_energy": lambda s: s.session_energy * _WH,
    "total_energy": lambda s: s.total_energy * _KWH,
    "temp": lambda s: s.temp,
    "online": lambda s: s.state is not ChargerState.OFFLINE,
    # Only a simulated vehicle reports it (SimulatedStatus); unknown for every other charger.
    "soc": lambda s: getattr(s, "soc", None),
}
# Properties the engine derives from the settings and the status together.
_SETTING_PROPERTIES = ("mode", "min_amps", "max_amps", "phases")
CHARGER_PROPERTIES = tuple(_STATUS_PROPERTIES) + _SETTING_PROPERTIES


@dataclass(frozen=True, slots=True)
class Reading:
    """One stored value as a person (or the dashboard) sees it."""

    name: str
    value: Value                 # None when never received or stale
    type: ValueType | None
    updated: datetime | None     # last time a source gave a value
    changed: datetime | None     # last time the value changed
    stale: bool


class _Input:
    __slots__ = ("changed", "indices", "name", "stale", "stale_after", "type", "updated",
                 "value")

    def __init__(self, name: str, type_: ValueType | None, stale_after: float | None) -> None:
        self.name = name
        self.type = type_
        self.stale_after = _window(stale_after)
        self.value: Value = None
        self.updated: datetime | None = None
        self.changed: datetime | None = None
        self.stale = False
        self.indices: tuple[int, ...] = ()


class ChargerRecord:
    """The store's record of one charger. The store writes it; the engine reads `status`
    and `updated` (what `charger_reading` returns) straight from it every step."""

    __slots__ = ("changed", "getters", "limit_indices", "mode", "mode_indices", "settings",
                 "status", "updated")

    def __init__(self, settings: ChargerSettings) -> None:
        self.settings = settings
        self.status: ChargerStatus | None = None
        self.updated: datetime | None = None
        self.changed: datetime | None = None
        self.mode = settings.initial_mode
        # Positions in `values`: (index, getter) for status properties, and the positions of
        # the properties that do not come from the status alone.
        self.getters: tuple[tuple[int, Callable[[ChargerStatus], Value]], ...] = ()
        self.mode_indices: tuple[int, ...] = ()
        self.limit_indices: tuple[tuple[int, str], ...] = ()


class _Variable:
    __slots__ = ("decl", "indices", "value")

    def __init__(self, decl: VariableDecl | None, value: Value) -> None:
        self.decl = decl
        self.value = value
        self.indices: tuple[int, ...] = ()


class StateStore:
    """Inputs, charger statuses, the engine's mode per charger and the user variables.

    Persistence: `on_variable_change(name, value)` and `on_mode_change(charger, mode)` are
    called after every change, and `dirty` turns true; the daemon saves and clears it.
    """

    def __init__(self) -> None:
        self.values: list[Value] = []
        self.externals: tuple[External, ...] = ()
        self._inputs: dict[str, _Input] = {}
        self._chargers: dict[str, ChargerRecord] = {}
        self._variables: dict[str, _Variable] = {}
        # The earliest time at which an input may go stale (None: none can); `expire`
        # has nothing to do before it.
        self.stale_deadline: datetime | None = None
        self.dirty = False
        self.on_variable_change: Callable[[str, Value], None] | None = None
        self.on_mode_change: Callable[[str, str], None] | None = None
        # The last price series read per price input (see evse_rules.prices); the input's
        # value in `values` is the current slot's price, moved on at each slot boundary.
        self._prices: dict[str, PriceSeries] = {}
        self._price_indices: dict[str, tuple[int, ...]] = {}
        self._price_due: dict[str, datetime] = {}      # the next boundary per price input
        # The charge plan of each charger that has one (engine/plan_book.py): kept here
        # because it persists with the modes and variables.
        self.plans: dict[str, PlanRecord] = {}

    # -- declarations ---------------------------------------------------------------------

    def declare_input(
        self, name: str, type: ValueType | None = None, stale_after: float | None = None
    ) -> None:
        """Make an input known, with its type and the seconds after which it goes stale."""
        slot = self._inputs.get(name)
        if slot is None:
            self._inputs[name] = _Input(name, type, stale_after)
            return
        slot.type = type or slot.type
        slot.stale_after = _window(stale_after)

    def add_charger(self, settings: ChargerSettings) -> None:
        """Add a charger, or update its settings (its status and mode are kept)."""
        slot = self._chargers.get(settings.name)
        if slot is None:
            self._chargers[settings.name] = ChargerRecord(settings)
        else:
            slot.settings = settings
        if isinstance(settings.voltage, str):
            self.declare_input(settings.voltage)

    def declare_variables(self, decls: Iterable[VariableDecl]) -> None:
        """Make the program's variables known; a value already held (persisted) is kept."""
        for decl in decls:
            slot = self._variables.get(decl.name)
            if slot is None:
                self._variables[decl.name] = _Variable(decl, decl.default)
            else:
                slot.decl = decl
                if not _fits(slot.value, decl.type):
                    slot.value = decl.default

    def bind(self, externals: Iterable[External]) -> None:
        """Build `values` for a program that reads `externals`, in that order."""
        self.externals = tuple(externals)
        inputs: dict[str, list[int]] = {}
        variables: dict[str, list[int]] = {}
        getters: dict[str, list[tuple[int, Callable[[ChargerStatus], Value]]]] = {}
        modes: dict[str, list[int]] = {}
        limits: dict[str, list[tuple[int, str]]] = {}
        series: dict[str, list[int]] = {}
        for index, external in enumerate(self.externals):
            if external.kind is ExternalKind.PRICES:
                series.setdefault(external.name, []).append(index)
            elif external.kind is ExternalKind.INPUT:
                if external.name not in self._inputs:
                    self.declare_input(external.name, external.type)
                elif self._inputs[external.name].type is None:
                    self._inputs[external.name].type = external.type
                inputs.setdefault(external.name, []).append(index)
            elif external.kind is ExternalKind.VARIABLE:
                if external.name not in self._variables:
                    self._variables[external.name] = _Variable(None, None)
                variables.setdefault(external.name, []).append(index)
            else:
                charger, _, prop = external.name.rpartition(".")
                if charger not in self._chargers:
                    known = ", ".join(self._chargers) or "none"
                    raise ValueError(
                        f"the rules read {external.name} but no charger {charger!r} is "
                        f"configured (chargers: {known})"
                    )
                if prop in _STATUS_PROPERTIES:
                    getters.setdefault(charger, []).append((index, _STATUS_PROPERTIES[prop]))
                elif prop == "mode":
                    modes.setdefault(charger, []).append(index)
                elif prop in _SETTING_PROPERTIES:
                    limits.setdefault(charger, []).append((index, prop))
                else:
                    raise ValueError(f"unknown charger property {external.name}")
        self.values = [None] * len(self.externals)
        for name, slot in self._inputs.items():
            slot.indices = tuple(inputs.get(name, ()))
            self._write(slot.indices, None if slot.stale else slot.value)
        for name, var in self._variables.items():
            var.indices = tuple(variables.get(name, ()))
            self._write(var.indices, var.value)
        for name, charger_slot in self._chargers.items():
            charger_slot.getters = tuple(getters.get(name, ()))
            charger_slot.mode_indices = tuple(modes.get(name, ()))
            charger_slot.limit_indices = tuple(limits.get(name, ()))
            self._write(charger_slot.mode_indices, charger_slot.mode)
            self._write_status(charger_slot)
        self._price_indices = {name: tuple(indices) for name, indices in series.items()}
        for name, indices in self._price_indices.items():
            self._write(indices, cast(Value, self._prices.get(name)))

    # -- inputs ---------------------------------------------------------------------------

    def set_input(self, name: str, value: Value, at: datetime) -> None:
        """A source gave `value` (canonical units) for input `name` at `at`; a price input
        gives its whole series (see `set_prices`)."""
        # A series travels as a Value (a Reading holds numbers; inputs carry what they read).
        if value.__class__ is _SERIES:
            self.set_prices(name, cast(PriceSeries, value), at)
            return
        slot = self._inputs.get(name)
        if slot is None:
            slot = self._inputs[name] = _Input(name, None, None)
        slot.updated = at
        if value != slot.value or slot.changed is None:
            slot.value = value
            slot.changed = at
        elif not slot.stale:
            if slot.stale_after is not None:
                self._fresh_until(at + slot.stale_after)
            return
        # A new value, or a stale one given again: the rules see it (again).
        slot.stale = False
        values = self.values
        for index in slot.indices:
            values[index] = value
        if slot.stale_after is not None:
            self._fresh_until(at + slot.stale_after)

    def _fresh_until(self, expires: datetime) -> None:
        if self.stale_deadline is None or expires < self.stale_deadline:
            self.stale_deadline = expires

    def expire(self, now: datetime) -> None:
        """Hide the inputs whose last update is `stale_after` old or older.

        The store keeps one deadline, the earliest at which any input may go stale, so a
        tick with nothing to expire costs one comparison.
        """
        deadline = self.stale_deadline
        if deadline is None or now < deadline:
            return
        earliest: datetime | None = self._advance_prices(now) if self._price_due else None
        for slot in self._inputs.values():
            if slot.stale_after is None or slot.updated is None:
                continue
            expires = slot.updated + slot.stale_after
            if now >= expires:
                if not slot.stale:
                    slot.stale = True
                    self._write(slot.indices, None)
            elif earliest is None or expires < earliest:
                earliest = expires
        self.stale_deadline = earliest

    def set_prices(self, name: str, series: PriceSeries, at: datetime | None = None) -> None:
        """Keep the price series last read for the price input `name`.

        The input's value becomes the price of the slot that holds the time (None, unknown,
        where the series has none) and follows the series at each slot boundary (`expire`,
        which the engine calls at the store's deadline). With `at` the value is set at
        once; without, at the next `expire`."""
        self._prices[name] = series
        if name not in self._inputs:
            self.declare_input(name)
        self._write(self._price_indices.get(name, ()), cast(Value, series))
        if at is None:
            self._price_due[name] = _DAWN
            self.stale_deadline = _DAWN
            return
        due = self._price_at(name, series, at)
        self._price_due[name] = due
        self._fresh_until(due)

    def _price_at(self, name: str, series: PriceSeries, now: datetime) -> datetime:
        """Give input `name` the price of `series` at `now`; the next time it may change."""
        slot = series.slot_at(now)
        if slot is None:
            record = self._inputs[name]
            if not record.stale:
                record.stale = True
                self._write(record.indices, None)
            later = [s.start for s in series.slots if s.start > now]
            return later[0] if later else _NEVER
        self.set_input(name, slot.price, now)
        return slot.end

    def _advance_prices(self, now: datetime) -> datetime | None:
        """Move each price input whose slot ended on to the slot of `now`; the earliest
        next boundary (None: none to come)."""
        earliest: datetime | None = None
        for name, due in self._price_due.items():
            if now >= due:
                due = self._price_at(name, self._prices[name], now)
                self._price_due[name] = due
            if due is not _NEVER and (earliest is None or due < earliest):
                earliest = due
        return earliest

    def prices(self, name: str) -> PriceSeries | None:
        """The price series last read for `name`; None before the first read."""
        return self._prices.get(name)

    def input_value(self, name: str) -> Value:
        """The value of an input as rules see it: None when unknown or stale."""
        slot = self._inputs.get(name)
        if slot is None or slot.stale:
            return None
        return slot.value

    def reading(self, name: str) -> Reading:
        slot = self._inputs.get(name)
        if slot is None:
            raise KeyError(f"no input named {name!r}")
        return Reading(name, None if slot.stale else slot.value, slot.type, slot.updated,
                       slot.changed, slot.stale)

    def readings(self) -> list[Reading]:
        """Every input, sorted by name (for the dashboard and the journal)."""
        return [self.reading(name) for name in sorted(self._inputs)]

    # -- chargers -------------------------------------------------------------------------

    def set_charger(self, name: str, status: ChargerStatus, at: datetime) -> None:
        """A refresh of charger `name` read `status` at `at`."""
        slot = self._chargers.get(name) or self._charger(name)
        slot.updated = at
        old = slot.status
        if status is old:
            return
        slot.status = status
        if old is None or status != old:
            slot.changed = at
        self._write_status(slot)

    def charger_record(self, name: str) -> ChargerRecord:
        """The record of charger `name`, kept for the store's lifetime (see ChargerRecord)."""
        return self._charger(name)

    def charger_status(self, name: str) -> ChargerStatus | None:
        return self._charger(name).status

    def charger_reading(self, name: str) -> tuple[ChargerStatus | None, datetime | None]:
        """The last status of charger `name` and when it was read."""
        slot = self._chargers.get(name) or self._charger(name)
        return slot.status, slot.updated

    def charger_settings(self, name: str) -> ChargerSettings:
        return self._charger(name).settings

    @property
    def chargers(self) -> tuple[str, ...]:
        return tuple(self._chargers)

    def _write_status(self, slot: ChargerRecord) -> None:
        status = slot.status
        values = self.values
        if status is None or status.state is ChargerState.OFFLINE:
            # An offline charger's last values are stale: rules see them as unknown.
            for index, getter in slot.getters:
                if getter is _STATUS_PROPERTIES["state"]:
                    values[index] = None if status is None else status.state.value
                elif getter is _STATUS_PROPERTIES["online"]:
                    values[index] = None if status is None else False
                else:
                    values[index] = None
        else:
            for index, getter in slot.getters:
                values[index] = getter(status)
        if slot.limit_indices:
            low, high = slot.settings.limits(status)
            for index, prop in slot.limit_indices:
                if prop == "min_amps":
                    values[index] = float(low)
                elif prop == "max_amps":
                    values[index] = float(high)
                else:
                    values[index] = float(slot.settings.phases)

    # -- modes and variables --------------------------------------------------------------

    def mode(self, charger: str) -> str:
        return self._charger(charger).mode

    def modes(self) -> dict[str, str]:
        return {name: slot.mode for name, slot in self._chargers.items()}

    def set_mode(self, charger: str, mode: str) -> bool:
        """Switch the engine's mode of `charger`; True when it changed."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        slot = self._charger(charger)
        if slot.mode == mode:
            return False
        slot.mode = mode
        self._write(slot.mode_indices, mode)
        self.dirty = True
        if self.on_mode_change is not None:
            self.on_mode_change(charger, mode)
        return True

    def variable(self, name: str) -> Value:
        slot = self._variables.get(name)
        if slot is None:
            raise KeyError(f"no variable named {name!r}")
        return slot.value

    def variables(self) -> dict[str, Value]:
        return {name: slot.value for name, slot in self._variables.items()}

    def set_variable(self, name: str, value: Value) -> bool:
        """Set a user variable (from a rule, the dashboard or the persisted state).

        A variable the program has not declared (yet) is kept, so that persisted values
        survive until the program that declares them is loaded. True when it changed.
        """
        slot = self._variables.get(name)
        if slot is None:
            slot = self._variables[name] = _Variable(None, None)
        elif slot.decl is not None and not _fits(value, slot.decl.type):
            raise ValueError(f"variable {name} is {slot.decl.type}, cannot hold {value!r}")
        if slot.value == value and type(slot.value) is type(value):
            return False
        slot.value = value
        self._write(slot.indices, value)
        self.dirty = True
        if self.on_variable_change is not None:
            self.on_variable_change(name, value)
        return True

    # -- helpers --------------------------------------------------------------------------

    def _charger(self, name: str) -> ChargerRecord:
        slot = self._chargers.get(name)
        if slot is None:
            known = ", ".join(self._chargers) or "none"
            raise KeyError(f"no charger named {name!r} (chargers: {known})")
        return slot

    def _write(self, indices: tuple[int, ...], value: Value) -> None:
        values = self.values
        for index in indices:
            values[index] = value


# The class of a price series, as `set_input` compares a value's class with it (typed `type`:
# a Value is never a series to the type checker, only at run time).
_SERIES: type = PriceSeries
# Before any tick (a series given without a time is applied at the next step) and after any.
_DAWN = datetime.min.replace(tzinfo=UTC)
_NEVER = datetime.max.replace(tzinfo=UTC)


def _window(stale_after: float | None) -> timedelta | None:
    """A stale_after in seconds; None, zero or infinite (a constant) never goes stale."""
    if stale_after is None or not 0 < stale_after < float("inf"):
        return None
    return timedelta(seconds=stale_after)


def _fits(value: Value, type_: ValueType) -> bool:
    """Whether a stored value can be a variable of `type_` (None, unknown, always fits)."""
    if value is None:
        return True
    if type_.kind is Kind.BOOLEAN:
        return isinstance(value, bool)
    if type_.kind is Kind.NUMBER:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if type_.kind is Kind.ENUM:
        return isinstance(value, str) and value in type_.choices
    if type_.kind is Kind.TIME:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, str)
