"""The state store: incremental values, staleness, charger properties, modes, variables."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from evse_rules.chargers.base import ChargerState
from evse_rules.engine import ChargerSettings, StateStore
from evse_rules.language.program import External, ExternalKind, Kind, ValueType, VariableDecl
from tests.engine_fakes import T0, charger_props, inputs, minutes, status


def bound(*externals: External, settings: ChargerSettings | None = None) -> StateStore:
    store = StateStore()
    store.add_charger(settings or ChargerSettings("evse"))
    store.bind(externals)
    return store


def test_values_follow_inputs_in_place() -> None:
    store = bound(*inputs("pv", "house", "pv"))
    values = store.values
    store.set_input("pv", 1400.0, T0)
    store.set_input("house", 300.0, T0)
    assert values is store.values
    assert values == [1400.0, 300.0, 1400.0]


def test_update_and_change_times_are_kept_apart() -> None:
    store = bound(*inputs("pv"))
    store.set_input("pv", 1400.0, T0)
    store.set_input("pv", 1400.0, minutes(1))
    reading = store.reading("pv")
    assert reading.updated == minutes(1)
    assert reading.changed == T0
    store.set_input("pv", 1500.0, minutes(2))
    assert store.reading("pv").changed == minutes(2)


def test_stale_input_reads_as_none_until_updated() -> None:
    store = bound(*inputs("pv", "house"))
    store.declare_input("pv", stale_after=120.0)
    store.set_input("pv", 1400.0, T0)
    store.set_input("house", 300.0, T0)
    store.expire(minutes(1))
    assert store.values == [1400.0, 300.0]
    store.expire(minutes(2))
    assert store.values == [None, 300.0]
    assert store.reading("pv").stale and store.input_value("pv") is None
    store.set_input("pv", 1400.0, minutes(3))
    assert store.values == [1400.0, 300.0]
    assert not store.reading("pv").stale


def test_a_shorter_stale_after_declared_later_is_not_missed() -> None:
    store = bound(*inputs("slow", "fast"))
    store.declare_input("slow", stale_after=3600.0)
    store.declare_input("fast", stale_after=60.0)
    store.set_input("slow", 1.0, T0)
    store.set_input("fast", 2.0, T0)
    store.expire(minutes(1) + timedelta(seconds=1))
    assert store.values == [1.0, None]


def test_charger_properties_in_canonical_units() -> None:
    props = ("state", "vehicle", "charging", "power", "session_energy", "total_energy",
             "mode", "min_amps", "max_amps", "phases", "online")
    store = bound(*charger_props(*props), settings=ChargerSettings("evse", min_amps=8,
                                                                   phases=3))
    reading = replace(status(ChargerState.CHARGING, power=3000.0, max_amps=16.0),
                      session_energy=2.0, total_energy=1.5)
    store.set_charger("evse", reading, T0)
    assert store.values == ["charging", True, True, 3000.0, 7200.0, 5_400_000.0, "manual",
                            8.0, 16.0, 3.0, True]


def test_offline_charger_values_are_unknown() -> None:
    store = bound(*charger_props("state", "power", "online", "vehicle"))
    store.set_charger("evse", status(ChargerState.CHARGING, power=3000.0), T0)
    offline = status(ChargerState.OFFLINE, power=3000.0)
    store.set_charger("evse", offline, minutes(1))
    assert store.values == ["offline", None, False, None]


def test_charger_read_before_bind_appears_in_values() -> None:
    store = StateStore()
    store.add_charger(ChargerSettings("evse"))
    store.set_charger("evse", status(ChargerState.CHARGING), T0)
    store.bind(charger_props("state"))
    assert store.values == ["charging"]


def test_unknown_charger_is_named() -> None:
    store = StateStore()
    store.add_charger(ChargerSettings("garage"))
    with pytest.raises(ValueError, match=r"no charger 'evse'.*garage"):
        store.bind(charger_props("state"))


def test_mode_and_variables_mark_dirty_and_call_hooks() -> None:
    number = ValueType(Kind.NUMBER)
    externals = (*charger_props("mode"), External("target", ExternalKind.VARIABLE, number))
    store = StateStore()
    store.add_charger(ChargerSettings("evse", initial_mode="auto"))
    store.declare_variables([VariableDecl("target", number, 80.0)])
    store.bind(externals)
    assert store.values == ["auto", 80.0]
    seen: list[tuple[str, object]] = []
    store.on_variable_change = lambda name, value: seen.append((name, value))
    store.on_mode_change = lambda name, mode: seen.append((name, mode))
    dirty_before = store.dirty
    assert store.set_variable("target", 90.0)
    assert not store.set_variable("target", 90.0)
    assert store.set_mode("evse", "manual")
    assert (dirty_before, store.dirty) == (False, True)
    assert seen == [("target", 90.0), ("evse", "manual")]
    assert store.values == ["manual", 90.0]
    with pytest.raises(ValueError, match="cannot hold"):
        store.set_variable("target", "full")


def test_persisted_variable_survives_declaration() -> None:
    number = ValueType(Kind.NUMBER)
    store = StateStore()
    store.set_variable("target", 70.0)
    store.declare_variables([VariableDecl("target", number, 80.0)])
    assert store.variable("target") == 70.0


def test_settings_reject_limits_outside_6_to_32() -> None:
    with pytest.raises(ValueError, match="min_amps"):
        ChargerSettings("evse", max_amps=40)
    with pytest.raises(ValueError, match="min_amps"):
        ChargerSettings("evse", min_amps=4)
