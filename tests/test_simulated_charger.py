"""The simulated charger: states of the firmware, power, a battery that fills up."""

from __future__ import annotations

import pytest

from evse_rules.chargers.base import Charger, ChargerState
from evse_rules.chargers.simulated import SimulatedCharger
from evse_rules.errors import ChargerError


def test_states_follow_claim_and_vehicle() -> None:
    charger = SimulatedCharger(vehicle=False)
    assert charger.read_status().state is ChargerState.SLEEPING   # paused: 254, not charging
    charger.enable()
    assert charger.read_status().state is ChargerState.NOT_CONNECTED
    charger.plug(True)
    status = charger.read_status()
    assert status.state is ChargerState.CHARGING and status.charging and status.vehicle


def test_power_is_min_of_amps_and_vehicle_times_voltage_and_phases() -> None:
    charger = SimulatedCharger(voltage=230.0, phases=3, vehicle_max_amps=16.0, enabled=True)
    charger.apply_current(10)
    assert charger.read_status().power == pytest.approx(10 * 230.0 * 3)
    charger.apply_current(32)
    assert charger.read_status().power == pytest.approx(16 * 230.0 * 3)
    assert charger.read_status().current == 16.0 and charger.read_status().amps == 32.0


def test_battery_stops_drawing_when_full() -> None:
    charger = SimulatedCharger(voltage=240.0, capacity_wh=1000.0, soc=90.0, enabled=True,
                               amps=10)
    # 2400 W for 60 s is 40 Wh: 100 Wh fit, so two full minutes and a partial third.
    assert charger.advance(60.0) == pytest.approx(40 * 3600.0)
    assert charger.advance(60.0) == pytest.approx(40 * 3600.0)
    assert charger.advance(60.0) == pytest.approx(20 * 3600.0)
    status = charger.read_status()
    assert status.state is ChargerState.CONNECTED and status.power == 0.0
    assert status.session_energy == pytest.approx(100.0)
    assert charger.advance(60.0) == 0.0


def test_new_session_when_plugged_in() -> None:
    charger = SimulatedCharger(enabled=True, amps=10)
    charger.advance(3600.0)
    assert charger.read_status().session_energy == pytest.approx(2400.0)
    charger.plug(False)
    charger.plug(True)
    status = charger.read_status()
    assert status.session_energy == 0.0 and status.total_energy == pytest.approx(2.4)


def test_current_outside_hard_limits_is_refused() -> None:
    with pytest.raises(ChargerError, match="outside"):
        SimulatedCharger().apply_current(40)


async def test_implements_the_charger_protocol() -> None:
    charger = SimulatedCharger()
    assert isinstance(charger, Charger)
    await charger.set_current(12)
    await charger.start()
    status = await charger.refresh()
    assert status.state is ChargerState.CHARGING and status.amps == 12.0
    await charger.stop()
    assert (await charger.refresh()).state is ChargerState.SLEEPING
    await charger.set_voltage(231.0)
    assert (await charger.refresh()).voltage == 231.0
    await charger.release()
    await charger.close()
