"""The site limit: the chargers together within the supply, whatever the rules or a person ask."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evse_rules.chargers.base import ChargerState, ChargerStatus
from evse_rules.engine import ChargerSettings, CommandKind, Engine, Guard, StepResult
from evse_rules.engine.hand import HandRefused
from evse_rules.engine.results import Command, Reason
from evse_rules.engine.site import SiteSettings
from evse_rules.language.program import ActionKind, ProposedAction
from tests.engine_fakes import (
    POWER_T,
    SET_AMPS,
    START,
    STOP,
    T0,
    FakeProgram,
    action,
    minutes,
    scripted,
    status,
)

VOLTS = 230.0
SITE = SiteSettings(input="house", includes_chargers=False, max_amps=25.0, voltage=VOLTS)
CHARGERS = [ChargerSettings("garage", priority=1, min_on=600, min_off=300),
            ChargerSettings("carport", min_on=600, min_off=300, initial_mode="auto")]


def charging(amps: float) -> ChargerStatus:
    return status(ChargerState.CHARGING, amps=amps, voltage=VOLTS, power=amps * VOLTS)


def site_engine(*ticks: list[ProposedAction], site: SiteSettings = SITE,
                garage: ChargerStatus | None = None,
                carport: ChargerStatus | None = None) -> Engine:
    engine = Engine(FakeProgram(scripted(*ticks)), CHARGERS, site=site)
    engine.store.declare_input("house", POWER_T, 30.0)
    engine.store.set_charger("garage", garage or charging(16), T0)
    engine.store.set_charger("carport", carport or charging(16), T0)
    return engine


def sent(result: StepResult) -> list[tuple[str, str, float | None]]:
    return [(c.charger, c.kind.value, c.value) for c in result.commands]


def house(engine: Engine, watts: float, at: datetime = T0) -> None:
    engine.store.set_input("house", watts, at)


def test_the_lower_priority_is_lowered_first_then_the_higher() -> None:
    engine = site_engine()
    house(engine, 2000.0)                   # 8.7 A: 16.3 A left for 32 A asked
    result = engine.step(T0)
    # Minimums first (6 + 6), then the garage (priority 1) takes what is left: 4 A more.
    assert sent(result) == [("garage", "set_current", 10.0), ("carport", "set_current", 6.0)]
    reason = str(result.commands[0].reason)
    assert "site limit 25 A" in reason and "house 2000 W (8.7 A)" in reason
    assert "garage 16 A -> 10 A" in reason


def test_the_lowest_priority_is_paused_when_minimums_do_not_fit() -> None:
    engine = site_engine()
    house(engine, 3500.0)                   # 15.2 A: 9.8 A left, one minimum fits
    result = engine.step(T0)
    assert sent(result) == [("garage", "set_current", 9.0), ("carport", "stop", None)]
    assert "carport paused (its minimum 6 A does not fit)" in str(result.commands[1].reason)


def test_a_site_stop_is_not_held_by_min_on_and_the_charger_comes_back() -> None:
    start, amps = action(START, 0, charger="carport"), action(SET_AMPS, 1, 16.0, "carport")
    engine = site_engine([start, amps], *[[] for _ in range(20)])
    house(engine, 3500.0)
    engine.commit(engine.step(T0).commands[0], ok=True)
    first = engine.step(T0)
    for command in first.commands:
        engine.commit(command, ok=True)
    assert ("carport", "stop", None) in sent(first)
    # Started a minute ago by the rules (min_on 10 min): the site stops it all the same.
    assert engine.guard("carport").last_stop == T0
    # The house falls: room again; the site starts the carport when min_off (5 min) allows.
    engine.store.set_charger("carport", status(ChargerState.DISABLED, voltage=VOLTS), T0)
    house(engine, 500.0, minutes(2))
    assert ("carport", "start", None) not in sent(engine.step(minutes(2)))
    house(engine, 500.0, minutes(5))
    again = engine.step(minutes(5))
    assert ("carport", "start", None) in sent(again)
    assert "room again for carport" in str(again.commands[-1].reason)


def test_a_rules_current_is_cut_and_a_start_without_room_is_held() -> None:
    asked = [action(SET_AMPS, 0, 32.0, "garage"), action(START, 1, charger="carport"),
             action(SET_AMPS, 2, 32.0, "carport")]
    engine = site_engine(asked, garage=charging(16),
                         carport=status(ChargerState.DISABLED, voltage=VOLTS))
    house(engine, 1000.0)                   # 4.3 A: 20.7 A left
    result = engine.step(T0)
    # Both minimums fit (6 + 6 A); the garage (priority 1) gets the rest: 14 A of 32 A;
    # the carport's 32 A becomes the 6 A it has already.
    assert sent(result) == [("garage", "set_current", 14.0), ("carport", "start", None)]
    assert any(h.action.charger == "carport" and h.guard is Guard.UNCHANGED and
               "carport 32 A -> 6 A" in h.why for h in result.held)
    assert result.commands[0].reason.rule is not None
    assert "garage 32 A -> 14 A" in str(result.commands[0].reason)
    engine = site_engine(asked, garage=charging(16),
                         carport=status(ChargerState.DISABLED, voltage=VOLTS))
    house(engine, 3500.0)                   # 15.2 A: 9.8 A left, one minimum fits
    result = engine.step(T0)
    assert sent(result) == [("garage", "set_current", 9.0)]
    assert [(h.action.charger, h.action.kind, h.guard) for h in result.held] == [
        ("carport", ActionKind.SET_AMPS, Guard.SITE), ("carport", ActionKind.START, Guard.SITE)]


def test_a_stale_meter_falls_back_to_the_safe_total_within_a_tick() -> None:
    engine = site_engine(*[[] for _ in range(10)], garage=charging(10), carport=charging(10))
    house(engine, 500.0)
    assert sent(engine.step(T0)) == []                  # 2.2 A + 20 A fit in 25 A
    # Stale after 30 s: the last reading still counts up to fallback_after (2 min).
    assert sent(engine.step(minutes(1))) == []
    assert engine.store.input_value("house") is None
    # Beyond it: fallback_amps (0 A) for all chargers together, in the first tick past it.
    result = engine.step(minutes(2.01))
    assert sent(result) == [("garage", "stop", None), ("carport", "stop", None)]
    assert "house unknown for 121 s: fallback 0 A per phase" in str(result.commands[0].reason)


def test_a_fallback_total_shares_by_priority() -> None:
    site = SiteSettings(input="house", includes_chargers=False, max_amps=25.0,
                        fallback_after=60.0, fallback_amps=10.0)
    engine = site_engine(site=site)
    assert sent(engine.step(minutes(1))) == [("garage", "set_current", 10.0),
                                             ("carport", "stop", None)]


def test_a_site_meter_counts_the_chargers_out() -> None:
    site = SiteSettings(input="house", includes_chargers=True, max_amps=25.0)
    engine = site_engine(site=site, garage=charging(10), carport=charging(10))
    # The meter reads 500 W of house plus the chargers' 2 x 2300 W: nothing to lower.
    house(engine, 500.0 + 2 * 10 * VOLTS)
    assert sent(engine.step(T0)) == []
    house(engine, 2900.0 + 2 * 10 * VOLTS)               # 12.6 A of house: 12.4 A left
    assert sent(engine.step(T0)) == [("garage", "set_current", 6.0),
                                     ("carport", "set_current", 6.0)]


def test_a_power_limit_on_three_phases() -> None:
    site = SiteSettings(input="house", includes_chargers=False, max_power=11000.0, phases=3)
    three = [ChargerSettings("garage", phases=3, priority=1), ChargerSettings("carport",
                                                                               phase=2)]
    engine = Engine(FakeProgram(scripted([])), three, site=site)
    engine.store.declare_input("house", POWER_T, 30.0)
    engine.store.set_charger("garage", status(ChargerState.CHARGING, amps=16, voltage=VOLTS,
                                              power=3 * 16 * VOLTS), T0)
    engine.store.set_charger("carport", charging(16), T0)
    # 10 kW left: minimums 6 A x 690 W + 6 A x 230 W = 5520 W; the garage then takes 6 A
    # more (4140 W, 12 A in all) and the 340 W left give the carport 1 A more (7 A).
    house(engine, 1000.0)
    result = engine.step(T0)
    assert sent(result) == [("garage", "set_current", 12.0), ("carport", "set_current", 7.0)]


def test_a_persons_current_is_lowered_a_start_without_room_refused_a_stop_always_goes() -> None:
    engine = site_engine(garage=charging(16), carport=status(ChargerState.DISABLED,
                                                               voltage=VOLTS))
    house(engine, 1000.0)
    engine.step(T0)
    plan = engine.hand("garage", "amps", 32, "api", T0)
    assert [(c.kind, c.value) for c in plan.commands] == [(CommandKind.SET_CURRENT, 20.0)]
    assert "garage 32 A -> 20 A" in str(plan.commands[0].reason)
    for command in plan.commands:
        engine.commit(command, ok=True)
    with pytest.raises(HandRefused) as refused:
        engine.hand("carport", "start", None, "api", T0)
    assert "carport: not started: its minimum current does not fit the site limit 25 A" in \
        refused.value.message
    # Refused: nothing changed, not its mode, and the site will not start it later.
    assert engine.store.mode("carport") == "auto"
    assert engine.site is not None and "carport" not in engine.site.paused
    stop = engine.hand("garage", "stop", None, "api", T0)
    assert [c.kind for c in stop.commands] == [CommandKind.STOP]


def _after(engine: Engine, result: StepResult, statuses: dict[str, ChargerStatus]) -> float:
    """The current the chargers may draw together after `result`'s commands."""
    total = 0.0
    for name, before in statuses.items():
        guard = engine.guard(name)
        running = guard.enabled(before, T0)
        amps = before.amps
        for command in result.commands:
            if command.charger != name:
                continue
            if command.kind is CommandKind.START:
                running = True
            elif command.kind is CommandKind.STOP:
                running = False
            elif command.kind is CommandKind.SET_CURRENT and command.value is not None:
                amps = command.value
        if running and before.vehicle:
            total += amps
    return total


