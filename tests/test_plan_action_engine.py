"""A rule's `plan 20 kWh by 07:00` in the engine: taken once, journaled with its rule, a
person's plan outranks it, `cancel plan` ends only a rule's plan, the last in file order wins."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

from evse_rules.chargers.base import ChargerState, ChargerStatus
from evse_rules.engine import ChargerSettings, Engine, StepResult
from evse_rules.engine.plan_book import RULE_SOURCE, next_time_of_day
from evse_rules.language import Environment, load_program_text
from evse_rules.language.program import ActionKind, Kind, ValueType
from evse_rules.language.units import ENERGY
from evse_rules.prices import PriceSeries, PriceSlot

ZONE = timezone(timedelta(hours=1))
EVENING = datetime(2026, 1, 12, 19, 0, tzinfo=ZONE)
NIGHT = [0.30, 0.28, 0.25, 0.18, 0.15, 0.12, 0.10, 0.10, 0.11, 0.12, 0.16, 0.22]
ENV = Environment(inputs={"want": ValueType(Kind.NUMBER, ENERGY)}, chargers=("garage",),
                  chargers_from_config=True)


def at(hour: int, minute: int = 0) -> datetime:
    day = EVENING if hour >= 12 else EVENING + timedelta(days=1)
    return day.replace(hour=hour, minute=minute)


def reading(state: ChargerState = ChargerState.SLEEPING, *, session: float = 0.0,
            vehicle: bool = True, power: float = 0.0) -> ChargerStatus:
    return ChargerStatus(state=state, vehicle=vehicle, current=power / 230, amps=16.0,
                         voltage=230.0, power=power, session_energy=session, total_energy=0.0,
                         max_amps=32.0)


def engine_for(rules: str) -> Engine:
    program = load_program_text(rules, "plans.evr", ENV)
    settings = ChargerSettings("garage", plan_price="price", min_on=0, min_off=0)
    engine = Engine(program, [settings])
    engine.store.set_prices("price", PriceSeries(tuple(
        PriceSlot(EVENING + timedelta(hours=i), EVENING + timedelta(hours=i + 1), p)
        for i, p in enumerate(NIGHT))))
    engine.store.set_charger("garage", reading(), at(19))
    engine.store.set_mode("garage", "auto")
    return engine


def step(engine: Engine, now: datetime, status: ChargerStatus | None = None) -> StepResult:
    if status is not None:
        engine.store.set_charger("garage", status, now)
    result = engine.step(now)
    for command in result.commands:
        engine.commit(command, ok=True)
    return result


def said(result: StepResult) -> list[str]:
    """The step's journal lines as the daemon writes them: `FILE:LINE: text`."""
    return [f"{a.rule}: {a.value}" for a in result.logs]


SCHEDULE = ("plan 20.0 kWh by Tue 07:00: slots 01:00-02:00 (0.1), 02:00-03:00 (0.1), "
            "03:00-03:44 (0.11); expected 20.0 kWh, cost 2.05")


def test_a_level_triggered_plan_is_taken_once_and_journaled_with_its_rule() -> None:
    engine = engine_for("if vehicle then plan 20 kWh by 07:00\n")
    first = step(engine, at(19))
    assert said(first) == [f"plans.evr:1: {SCHEDULE}"]
    record = engine.store.plans["garage"]
    assert (record.wanted_wh, record.deadline, record.source) == (20_000.0, at(7), RULE_SOURCE)
    # The rule holds at every tick: the plan is neither made again nor journaled again.
    for minute in range(1, 30):
        assert said(step(engine, at(19, minute))) == []
    assert engine.store.plans["garage"].began == at(19)
    # Its slots run as a person's plan's do.
    assert [(c.kind.value, c.value) for c in step(engine, at(1)).commands] == [
        ("set_current", 32.0), ("start", None)]


