"""Charge plans in the engine: a person's plan, its slots at the ticks, its end, persistence."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from evse_rules.chargers.base import ChargerState, ChargerStatus
from evse_rules.engine import ChargerSettings, Engine, Guard, StepResult
from evse_rules.engine.hand import HandRefused
from evse_rules.engine.persist import StateFile, restore, snapshot
from evse_rules.engine.plan_book import parse_plan
from evse_rules.language.program import ActionKind, ProposedAction
from evse_rules.prices import PriceSeries, PriceSlot
from tests.engine_fakes import FakeProgram, action

ZONE = timezone(timedelta(hours=1))
EVENING = datetime(2026, 1, 12, 19, 0, tzinfo=ZONE)
NIGHT = [0.30, 0.28, 0.25, 0.18, 0.15, 0.12, 0.10, 0.10, 0.11, 0.12, 0.16, 0.22]


def at(hour: int, minute: int = 0) -> datetime:
    day = EVENING if hour >= 12 else EVENING + timedelta(days=1)
    return day.replace(hour=hour, minute=minute)


def hourly(prices: list[float]) -> PriceSeries:
    return PriceSeries(tuple(PriceSlot(EVENING + timedelta(hours=i),
                                       EVENING + timedelta(hours=i + 1), p)
                             for i, p in enumerate(prices)))


def reading(state: ChargerState = ChargerState.SLEEPING, *, session: float = 0.0,
            vehicle: bool = True, amps: float = 16.0, power: float = 0.0,
            max_amps: float = 32.0) -> ChargerStatus:
    return ChargerStatus(state=state, vehicle=vehicle, current=power / 230, amps=amps,
                         voltage=230.0, power=power, session_energy=session, total_energy=0.0,
                         max_amps=max_amps)


class Rules:
    """A program that proposes what the test puts in `proposals` (every tick)."""

    def __init__(self) -> None:
        self.proposals: list[ProposedAction] = []
        self.program = FakeProgram(lambda now, values: list(self.proposals))


def engine_for(settings: ChargerSettings | None = None, rules: Rules | None = None,
               prices: PriceSeries | None = None) -> Engine:
    settings = settings or ChargerSettings("garage", plan_price="price", min_on=0, min_off=0)
    engine = Engine((rules or Rules()).program, [settings])
    engine.store.set_prices("price", prices or hourly(NIGHT))
    engine.store.set_charger("garage", reading(), at(19))
    return engine


def step(engine: Engine, now: datetime, status: ChargerStatus | None = None) -> StepResult:
    if status is not None:
        engine.store.set_charger("garage", status, now)
    result = engine.step(now)
    for command in result.commands:
        engine.commit(command, ok=True)
    return result


def sent(result: StepResult) -> list[tuple[str, float | None]]:
    return [(c.kind.value, c.value) for c in result.commands]


def logs(result: StepResult) -> list[str]:
    return [str(a.value) for a in result.logs]


def test_a_persons_plan_charges_in_its_cheapest_slots() -> None:
    engine = engine_for()
    engine.store.set_mode("garage", "manual")
    plan = engine.hand("garage", "plan", "20 kWh by 07:00", "cli", at(19))
    assert plan.commands == [] and plan.mode == ("manual", "auto")
    assert plan.notes == ["plan 20.0 kWh by Tue 07:00: slots 01:00-02:00 (0.1), "
                          "02:00-03:00 (0.1), 03:00-03:44 (0.11); expected 20.0 kWh, "
                          "cost 2.05"]
    assert sent(step(engine, at(19))) == []
    assert sent(step(engine, at(0, 59))) == []
    first = step(engine, at(1))
    assert sent(first) == [("set_current", 32.0), ("start", None)]
    assert str(first.commands[1].reason) == "plan: slot 01:00-02:00, 0.1/kWh"
    charging = reading(ChargerState.CHARGING, power=7360.0, session=0.0)
    assert sent(step(engine, at(1, 30), charging)) == []
    at_two = step(engine, at(2), replace(charging, session_energy=7360.0))
    assert sent(at_two) == []           # still in a slot: nothing changes
    # After the partial slot, the plan stops the charger (the rules say nothing).
    end = step(engine, at(3, 44), replace(charging, session_energy=7360.0 * 2 + 5000.0))
    assert sent(end) == [("stop", None)]
    assert str(end.commands[0].reason) == "plan: slot ended"


def test_the_plan_ends_when_met_and_stops_the_charge() -> None:
    engine = engine_for()
    engine.hand("garage", "plan", "10 kWh by 07:00", "api", at(19))
    step(engine, at(2))                                   # the slot began
    result = step(engine, at(2, 30), reading(ChargerState.CHARGING, session=10_000.0,
                                             power=7360.0))
    assert logs(result) == ["10.0 kWh by Tue 07:00 met: 10.0 kWh charged"]
    assert sent(result) == [("stop", None)]
    assert engine.store.plans == {}
    assert engine.plans.status("garage", at(2, 30)) is None


def test_the_plan_ends_at_its_deadline_saying_what_was_charged() -> None:
    engine = engine_for()
    engine.hand("garage", "plan", "60 kWh by 03:00", "api", at(19))
    step(engine, at(19), reading(ChargerState.CHARGING, session=0.0, power=7360.0))
    result = step(engine, at(3), reading(ChargerState.CHARGING, session=30_000.0,
                                         power=7360.0))
    assert logs(result) == ["60.0 kWh by Tue 03:00 ended at its deadline: 30.0 kWh of "
                            "60.0 kWh charged"]
    assert sent(result) == [("stop", None)]


def test_a_plan_that_cannot_be_met_says_so_and_charges_at_once() -> None:
    engine = engine_for()
    plan = engine.hand("garage", "plan", "40 kWh by 22:00", "api", at(19))
    assert "CANNOT be met (17.9 kWh short): charging at full power until the deadline" \
        in plan.notes[0]
    assert sent(step(engine, at(19))) == [("set_current", 32.0), ("start", None)]
    status = engine.plans.status("garage", at(19))
    assert status is not None and status.schedule is not None
    assert not status.schedule.feasible
    assert "CANNOT be met" in "\n".join(status.lines())


def test_within_a_slot_the_plan_wins_over_the_rules_but_not_over_a_safety_stop() -> None:
    rules = Rules()
    engine = engine_for(rules=rules)
    engine.hand("garage", "plan", "20 kWh by 07:00", "api", at(19))
    rules.proposals = [action(ActionKind.STOP, charger="garage"),
                       action(ActionKind.SET_AMPS, 1, 10.0, charger="garage")]
    result = step(engine, at(1))
    assert sent(result) == [("set_current", 32.0), ("start", None)]
    assert [str(lost.beaten_by.rule) for lost in result.lost] == ["plan:", "plan:"]
    safety = ProposedAction(ActionKind.STOP, action(ActionKind.STOP).rule, "garage",
                            safety=True)
    rules.proposals = [safety]
    result = step(engine, at(1, 5), reading(ChargerState.CHARGING, power=7360.0))
    assert sent(result) == [("stop", None)]


def test_outside_its_slots_the_rules_run_and_a_slot_end_yields_to_them() -> None:
    rules = Rules()
    engine = engine_for(rules=rules)
    engine.hand("garage", "plan", "5 kWh by 07:00", "api", at(19))
    rules.proposals = [action(ActionKind.SET_AMPS, 0, 10.0, charger="garage"),
                       action(ActionKind.START, 1, charger="garage")]
    assert sent(step(engine, at(19))) == [("set_current", 10.0), ("start", None)]
    rules.proposals = []
    step(engine, at(2, 20), reading(ChargerState.SLEEPING))
    assert sent(step(engine, at(2, 20))) == []            # the rules stopped it meanwhile
    # the plan's slot (02:19-03:00) is cut at the end of the hour; the rules keep the
    # charge going after it: their start wins over the plan's stop.
    in_slot = step(engine, at(2, 30), reading(ChargerState.CHARGING, power=7360.0,
                                              session=1000.0))
    assert sent(in_slot) == []
    rules.proposals = [action(ActionKind.START, 1, charger="garage")]
    after = step(engine, at(3), reading(ChargerState.CHARGING, power=7360.0, session=4000.0))
    assert sent(after) == []
    assert [h.guard for h in after.held] == [Guard.UNCHANGED]


def test_in_manual_mode_the_plan_waits() -> None:
    engine = engine_for()
    engine.hand("garage", "plan", "20 kWh by 07:00", "api", at(19))
    engine.hand("garage", "stop", None, "dashboard", at(20))      # a person's OFF: manual
    assert sent(step(engine, at(1))) == []
    status = engine.plans.status("garage", at(1))
    assert status is not None and status.state.startswith("paused")
    engine.hand("garage", "mode", "auto", "dashboard", at(1, 10))
    assert sent(step(engine, at(1, 11))) == [("set_current", 32.0), ("start", None)]


def test_new_prices_make_a_new_plan() -> None:
    engine = engine_for()
    engine.hand("garage", "plan", "7.36 kWh by 07:00", "api", at(19))
    cheaper = list(NIGHT)
    cheaper[3] = 0.01                                        # 22:00 becomes the cheapest
    engine.store.set_prices("price", hourly(cheaper))
    result = step(engine, at(19, 1))
    assert logs(result) == ["re-planned (new prices, vehicle or progress): slots "
                            "22:00-23:00 (0.01); expected 7.4 kWh, cost 0.07"]
    assert sent(step(engine, at(22))) == [("set_current", 32.0), ("start", None)]


def test_energy_counts_across_sessions_and_behind_means_more_slots() -> None:
    engine = engine_for()
    engine.hand("garage", "plan", "14.72 kWh by 07:00", "api", at(19))
    step(engine, at(1), reading(ChargerState.CHARGING, session=500.0, power=3000.0))
    # the car took less than planned, then was unplugged and plugged again (a new session)
    step(engine, at(1, 40), reading(ChargerState.CHARGING, session=3500.0, power=3000.0))
    step(engine, at(1, 50), reading(ChargerState.CHARGING, session=200.0, power=3000.0))
    status = engine.plans.status("garage", at(1, 50))
    assert status is not None and status.charged_wh == pytest.approx(3500.0 + 200.0)
    # At 02:00 (a slot boundary) the plan is made again at the measured 3 kW: more time.
    result = step(engine, at(2), reading(ChargerState.CHARGING, session=500.0, power=3000.0,
                                         amps=32.0))
    status = engine.plans.status("garage", at(2))
    assert status is not None and status.schedule is not None
    assert status.schedule.power_w == 3000.0
    assert status.schedule.expected_wh == pytest.approx(14_720 - 4000.0)
    assert any("re-planned" in line for line in logs(result))


def test_the_guards_decide_what_is_sent() -> None:
    settings = ChargerSettings("garage", max_amps=16, plan_price="price", min_on=0, min_off=0)
    engine = engine_for(settings)
    engine.hand("garage", "plan", "20 kWh by 07:00", "api", at(19))
    engine.store.set_charger("garage", reading(max_amps=10.0), at(19))
    result = step(engine, at(1))
    assert sent(result) == [("set_current", 10.0), ("start", None)]
    no_car = engine_for()
    no_car.hand("garage", "plan", "20 kWh by 07:00", "api", at(19))
    assert sent(step(no_car, at(1), reading(vehicle=False))) == []


def test_cancel_stops_a_running_slot_and_a_second_cancel_is_refused() -> None:
    engine = engine_for()
    engine.hand("garage", "plan", "20 kWh by 07:00", "api", at(19))
    step(engine, at(1))
    plan = engine.hand("garage", "cancel_plan", None, "api", at(1, 10))
    assert plan.notes == ["plan 20.0 kWh by Tue 07:00 cancelled (charged 0.0 kWh)"]
    assert sent(step(engine, at(1, 11), reading(ChargerState.CHARGING, power=7360.0))) == [
        ("stop", None)]
    with pytest.raises(HandRefused, match="no plan to cancel"):
        engine.hand("garage", "cancel_plan", None, "api", at(1, 12))


@pytest.mark.parametrize(("text", "message"), [
    ("20 kWh", "an energy and a time"),
    ("20 W by 07:00", "not an energy"),
    ("0 kWh by 07:00", "more than 0"),
    ("20 kWh by 7 o'clock", "write a time of day"),
    ("20 kWh by 2026-01-10T07:00", "past"),
    ("20 kWh by 2026-03-10T07:00", "more than 7 days"),
])
def test_bad_plans_are_refused_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(HandRefused, match=message):
        parse_plan(text, at(19))


def test_plan_texts() -> None:
    assert parse_plan("20kWh@07:00", at(19)) == (20_000.0, at(7))
    assert parse_plan("500 Wh by 18:00", at(19))[1] == at(18) + timedelta(days=1)
    assert parse_plan("20 by 2026-01-13T06:30", at(19)) == (20_000.0, at(6, 30))


def test_a_plan_survives_a_restart(tmp_path: Path) -> None:
    engine = engine_for()
    engine.hand("garage", "plan", "20 kWh by 07:00", "dashboard", at(19))
    step(engine, at(1), reading(ChargerState.CHARGING, session=1000.0, power=7360.0))
    step(engine, at(1, 30), reading(ChargerState.CHARGING, session=4680.0, power=7360.0))
    file = StateFile(tmp_path / "state.json")
    file.save(snapshot(engine.store))
    saved = json.loads((tmp_path / "state.json").read_text())
    assert saved["plans"]["garage"]["wanted_wh"] == 20_000.0
    again = engine_for()
    problems = restore(again.store, StateFile(tmp_path / "state.json").load().state)
    assert problems == []
    result = step(again, at(1, 31), reading(ChargerState.CHARGING, session=4700.0,
                                            power=7360.0))
    status = again.plans.status("garage", at(1, 31))
    assert status is not None and status.charged_wh == pytest.approx(4700.0)
    assert logs(result)[0].startswith("20.0 kWh by Tue 07:00: slots 01:31-02:00")
    assert sent(result) == [("set_current", 32.0)]         # it charges already: no start


def test_a_corrupt_plan_in_the_state_file_is_set_aside(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"format": 1, "plans": {"garage": {"wanted_wh": "lots"}}}))
    loaded = StateFile(path).load()
    assert loaded.problem is not None and "'plans' of charger 'garage'" in loaded.problem


def test_a_config_applied_mid_slot_still_stops_when_the_slot_ends() -> None:
    engine = engine_for()
    engine.hand("garage", "plan", "5 kWh by 07:00", "api", at(19))
    step(engine, at(2, 30))                              # in the slot 02:19-03:00
    fresh = Engine(Rules().program, [ChargerSettings("garage", plan_price="price", min_on=0,
                                                     min_off=0, max_amps=20)])
    restore(fresh.store, snapshot(engine.store))
    fresh.store.set_prices("price", hourly(NIGHT))
    fresh.carry_over(engine)
    # The new engine's first step comes after the slot: the stop it owes is still sent.
    charging = reading(ChargerState.CHARGING, power=4600.0, session=3500.0, amps=20.0)
    assert sent(step(fresh, at(3), charging)) == [("stop", None)]


def test_a_persons_plan_goes_on_while_the_rule_files_have_errors() -> None:
    # The daemon's step without rules: the plan, a person's, still starts and ends its slot.
    engine = engine_for()
    engine.hand("garage", "plan", "20 kWh by 07:00", "cli", at(19))

    def bare(now: datetime, status: ChargerStatus | None = None) -> StepResult:
        if status is not None:
            engine.store.set_charger("garage", status, now)
        result = engine.step_without_rules(now)
        for command in result.commands:
            engine.commit(command, ok=True)
        return result

    assert sent(bare(at(19))) == []
    first = bare(at(1))
    assert sent(first) == [("set_current", 32.0), ("start", None)]
    charging = reading(ChargerState.CHARGING, power=7360.0)
    end = bare(at(3, 44), replace(charging, session_energy=7360.0 * 2 + 5000.0))
    assert sent(end) == [("stop", None)]
    # Without a plan (nor a site), nothing at all is sent.
    engine.hand("garage", "cancel_plan", None, "cli", at(3, 45))
    assert sent(bare(at(4))) == [] and sent(bare(at(5))) == []
