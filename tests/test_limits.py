"""Currents within the limits, at the engine's guard: whatever the rules and the charger say,
a current sent is whole amperes within max(6, min_amps, ceil(min_current_hard)) ..
min(32, max_amps, floor(max_current_hard)); an empty or nonsensical interval sends nothing but
a stop, and says why with the figures."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evse_rules.chargers.base import ChargerState
from evse_rules.chargers.limits import current_limits
from evse_rules.engine import ChargerSettings, CommandKind, Engine, Guard, StepResult
from evse_rules.language.program import ProposedAction, Value
from tests.engine_fakes import (
    SET_AMPS,
    START,
    STOP,
    T0,
    Decide,
    FakeProgram,
    action,
    scripted,
    status,
)


def _engine(decide: Decide, min_amps: int = 6, max_amps: int = 16) -> Engine:
    settings_ = ChargerSettings("evse", min_amps=min_amps, max_amps=max_amps, min_on=0.0,
                                min_off=0.0)
    return Engine(FakeProgram(decide), [settings_])


def _step(engine: Engine, hard_min: float, hard_max: float,
          state: ChargerState = ChargerState.CONNECTED) -> StepResult:
    engine.store.set_charger("evse", status(state, min_amps=hard_min, max_amps=hard_max), T0)
    return engine.step(T0 + timedelta(seconds=1))


def test_min_current_hard_above_max_amps_sends_nothing_and_says_why() -> None:
    # Was: 20 A sent with max_amps = 16 (the hard minimum won over the config's maximum).
    engine = _engine(scripted([action(SET_AMPS, 0, 16.0), action(START, 1)]))
    step = _step(engine, hard_min=20, hard_max=32, state=ChargerState.SLEEPING)
    assert step.commands == []
    assert [(h.guard, h.why) for h in step.held] == [
        (Guard.FAULT, "min_current_hard 20 A > max_amps 16 A: nothing sent")] * 2


def test_max_current_hard_zero_sends_nothing() -> None:
    # Was: 0 A sent (the hard maximum 0 won over the J1772 minimum of 6 A).
    engine = _engine(scripted([action(SET_AMPS, 0, 10.0)]))
    step = _step(engine, hard_min=6, hard_max=0)
    assert step.commands == []
    assert [h.why for h in step.held] == ["min_amps 6 A > max_current_hard 0 A: nothing sent"]


@pytest.mark.parametrize("hard_min, hard_max, key", [
    (math.nan, 32.0, "min_current_hard nan"), (6.0, math.nan, "max_current_hard nan"),
    (math.inf, 32.0, "min_current_hard inf"), (6.0, math.inf, "max_current_hard inf"),
    (-math.inf, 32.0, "min_current_hard -inf"),
])
def test_a_non_finite_hard_limit_sends_nothing_and_every_tick_goes_on(
        hard_min: float, hard_max: float, key: str) -> None:
    # Was: math.ceil(nan) raised ValueError in every tick until a restart.
    engine = _engine(lambda now, values: [action(SET_AMPS, 0, 10.0)])
    for _ in range(3):
        step = _step(engine, hard_min, hard_max)
        assert step.commands == []
        assert [h.guard for h in step.held] == [Guard.FAULT]
        assert step.held[0].why == f"charger {key} A is not a finite number: nothing sent"
    # The limits the rules read (`min_amps`, `max_amps`) stay numbers: the config's.
    limits = ChargerSettings("evse", max_amps=16).limits(
        status(min_amps=hard_min, max_amps=hard_max))
    assert limits == (6, 16)


def test_a_faulted_charger_still_gets_its_stop() -> None:
    engine = _engine(scripted([action(STOP, 0)]))
    step = _step(engine, hard_min=20, hard_max=32, state=ChargerState.CHARGING)
    assert [c.kind for c in step.commands] == [CommandKind.STOP]


@pytest.mark.parametrize("asked", [math.inf, -math.inf, math.nan, 1e308, -1e308])
def test_a_proposed_current_of_any_size_never_raises(asked: float) -> None:
    engine = _engine(scripted([action(SET_AMPS, 0, asked)]))
    step = _step(engine, hard_min=6, hard_max=32)
    for command in step.commands:
        assert command.value in (6.0, 16.0)
    if not math.isfinite(asked):
        assert step.commands == [] and step.held[0].guard is Guard.NO_VALUE


def test_limits_name_the_tightest_bound() -> None:
    assert current_limits(6, 16, 20, 32).fault == \
        "min_current_hard 20 A > max_amps 16 A: nothing sent"
    assert current_limits(10, 16, 6, 8).fault == \
        "min_amps 10 A > max_current_hard 8 A: nothing sent"
    assert current_limits(6, 32, 12.000000001, 15.9999999999) == current_limits(6, 32, 12, 16)
    limits = current_limits(6, 32, 5.5, 80)
    assert (limits.low, limits.high, limits.fault) == (6, 32, None)


hard_limit = st.one_of(st.sampled_from([0.0, 6.0, 20.0, 32.0, 80.0, math.nan, math.inf,
                                        -math.inf, -5.0]),
                       st.floats(min_value=0, max_value=80))
proposal = st.one_of(
    st.just("start"), st.just("stop"), st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-10, max_value=80),
)


@settings(max_examples=200, deadline=None)
@given(min_amps=st.integers(6, 32), span=st.integers(0, 26), hard_min=hard_limit,
       hard_max=hard_limit,
       script=st.lists(st.lists(proposal, max_size=3), min_size=1, max_size=20),
       states=st.lists(st.sampled_from(list(ChargerState)), min_size=1, max_size=20))
def test_every_current_sent_is_whole_and_within_the_limits(
        min_amps: int, span: int, hard_min: float, hard_max: float,
        script: list[list[object]], states: list[ChargerState]) -> None:
    max_amps = min(min_amps + span, 32)
    low = max(6, min_amps, math.ceil(hard_min - 1e-9)) if math.isfinite(hard_min) else None
    high = min(32, max_amps, math.floor(hard_max + 1e-9)) if math.isfinite(hard_max) else None
    empty = low is None or high is None or high < low
    ticks = iter(script)

    def decide(now: datetime, values: list[Value]) -> list[ProposedAction]:
        out = []
        for index, item in enumerate(next(ticks, [])):
            if item == "start":
                out.append(action(START, index))
            elif item == "stop":
                out.append(action(STOP, index))
            elif isinstance(item, float):
                out.append(action(SET_AMPS, index, item))
        return out

    engine = _engine(decide, min_amps, max_amps)
    for tick in range(len(script)):
        now = T0 + timedelta(minutes=tick)
        state = states[tick % len(states)]
        engine.store.set_charger("evse", status(state, min_amps=hard_min, max_amps=hard_max,
                                                amps=float(tick % 40)), now)
        step = engine.step(now + timedelta(seconds=1))
        for command in step.commands:
            if command.kind is CommandKind.SET_CURRENT:
                assert not empty
                assert command.value is not None and command.value == int(command.value)
                assert low is not None and high is not None
                assert low <= command.value <= high <= 32
            elif command.kind is CommandKind.START:
                assert not empty
            engine.commit(command, ok=True)
        if empty:
            assert all(h.guard is Guard.FAULT for h in step.held
                       if h.action.kind in (SET_AMPS, START) and h.guard not in (
                           Guard.OFFLINE, Guard.NO_VALUE, Guard.UNCHANGED, Guard.NO_VEHICLE))
