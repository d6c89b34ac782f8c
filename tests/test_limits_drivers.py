"""Currents within the limits and whole claims, at the drivers: the last step before anything
leaves. Whatever the engine, an adopted claim or a hand command asks, every claim body has
both `state` and `charge_current`, the current within the limits; `$SC` likewise."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evse_rules.chargers import DEFAULT_CLIENT_ID, OpenEvseCharger, RapiCharger
from evse_rules.chargers.limits import current_limits
from evse_rules.chargers.simulated import SimulatedCharger
from evse_rules.engine import Command, CommandKind, Reason
from evse_rules.errors import ChargerError, ChargerUnsupported
from evse_rules.live.daemon import _carry_out
from evse_rules.testing.emulator import OpenEvseEmulator
from evse_rules.testing.model import API_PRIORITY
from tests import openevse_fixtures
from tests.engine_fakes import T0
from tests.openevse_fixtures import EmulatorFactory, claims_posted

make_emulator = openevse_fixtures.make_emulator
maybe_spec_checker = openevse_fixtures.maybe_spec_checker

CLAIM = f"/claims/{DEFAULT_CLIENT_ID}"


def driver(emu: OpenEvseEmulator, **kwargs: Any) -> OpenEvseCharger:
    return OpenEvseCharger("garage", emu.url, timeout=0.5, **kwargs)


async def test_min_current_hard_above_max_amps_sends_no_current_and_no_start(
        make_emulator: EmulatorFactory) -> None:
    # Was: 20 A posted with max_amps = 16.
    emu = make_emulator("v5.1.2", min_current_hard=20)
    charger = driver(emu, max_amps=16)
    await charger.refresh()
    emu.clear_requests()
    for command in (charger.set_current(16), charger.set_current(20), charger.start()):
        with pytest.raises(ChargerUnsupported,
                           match="min_current_hard 20 A > max_amps 16 A: nothing sent"):
            await command
    assert claims_posted(emu.requests) == []
    await charger.stop()        # a stop still goes, a whole claim
    assert claims_posted(emu.requests) == [
        {"state": "disabled", "charge_current": 6, "auto_release": False}]


async def test_max_current_hard_zero_sends_no_current(make_emulator: EmulatorFactory) -> None:
    # Was: 0 A posted.
    emu = make_emulator("v5.1.2", max_current_hard=0)
    charger = driver(emu)
    await charger.refresh()
    with pytest.raises(ChargerUnsupported, match="min_amps 6 A > max_current_hard 0 A"):
        await charger.set_current(6)
    assert claims_posted(emu.requests) == []


async def test_an_adopted_claim_current_is_clamped_before_a_start(
        make_emulator: EmulatorFactory) -> None:
    # Was: a claim left at 32 A by a hand command was re-posted by a rule's `start`.
    emu = make_emulator("v5.1.2")
    await driver(emu).set_current(32)           # the hand command, same client id
    await driver(emu).stop()
    emu.clear_requests()
    await driver(emu, max_amps=16).start()      # the daemon, max_amps = 16
    assert claims_posted(emu.requests) == [
        {"state": "active", "charge_current": 16, "auto_release": False}]
    assert emu.pilot == 16


async def test_a_hand_stop_survives_a_current_change(make_emulator: EmulatorFactory) -> None:
    # Was: the daemon posted {"charge_current": 16, "auto_release": false}, which replaced
    # the hand stop's claim and dropped `disabled`: the car started charging.
    emu = make_emulator("v5.1.2")
    daemon = driver(emu, max_amps=16)
    await daemon.refresh()
    await daemon.set_current(10)                # manual_only.evr: `set amps to house_limit`
    await driver(emu).stop()                    # evse-rules charger URL stop
    assert emu.state == 254
    await daemon.refresh()                      # the next tick
    emu.clear_requests()
    await daemon.set_current(16)
    assert claims_posted(emu.requests) == [
        {"state": "disabled", "charge_current": 16, "auto_release": False}]
    assert emu.state == 254


async def test_every_body_carries_state_and_current(make_emulator: EmulatorFactory) -> None:
    emu = make_emulator("4.0.1")                # /override: the same whole body
    charger = driver(emu, min_amps=8, max_amps=20)
    await charger.refresh()
    await charger.start()
    await charger.set_current(12)
    await charger.stop()
    bodies = [r.body for r in emu.requests if r.method == "POST"]
    assert bodies == [{"state": "active", "charge_current": 20, "auto_release": False},
                      {"state": "active", "charge_current": 12, "auto_release": False},
                      {"state": "disabled", "charge_current": 12, "auto_release": False}]


def test_driver_limits_are_checked_when_built() -> None:
    for low, high in ((5, 16), (16, 10), (6, 40)):
        with pytest.raises(ValueError, match="min_amps <= max_amps"):
            OpenEvseCharger("garage", "http://x", min_amps=low, max_amps=high)
        with pytest.raises(ValueError, match="min_amps <= max_amps"):
            RapiCharger("shed", "http://x", min_amps=low, max_amps=high)


async def test_rapi_refuses_a_current_or_start_outside_the_limits(
        make_emulator: EmulatorFactory) -> None:
    emu = make_emulator("4.0.1")
    charger = RapiCharger("shed", emu.url, timeout=0.5, max_amps=16)
    await charger.refresh()
    emu.clear_requests()
    with pytest.raises(ChargerUnsupported, match=r"20 A is outside the limits 6\.\.16 A"):
        await charger.set_current(20)
    await charger.set_current(16)
    emu.model.min_current_hard = 20             # $GC now says 20..32
    await charger.refresh()
    with pytest.raises(ChargerUnsupported, match="min_current_hard 20 A > max_amps 16 A"):
        await charger.start()
    commands = [r.rapi for r in emu.requests if r.rapi and r.rapi[:3] in ("$SC", "$FE")]
    assert commands == ["$SC 16 V"]


async def test_the_simulated_charger_refuses_what_is_outside_its_limits() -> None:
    charger = SimulatedCharger(min_amps=20, max_amps=16)     # its own (hard) limits
    with pytest.raises(ChargerError, match="min_current_hard 20 A > max_current_hard 16 A"):
        await charger.start()
    good = SimulatedCharger(max_amps=16)
    for amps in (17, 5, math.nan, math.inf):
        with pytest.raises(ChargerError):
            good.apply_current(amps)  # type: ignore[arg-type]
    assert good.amps == 32 and not good.enabled


@pytest.mark.parametrize("value", [16.5, math.nan, math.inf, 40.0])
async def test_the_daemon_sends_no_current_that_is_not_whole_or_outside_the_limits(
        value: float) -> None:
    charger = SimulatedCharger(max_amps=32)
    charger.last_status = charger.read_status()  # type: ignore[attr-defined]
    command = Command("evse", CommandKind.SET_CURRENT, value, Reason(None), T0)
    with pytest.raises(ChargerError, match="nothing sent"):
        await _carry_out(charger, command)
    assert charger.amps == 32


# -- the property: any sequence, any limits ------------------------------------------------

@pytest.fixture(scope="module")
def emu() -> Iterator[OpenEvseEmulator]:
    with OpenEvseEmulator("v5.1.2") as emulator:
        yield emulator


hard_limit = st.one_of(st.sampled_from([0, 6, 10, 16, 20, 32, 80, math.nan, math.inf]),
                       st.integers(0, 80))
step = st.one_of(
    st.just(("start", 0)), st.just(("stop", 0)), st.just(("refresh", 0)),
    st.tuples(st.just("amps"), st.integers(-10, 100)),
    st.tuples(st.just("adopt"), st.integers(0, 80)),
)


# 100, not 200: each example is about ten HTTP exchanges with the emulator.
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(min_amps=st.integers(6, 32), span=st.integers(0, 26), hard_min=hard_limit,
       hard_max=hard_limit, steps=st.lists(step, min_size=1, max_size=8))
def test_every_posted_body_is_whole_and_within_the_limits(
        emu: OpenEvseEmulator, min_amps: int, span: int, hard_min: float, hard_max: float,
        steps: list[tuple[str, int]]) -> None:
    max_amps = min(min_amps + span, 32)
    model = emu.model
    with model.lock:
        model.claims.clear()
        model.min_current_hard = hard_min       # type: ignore[assignment]
        model.max_current_hard = hard_max       # type: ignore[assignment]
        model.max_current_soft = 32
        model.config_version += 1
        model.evaluate_claims()
    emu.clear_requests()
    limits = current_limits(min_amps, max_amps, hard_min, hard_max)

    async def run() -> None:
        charger = driver(emu, min_amps=min_amps, max_amps=max_amps)
        try:
            for kind, amps in steps:
                try:
                    if kind == "start":
                        await charger.start()
                    elif kind == "stop":
                        await charger.stop()
                    elif kind == "refresh":
                        await charger.refresh()
                    elif kind == "amps":
                        await charger.set_current(amps)
                    else:   # a claim of our id left by a hand command: a new driver adopts it
                        with model.lock:
                            model.claim(DEFAULT_CLIENT_ID, API_PRIORITY, {
                                "state": "active", "charge_current": amps,
                                "auto_release": False})
                        await charger.close()
                        charger = driver(emu, min_amps=min_amps, max_amps=max_amps)
                except ChargerError:
                    pass    # refused or unreadable: nothing of it may have been posted
        finally:
            await charger.close()

    asyncio.run(run())
    for body in claims_posted(emu.requests):
        assert set(body) == {"state", "charge_current", "auto_release"}
        assert body["auto_release"] is False
        current = body["charge_current"]
        assert isinstance(current, int)
        if limits.fault is None:
            assert limits.low <= current <= limits.high <= 32
        else:   # nothing but a stop, at the config's minimum
            assert body["state"] == "disabled" and current == min_amps
