"""Test helpers shipped with the package: a loopback emulator of the OpenEVSE WiFi firmware
and a loopback PV meter.

    from evse_rules.testing import OpenEvseEmulator, pv_meter
"""

from __future__ import annotations

from evse_rules.testing.emulator import Exchange, OpenEvseEmulator, RecordedRequest
from evse_rules.testing.meter import PvMeter, pv_meter

__all__ = ["Exchange", "OpenEvseEmulator", "PvMeter", "RecordedRequest", "pv_meter"]
