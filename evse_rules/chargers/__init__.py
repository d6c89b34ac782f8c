"""Charger drivers behind one interface (`base.Charger`), and the factory the daemon uses."""

from __future__ import annotations

import httpx

from evse_rules.chargers.base import Charger, ChargerState, ChargerStatus, offline_status
from evse_rules.chargers.firmware import DEFAULT_CLIENT_ID, FirmwareVersion, validate_client_id
from evse_rules.chargers.openevse import OpenEvseCharger
from evse_rules.chargers.rapi import RapiCharger

__all__ = [
    "DEFAULT_CLIENT_ID",
    "DRIVERS",
    "Charger",
    "ChargerState",
    "ChargerStatus",
    "FirmwareVersion",
    "OpenEvseCharger",
    "RapiCharger",
    "connect",
    "offline_status",
    "validate_client_id",
]

# The HTTP drivers `connect` builds; "simulated" is built by the engine, not here.
DRIVERS = ("openevse", "rapi")


def connect(
    name: str,
    driver: str,
    url: str,
    *,
    user: str | None = None,
    password: str | None = None,
    timeout: float = 5.0,
    client_id: int | None = None,
    phases: int = 1,
    min_amps: int = 6,
    max_amps: int = 32,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Charger:
    """A driver for one charger: "openevse" (WiFi API, firmware 4.0.1+) or "rapi" (legacy /r).

    `min_amps`/`max_amps` are the config's limits: the driver never sends a current outside
    them (nor outside the charger's own hard limits). Nothing is sent yet: the first `refresh`
    reads the charger. Raises ValueError for an unknown
    driver, a bad URL, a bad timeout or a client id we may not use (the message says why).
    """
    if driver == "openevse":
        return OpenEvseCharger(name, url, user=user, password=password, timeout=timeout,
                               client_id=client_id, phases=phases, min_amps=min_amps,
                               max_amps=max_amps, transport=transport)
    if driver == "rapi":
        if client_id is not None:
            raise ValueError("client_id applies to the openevse driver only (RAPI has no claims)")
        return RapiCharger(name, url, user=user, password=password, timeout=timeout,
                           phases=phases, min_amps=min_amps, max_amps=max_amps,
                           transport=transport)
    raise ValueError(f"unknown charger driver {driver!r}: expected one of {', '.join(DRIVERS)}")
