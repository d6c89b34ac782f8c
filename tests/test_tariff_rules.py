"""The tariff functions in rules: `price`, `cheapest(price, 3 h, 07:00)`, `offpeak(price)`."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from evse_rules.engine import ChargerSettings, Engine
from evse_rules.errors import RuleFileErrors
from evse_rules.inputs.prices import Window, window_series
from evse_rules.language import check_texts, load_program_text
from evse_rules.language.program import Environment, ExternalKind, Kind, ValueType
from evse_rules.prices import PriceSeries, PriceSlot

CET = timezone(timedelta(hours=1))
T0 = datetime(2026, 1, 15, 0, 0, tzinfo=CET)
PRICE_ENV = Environment(inputs={"price": ValueType(Kind.NUMBER),
                                "pv": ValueType(Kind.NUMBER)},
                        prices=frozenset({"price"}))
# A night: dear at midnight, cheapest from 02:00 to 04:00, dear again towards 07:00.
NIGHT = [0.30, 0.22, 0.10, 0.12, 0.18, 0.25, 0.35, 0.40, 0.38, 0.30, 0.28, 0.26,
         0.24, 0.22, 0.26, 0.30, 0.36, 0.42, 0.45, 0.40, 0.34, 0.31, 0.29, 0.27]


def hourly(prices: list[float], start: datetime = T0, hours: float = 1.0) -> PriceSeries:
    step = timedelta(hours=hours)
    return PriceSeries(tuple(PriceSlot(start + i * step, start + (i + 1) * step, p)
                             for i, p in enumerate(prices)))


def values_over(rule: str, series: PriceSeries | None, times: list[datetime],
                env: Environment = PRICE_ENV) -> list[object]:
    """The value of `let x = RULE` at each time, through the engine and its store."""
    program = load_program_text(f"let x = {rule}\n", env=env)
    engine = Engine(program, [ChargerSettings("evse")])
    if series is not None:
        engine.store.set_prices("price", series, times[0])
    return [engine.step(now).lets["x"] for now in times]


def hours(*marks: float, day: datetime = T0) -> list[datetime]:
    return [day + timedelta(hours=h) for h in marks]


def test_price_is_the_current_slots_price() -> None:
    assert values_over("price", hourly(NIGHT), hours(0, 0.5, 2, 3.99, 23.5, 24)) == [
        0.30, 0.30, 0.10, 0.12, 0.27, None]


def test_cheapest_holds_in_the_cheapest_hours_before_the_time_and_never_moves() -> None:
    marks = [h + 0.5 for h in range(8)]
    # 3 cheapest hours before 07:00 (00:00..07:00 known): 02:00, 03:00 and 04:00.
    assert values_over("cheapest(price, 3 h, 07:00)", hourly(NIGHT), hours(*marks)) == [
        False, False, True, True, True, False, False, False]


def test_a_rolling_choice_would_charge_longer_so_past_hours_still_count() -> None:
    # At 05:30 only 05:00 and 06:00 are left before 07:00; both are dearer than the hours
    # already past: the function is false, not "the cheapest of what is left".
    assert values_over("cheapest(price, 3 h, 07:00)", hourly(NIGHT), hours(5.5, 6.5)) == [
        False, False]


def test_cheapest_with_a_start_leaves_out_the_hours_before_it() -> None:
    series = hourly(NIGHT + NIGHT)
    # From 22:00 to 07:00: the evening's 22:00-24:00 and the night's hours compete; midday's
    # cheap 13:00 is outside the period, and so false.
    marks = [13.5, 21.5, 22.5, 26.5, 27.5, 28.5]
    assert values_over("cheapest(price, 2 h, 22:00, 07:00)", series, hours(*marks)) == [
        False, False, False, True, True, False]


def test_cheapest_takes_whole_slots_and_half_hour_prices() -> None:
    half = hourly([0.3, 0.1, 0.2, 0.15, 0.3, 0.3], hours=0.5)
    marks = [0.25 + 0.5 * i for i in range(6)]
    # 1 h of half-hour slots: the two cheapest (00:30 and 01:30).
    assert values_over("cheapest(price, 1 h, 03:00)", half, hours(*marks)) == [
        False, True, False, True, False, False]
    # 40 min needs two half hours: a slot partly needed counts whole.
    assert values_over("cheapest(price, 40 min, 03:00)", half, hours(*marks)) == [
        False, True, False, True, False, False]


def test_ties_go_to_the_earlier_slot() -> None:
    flat = hourly([0.2] * 8)
    assert values_over("cheapest(price, 2 h, 07:00)", flat, hours(0.5, 1.5, 2.5)) == [
        True, True, False]


def test_without_a_series_or_a_price_for_now_cheapest_is_unknown() -> None:
    assert values_over("cheapest(price, 2 h, 07:00)", None, hours(1)) == [None]
    short = hourly([0.1, 0.2])
    assert values_over("cheapest(price, 2 h, 07:00)", short, hours(0.5, 2.5)) == [True, None]


def test_new_prices_make_a_new_choice() -> None:
    program = load_program_text("let x = cheapest(price, 1 h, 07:00)\n", env=PRICE_ENV)
    engine = Engine(program, [ChargerSettings("evse")])
    engine.store.set_prices("price", hourly([0.3, 0.1, 0.2]), T0)
    assert engine.step(T0 + timedelta(minutes=30)).lets["x"] is False
    engine.store.set_prices("price", hourly([0.05, 0.1, 0.2]), T0 + timedelta(minutes=40))
    assert engine.step(T0 + timedelta(minutes=45)).lets["x"] is True


def test_offpeak_reads_the_windows_of_a_fixed_tariff() -> None:
    zone = ZoneInfo("Europe/Paris")
    series = window_series([Window.parse("22:00-06:00")], 0.18, 0.32,
                           datetime(2026, 1, 15).date(), zone)
    day = datetime(2026, 1, 15, tzinfo=zone)
    assert values_over("offpeak(price)", series, hours(5.5, 6.5, 21.9, 22, day=day)) == [
        True, False, False, True]
    assert values_over("offpeak(price)", hourly(NIGHT), hours(1)) == [None]


@pytest.mark.parametrize(("rule", "expected"), [
    ("price is offpeak", [True, False, False, True]),
    ("price is peak", [False, True, True, False]),
    ("price is not offpeak", [False, True, True, False]),
    ("price is not peak", [True, False, False, True]),
])
def test_a_tariff_is_offpeak_or_peak_as_people_say_it(rule: str, expected: list[bool]) -> None:
    zone = ZoneInfo("Europe/Paris")
    series = window_series([Window.parse("22:00-06:00")], 0.18, 0.32,
                           datetime(2026, 1, 15).date(), zone)
    day = datetime(2026, 1, 15, tzinfo=zone)
    assert values_over(rule, series, hours(5.5, 6.5, 21.9, 22, day=day)) == expected
    # A market price has no windows: unknown, as offpeak(price) is.
    assert values_over(rule, hourly(NIGHT), hours(1)) == [None]


def test_is_offpeak_on_what_is_not_a_price_is_an_error_at_its_place() -> None:
    with pytest.raises(RuleFileErrors) as raised:
        load_program_text("let x = pv is offpeak\n", env=PRICE_ENV)
    assert "1:9: error: pv is not a price input" in raised.value.render()


def test_a_rule_starts_in_the_cheapest_hours_and_the_journal_shows_the_price() -> None:
    program = load_program_text("if cheapest(price, 2 h, 07:00) then start else stop\n",
                                env=PRICE_ENV)
    assert [e.kind for e in program.externals] == [ExternalKind.INPUT, ExternalKind.INPUT,
                                                   ExternalKind.PRICES]
    engine = Engine(program, [ChargerSettings("evse", min_on=0, min_off=0,
                                              start_without_vehicle=True)])
    engine.store.set_prices("price", hourly(NIGHT), T0)
    from evse_rules.chargers.base import ChargerState, ChargerStatus

    status = ChargerStatus(state=ChargerState.SLEEPING, vehicle=True, current=0.0,
                           amps=16, voltage=230.0, power=0.0, session_energy=0.0,
                           total_energy=0.0, temp=None)
    engine.store.set_charger("evse", status, T0)
    step = engine.step(T0 + timedelta(hours=2, minutes=5))
    assert [c.kind.value for c in step.commands] == ["start"]
    # The reason names the price the decision read (the series itself is not shown).
    assert step.commands[0].reason.values == (("price", "0.1"),)


@pytest.mark.parametrize(("rule", "message"), [
    ("cheapest(pv, 3 h, 07:00)", "pv is not a price input (price inputs: price)"),
    ("cheapest(price, 3, 07:00)", "cheapest takes a duration"),
    ("cheapest(price, 3 h)", "cheapest takes 3 or 4 arguments"),
    ("cheapest(price, 3 h, 7)", "cheapest takes times of day written out"),
    ("cheapest(price, 3 h, 07:00, 07:00)", "starts when it ends"),
    ("cheapest(price * 2, 3 h, 07:00)", "reads the series of a price input"),
    ("offpeak(price, 1)", "offpeak takes 1 argument"),
    ("cheapest(prise, 3 h, 07:00)", "prise"),
])
def test_a_bad_call_is_an_error_at_its_place(rule: str, message: str) -> None:
    _, errors = check_texts([("t.evr", f"let x = {rule}\n")], PRICE_ENV)
    assert errors, rule
    assert message in errors[0].message, errors[0].message


def test_without_a_config_any_number_input_may_carry_prices() -> None:
    program = load_program_text("input price: number\nlet x = cheapest(price, 1 h, 07:00)\n")
    assert [e.kind for e in program.externals][-1] is ExternalKind.PRICES


def test_a_price_is_a_plain_number_not_a_quantity() -> None:
    _, errors = check_texts([("t.evr", "input pv: W\nlet x = cheapest(pv, 1 h, 07:00)\n")])
    assert [e.message for e in errors] == [
        "a price is a plain number (per kWh), pv is power (W)"]


def test_a_function_name_is_not_an_input_name() -> None:
    with pytest.raises(RuleFileErrors, match="would hide the function cheapest"):
        load_program_text("input cheapest: number\n")