_KINDS = st.sampled_from([START, STOP, SET_AMPS])


@settings(max_examples=200, deadline=None)
@given(house_w=st.floats(0, 9000), states=st.lists(
    st.tuples(st.sampled_from([ChargerState.CHARGING, ChargerState.DISABLED,
                               ChargerState.CONNECTED]), st.integers(6, 32), st.booleans()),
    min_size=2, max_size=2),
    asks=st.lists(st.tuples(_KINDS, st.sampled_from(["garage", "carport"]),
                            st.floats(0, 40)), max_size=6),
    hand=st.none() | st.tuples(st.sampled_from(["garage", "carport"]),
                               st.sampled_from(["start", "amps"]), st.integers(6, 32)))
def test_the_total_never_exceeds_the_room_whatever_is_asked(
        house_w: float, states: list[tuple[ChargerState, int, bool]],
        asks: list[tuple[ActionKind, str, float]],
        hand: tuple[str, str, int] | None) -> None:
    proposals = [action(kind, i, value if kind is SET_AMPS else None, charger)
                 for i, (kind, charger, value) in enumerate(asks)]
    engine = Engine(FakeProgram(scripted(proposals)), CHARGERS, site=SITE)
    engine.store.declare_input("house", POWER_T, 30.0)
    statuses = {}
    for name, (state, amps, vehicle) in zip(("garage", "carport"), states, strict=True):
        statuses[name] = status(state, amps=amps, vehicle=vehicle, voltage=VOLTS,
                                power=amps * VOLTS if state is ChargerState.CHARGING else 0)
        engine.store.set_charger(name, statuses[name], T0)
    house(engine, house_w)
    room = max(SITE.max_amps - house_w / VOLTS, 0.0) if SITE.max_amps else 0.0
    result = engine.step(minutes(20))
    assert _after(engine, result, statuses) <= room + 1e-6
    if hand is not None:
        for command in result.commands:
            engine.commit(command, ok=True)
        name, what, value = hand
        try:
            plan = engine.hand(name, what, value, "api", minutes(20))
        except HandRefused:
            return
        # What the person's command adds to what the chargers have after the step.
        after = {n: _status_after(statuses[n], result, n) for n in statuses}
        assert _after(engine, StepResult(minutes(20), plan.commands, (), (), (), (), {}, (), (),
                                         ()), after) <= room + 1e-6