def test_a_plan_met_is_not_started_again_for_the_same_deadline() -> None:
    engine = engine_for("if vehicle then plan 10 kWh by 07:00\n")
    step(engine, at(19))
    step(engine, at(2))
    met = step(engine, at(2, 30), reading(ChargerState.CHARGING, session=10_000.0,
                                          power=7360.0))
    assert "10.0 kWh by Tue 07:00 met: 10.0 kWh charged" in [str(a.value) for a in met.logs]
    assert engine.store.plans == {}
    for minute in (31, 45, 59):
        assert said(step(engine, at(2, minute))) == []
    assert engine.store.plans == {}
    # At 07:00 the next 07:00 is tomorrow's: a new deadline, so a new plan (a rule that
    # should plan once per plug-in uses `when vehicle:`).
    assert said(step(engine, at(7)))[0].startswith("plans.evr:1: plan 10.0 kWh by Wed 07:00")


def test_a_new_energy_from_the_rule_replaces_its_plan() -> None:
    engine = engine_for("if vehicle then plan want by 07:00\n")
    engine.store.set_input("want", 20_000 * 3600.0, at(19))
    assert said(step(engine, at(19))) == [f"plans.evr:1: {SCHEDULE}"]
    engine.store.set_input("want", 5_000 * 3600.0, at(19, 1))
    line = said(step(engine, at(19, 1)))
    assert line == ["plans.evr:1: plan 5.0 kWh by Tue 07:00: slots 02:19-03:00 (0.1); "
                    "expected 5.0 kWh, cost 0.50"]
    assert engine.store.plans["garage"].wanted_wh == 5_000.0


def test_an_unknown_energy_asks_for_no_plan() -> None:
    engine = engine_for("if vehicle then plan want by 07:00\n")
    assert said(step(engine, at(19))) == []
    assert engine.store.plans == {}


def test_a_computed_energy_out_of_range_is_refused_once() -> None:
    engine = engine_for("plan want by 07:00\n")
    engine.store.set_input("want", -3_000 * 3600.0, at(19))
    assert said(step(engine, at(19))) == [
        "plans.evr:1: plan -3.0 kWh by Tue 07:00 refused: a plan takes more than 0 and at "
        "most 1000 kWh"]
    assert said(step(engine, at(19, 1))) == []
    assert engine.store.plans == {}


def test_a_persons_plan_outranks_a_rules_until_it_ends() -> None:
    engine = engine_for("if vehicle then plan 20 kWh by 07:00\n")
    engine.hand("garage", "plan", "10 kWh by 06:00", "dashboard", at(18, 59))
    first = step(engine, at(19))
    assert said(first) == [
        "plans.evr:1: plan 20.0 kWh by Tue 07:00 not taken: garage has a plan set by "
        "dashboard (10.0 kWh by Tue 06:00), which a rule's does not replace"]
    assert said(step(engine, at(19, 1))) == []
    assert engine.store.plans["garage"].source == "dashboard"
    # The person's plan ends at its deadline: the rule's next deadline is taken.
    step(engine, at(6))
    assert engine.store.plans == {}
    assert said(step(engine, at(7)))[0].startswith("plans.evr:1: plan 20.0 kWh by Wed 07:00")


def test_a_person_replaces_or_cancels_a_rules_plan_and_the_rule_does_not_undo_it() -> None:
    engine = engine_for("if vehicle then plan 20 kWh by 07:00\n")
    step(engine, at(19))
    engine.hand("garage", "cancel_plan", None, "cli", at(19, 5))
    assert said(step(engine, at(19, 6))) == []
    assert engine.store.plans == {}


def test_a_person_replacing_a_rules_plan_is_not_undone_when_theirs_ends() -> None:
    engine = engine_for("if vehicle then plan 20 kWh by 07:00\n")
    step(engine, at(19))
    engine.hand("garage", "plan", "10 kWh by 07:00", "api", at(19, 5))
    assert said(step(engine, at(19, 6))) == []
    step(engine, at(2))
    met = step(engine, at(2, 30), reading(ChargerState.CHARGING, session=10_000.0,
                                          power=7360.0))
    assert "10.0 kWh by Tue 07:00 met: 10.0 kWh charged" in [str(a.value) for a in met.logs]
    assert said(step(engine, at(2, 31))) == []
    assert engine.store.plans == {}


