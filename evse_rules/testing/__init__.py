"""Test helpers shipped with the package: a loopback emulator of the OpenEVSE WiFi firmware.

    from evse_rules.testing import OpenEvseEmulator
"""

from __future__ import annotations

from evse_rules.testing.emulator import Exchange, OpenEvseEmulator, RecordedRequest

__all__ = ["Exchange", "OpenEvseEmulator", "RecordedRequest"]
