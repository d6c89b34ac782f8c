"""The charge planner (engine/plans.py) against schedules computed by hand."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from evse_rules.engine.plans import plan_slots
from evse_rules.prices import PriceSeries, PriceSlot

ZONE = timezone(timedelta(hours=1))
EVENING = datetime(2026, 1, 12, 19, 0, tzinfo=ZONE)
MORNING = datetime(2026, 1, 13, 7, 0, tzinfo=ZONE)
POWER = 32 * 230.0          # 7.36 kW
# 19:00 .. 06:00 (12 hours), per kWh
NIGHT = [0.30, 0.28, 0.25, 0.18, 0.15, 0.12, 0.10, 0.10, 0.11, 0.12, 0.16, 0.22]


def hourly(prices: list[float], start: datetime = EVENING) -> PriceSeries:
    return PriceSeries(tuple(PriceSlot(start + timedelta(hours=i),
                                       start + timedelta(hours=i + 1), price)
                             for i, price in enumerate(prices)))


def at(hour: int, minute: int = 0) -> datetime:
    day = EVENING if hour >= 12 else MORNING
    return day.replace(hour=hour, minute=minute)


def spans(schedule: object) -> list[tuple[str, str]]:
    return [(f"{s.start:%H:%M}", f"{s.end:%H:%M}") for s in schedule.slots]  # type: ignore[attr-defined]


def test_20_kwh_by_7_cheapest_hours_and_a_partial_one() -> None:
    # By hand: 01:00 and 02:00 at 0.10 give 2 x 7.36 = 14.72 kWh; 5.28 kWh are left, from the
    # next cheapest hour, 03:00 at 0.11: 5.28 / 7.36 h = 43.04 min, run as 44 whole minutes
    # right after 02:00-03:00 (its neighbour before is planned, the one after is not).
    # Cost: 14.72 x 0.10 + 5.28 x 0.11 = 1.472 + 0.5808 = 2.0528.
    schedule = plan_slots(20_000, EVENING, MORNING, POWER, hourly(NIGHT))
    assert spans(schedule) == [("01:00", "02:00"), ("02:00", "03:00"), ("03:00", "03:44")]
    assert [s.price for s in schedule.slots] == [0.10, 0.10, 0.11]
    assert [round(s.energy_wh) for s in schedule.slots] == [7360, 7360, 5280]
    assert schedule.expected_wh == pytest.approx(20_000)
    assert schedule.cost == pytest.approx(2.0528)
    assert schedule.feasible
    assert schedule.slots[1].text() == "slot 02:00-03:00, 0.1/kWh"


def test_ties_go_to_the_latest_slot() -> None:
    flat = [0.20] * 12
    schedule = plan_slots(10_000, EVENING, MORNING, POWER, hourly(flat))
    # 10 / 7.36 = 1.359 h: the last hour whole, 22 min (21.5 rounded up) before it.
    assert spans(schedule) == [("05:38", "06:00"), ("06:00", "07:00")]
    assert schedule.cost == pytest.approx(10 * 0.20)


def test_without_prices_the_latest_contiguous_run() -> None:
    schedule = plan_slots(20_000, EVENING, MORNING, POWER)
    # 2.717 h before 07:00: the last 44 min (43.04 rounded up) of the 04:00 hour, then on.
    assert spans(schedule) == [("04:16", "05:00"), ("05:00", "06:00"), ("06:00", "07:00")]
    assert schedule.cost is None
    assert schedule.feasible and not schedule.priced


def test_cannot_be_met_charges_at_full_power_from_now() -> None:
    now = at(4)
    schedule = plan_slots(40_000, now, MORNING, POWER, hourly(NIGHT))
    assert not schedule.feasible
    assert spans(schedule) == [("04:00", "05:00"), ("05:00", "06:00"), ("06:00", "07:00")]
    assert schedule.expected_wh == pytest.approx(3 * POWER)
    assert schedule.shortfall_wh == pytest.approx(40_000 - 3 * POWER)


def test_the_current_slot_is_cut_to_now() -> None:
    now = at(1, 30)
    schedule = plan_slots(7_360, now, MORNING, POWER, hourly(NIGHT))
    # 01:30-02:00 (0.10, half an hour) is as cheap as 02:00-03:00 but earlier: 02:00 is taken
    # first and covers it all.
    assert spans(schedule) == [("02:00", "03:00")]
    # 1.64 kWh more: 13.4 min (14) at the end of what is left of 01:00-02:00.
    schedule = plan_slots(9_000, now, MORNING, POWER, hourly(NIGHT))
    assert spans(schedule) == [("01:46", "02:00"), ("02:00", "03:00")]


def test_solar_forecast_slots_come_first() -> None:
    day = datetime(2026, 6, 1, 8, 0, tzinfo=ZONE)
    prices = hourly([0.20] * 10, day)             # 08:00 .. 18:00, flat
    sun = PriceSeries((PriceSlot(day.replace(hour=11), day.replace(hour=13), 7360.0),))
    schedule = plan_slots(14_720, day, day.replace(hour=18), POWER, prices, sun)
    assert spans(schedule) == [("11:00", "12:00"), ("12:00", "13:00")]
    assert schedule.solar_wh == pytest.approx(14_720)
    assert schedule.cost == pytest.approx(0.0)


def test_half_sun_costs_half() -> None:
    day = datetime(2026, 6, 1, 8, 0, tzinfo=ZONE)
    prices = hourly([0.20] * 4, day)
    sun = PriceSeries((PriceSlot(day, day.replace(hour=9), 3680.0),))
    schedule = plan_slots(7_360, day, day.replace(hour=12), POWER, prices, sun)
    assert spans(schedule) == [("08:00", "09:00")]
    assert schedule.cost == pytest.approx(3.68 * 0.20)


def test_gaps_in_the_prices_come_after_priced_slots() -> None:
    prices = PriceSeries((PriceSlot(at(23), at(0), 0.30),))
    schedule = plan_slots(5_000, at(22), at(2), POWER, prices)
    assert [s.price for s in schedule.slots] == [0.30]


def test_nothing_wanted_is_met_at_once() -> None:
    schedule = plan_slots(0.0, EVENING, MORNING, POWER, hourly(NIGHT))
    assert schedule.slots == () and schedule.feasible and schedule.cost == 0.0


def test_review_at_the_next_boundary() -> None:
    schedule = plan_slots(20_000, at(19, 20), MORNING, POWER, hourly(NIGHT))
    assert schedule.review_at == at(20)


def test_bad_power_is_refused() -> None:
    with pytest.raises(ValueError, match="power"):
        plan_slots(1000, EVENING, MORNING, 0.0)
