"""A charge plan proposes, the guards decide: whatever the limits (config and hard, NaN and
infinite included), the prices, the charger's readings and the plan, every current sent is
whole and within the limits, nothing but a stop reaches a faulted charger, and no step
raises."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from evse_rules.chargers.base import ChargerState, ChargerStatus
from evse_rules.engine import ChargerSettings, CommandKind, Engine
from evse_rules.engine.hand import HandRefused
from evse_rules.prices import PriceSeries, PriceSlot
from tests.engine_fakes import FakeProgram

T0 = datetime(2026, 1, 12, 18, 0, tzinfo=UTC)
hard_limit = st.one_of(st.sampled_from([0.0, 6.0, 20.0, 32.0, 80.0, math.nan, math.inf,
                                        -math.inf, -5.0]),
                       st.floats(min_value=0, max_value=80))
# Mostly states with a car that charges, so that the plan's slots send something.
STATES = [*ChargerState, ChargerState.CHARGING, ChargerState.CONNECTED, ChargerState.SLEEPING]
reading_value = st.one_of(st.sampled_from([0.0, math.nan, math.inf, -1.0, 230.0]),
                          st.floats(min_value=0, max_value=100_000))


@settings(max_examples=150, deadline=None)
@given(min_amps=st.integers(6, 32), span=st.integers(0, 26), hard_min=hard_limit,
       hard_max=hard_limit, phases=st.sampled_from([1, 3]),
       wanted=st.floats(min_value=0.1, max_value=200), hours=st.integers(1, 30),
       prices=st.lists(st.floats(min_value=-0.5, max_value=2.0), max_size=30),
       readings=st.lists(st.tuples(st.sampled_from(STATES), st.sampled_from([True, True, False]),
                                   reading_value, reading_value, reading_value),
                         min_size=1, max_size=12))
def test_every_current_a_plan_sends_is_whole_and_within_the_limits(
        min_amps: int, span: int, hard_min: float, hard_max: float, phases: int,
        wanted: float, hours: int, prices: list[float],
        readings: list[tuple[ChargerState, bool, float, float, float]]) -> None:
    max_amps = min(min_amps + span, 32)
    low = max(6, min_amps, math.ceil(hard_min - 1e-9)) if math.isfinite(hard_min) else None
    high = min(32, max_amps, math.floor(hard_max + 1e-9)) if math.isfinite(hard_max) else None
    empty = low is None or high is None or high < low
    engine = Engine(FakeProgram(), [ChargerSettings("evse", min_amps=min_amps,
                                                    max_amps=max_amps, phases=phases,
                                                    plan_price="price")])
    engine.store.set_prices("price", PriceSeries(tuple(
        PriceSlot(T0 + timedelta(hours=i), T0 + timedelta(hours=i + 1), p)
        for i, p in enumerate(prices))))
    deadline = (T0 + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M+00:00")
    try:
        engine.hand("evse", "plan", f"{wanted} kWh by {deadline}", "api", T0)
    except HandRefused:
        return
    ticks = readings * 4
    for tick, (state, vehicle, volts, power, session) in enumerate(ticks):
        now = T0 + timedelta(hours=hours * (tick + 1) / len(ticks))    # up to the deadline
        engine.store.set_charger("evse", ChargerStatus(
            state=state, vehicle=vehicle, current=0.0, amps=float(tick % 40), voltage=volts,
            power=power, session_energy=session, total_energy=0.0, min_amps=hard_min,
            max_amps=hard_max), now)
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