def _status_after(before: ChargerStatus, result: StepResult, name: str) -> ChargerStatus:
    from dataclasses import replace

    state, amps = before.state, before.amps
    for command in result.commands:
        if command.charger != name:
            continue
        if command.kind is CommandKind.START:
            state = ChargerState.CHARGING
        elif command.kind is CommandKind.STOP:
            state = ChargerState.DISABLED
        elif command.value is not None:
            amps = command.value
    return replace(before, state=state, amps=amps)


def test_without_rules_the_site_limit_still_acts() -> None:
    # The daemon's step while the rule files have errors: nothing is decided but the supply.
    engine = site_engine(garage=charging(16), carport=charging(16))
    house(engine, 2000.0)
    result = engine.step_without_rules(T0)
    assert sent(result) == [("garage", "set_current", 10.0), ("carport", "set_current", 6.0)]
    assert result.fired == ()


def test_a_charge_plans_full_power_is_kept_within_the_supply() -> None:
    from evse_rules.prices import PriceSeries, PriceSlot

    settings = [ChargerSettings("garage", plan_price="price", min_on=0, min_off=0)]
    engine = Engine(FakeProgram(scripted(*[[] for _ in range(5)])), settings, site=SITE)
    engine.store.declare_input("house", POWER_T, 30.0)
    hour = timedelta(hours=1)
    slots = tuple(PriceSlot(T0 + i * hour, T0 + (i + 1) * hour, 0.1 + 0.01 * i)
                  for i in range(12))
    engine.store.set_prices("price", PriceSeries(slots))
    engine.store.set_charger("garage", status(ChargerState.DISABLED, voltage=VOLTS), T0)
    house(engine, 3000.0)                   # 13.04 A of house: 11.96 A left of 25 A
    plan = engine.hand("garage", "plan", "5 kWh by 23:00", "api", T0)
    assert plan.notes and "slots 12:19-13:00" in plan.notes[0], plan.notes
    # The plan's slot asks for the full 32 A; the supply leaves 11 whole amperes.
    house(engine, 3000.0, minutes(19))
    result = engine.step(minutes(19))
    assert sent(result) == [("garage", "set_current", 11.0), ("garage", "start", None)]
    assert "garage 32 A -> 11 A" in str(result.commands[0].reason)


def test_at_equal_priority_the_one_that_started_first_keeps_its_current() -> None:
    equal = [ChargerSettings("garage"), ChargerSettings("carport")]
    engine = Engine(FakeProgram(scripted([])), equal, site=SITE)
    engine.store.declare_input("house", POWER_T, 30.0)
    # The carport was started by this engine five minutes ago; the garage was found
    # charging (started before the engine knew it): the garage started first.
    engine.commit(Command("carport", CommandKind.START, None, Reason(None), minutes(-5)),
                  ok=True)
    engine.store.set_charger("garage", charging(16), T0)
    engine.store.set_charger("carport", charging(16), T0)
    house(engine, 2000.0)                   # 16.3 A left: 6 + 6, then 4 more to the first
    assert sent(engine.step(T0)) == [("garage", "set_current", 10.0),
                                     ("carport", "set_current", 6.0)]