def test_after_a_restart_the_rules_plan_that_runs_is_not_made_again() -> None:
    rules = "if vehicle then plan 20 kWh by 07:00\n"
    before = engine_for(rules)
    step(before, at(19))
    record = before.store.plans["garage"]
    after = engine_for(rules)
    after.store.plans["garage"] = record
    # The book makes the schedule again (its own line); the rule asks for nothing new.
    lines = said(step(after, at(19, 30)))
    assert [line for line in lines if line.startswith("plans.evr")] == []
    assert lines == [f"plan: {SCHEDULE.removeprefix('plan ')}"]
    assert after.store.plans["garage"].began == record.began == at(19)


def test_cancel_plan_ends_a_rules_plan_and_lets_it_be_asked_again() -> None:
    engine = engine_for("if vehicle then plan 20 kWh by 07:00\n"
                        "if not vehicle then cancel plan\n")
    step(engine, at(19))
    gone = step(engine, at(20), reading(vehicle=False, state=ChargerState.NOT_CONNECTED))
    assert said(gone) == ["plans.evr:2: plan 20.0 kWh by Tue 07:00 cancelled (charged 0.0 kWh)"]
    assert engine.store.plans == {}
    assert said(step(engine, at(20, 1))) == []          # nothing left to cancel: quiet
    back = step(engine, at(21), reading())
    assert said(back)[0].startswith("plans.evr:1: plan 20.0 kWh by Tue 07:00: slots")


def test_cancel_plan_leaves_a_persons_plan_alone() -> None:
    engine = engine_for("cancel plan\n")
    engine.hand("garage", "plan", "10 kWh by 06:00", "dashboard", at(19))
    assert said(step(engine, at(19, 1))) == []
    assert engine.store.plans["garage"].source == "dashboard"


def test_the_last_plan_of_a_charger_in_file_order_wins() -> None:
    engine = engine_for("plan 5 kWh by 07:00\nplan 20 kWh by 07:00\n")
    result = step(engine, at(19))
    assert said(result) == [f"plans.evr:2: {SCHEDULE}"]
    (lost,) = result.lost
    assert lost.action.kind is ActionKind.PLAN and lost.action.rule.line == 1
    assert lost.beaten_by.rule.line == 2


def test_a_rules_plan_leaves_the_mode_alone_and_waits_in_manual() -> None:
    engine = engine_for("plan 20 kWh by 07:00\n")
    engine.store.set_mode("garage", "manual")
    step(engine, at(19))
    assert engine.store.mode("garage") == "manual"
    assert step(engine, at(1)).commands == []
    status = engine.plans.status("garage", at(1))
    assert status is not None and status.state.startswith("paused")


def test_a_plan_replaced_while_its_slot_ran_stops_the_charge() -> None:
    engine = engine_for("if vehicle then plan want by 07:00\n")
    engine.store.set_input("want", 20_000 * 3600.0, at(19))
    step(engine, at(19))
    assert [c.kind.value for c in step(engine, at(1)).commands] == ["set_current", "start"]
    charging = reading(ChargerState.CHARGING, power=7360.0)
    assert step(engine, at(1, 5), charging).commands == []
    # A smaller plan whose slot is later: the running charge is stopped.
    engine.store.set_input("want", 3_000 * 3600.0, at(1, 10))
    step(engine, at(1, 10), replace(charging, session_energy=1_000.0))
    stop = step(engine, at(1, 11), replace(charging, session_energy=1_100.0))
    assert [(c.kind.value, str(c.reason)) for c in stop.commands] == [
        ("stop", "plan: replaced")]


def test_the_deadline_is_the_next_time_of_day_after_now() -> None:
    assert next_time_of_day(7 * 3600, at(19)) == at(7)
    assert next_time_of_day(7 * 3600, at(6, 59)) == at(7)
    assert next_time_of_day(7 * 3600, at(7)) == at(7) + timedelta(days=1)
    assert next_time_of_day(22 * 3600 + 30 * 60 + 15, at(19)) == at(22, 30).replace(second=15)
