"""WiFi firmware versions and claim client ids.

The WiFi firmware reports itself in /config `version`: release tags ("4.1.2" before v4.2.0,
"v5.1.2" after) and dev builds ("<branch>_<hash>", "local_<branch>_<hash>", optionally with
"_modified"; API-NOTES section 3). Like python-openevse-http (API-NOTES section 10, "Version
gates"), anything that is not a plain release tag counts as a dev build, which is newer than every
release: it is built from master, which has every API a release has.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_RELEASE = re.compile(r"v?(\d+)\.(\d+)\.(\d+)", re.IGNORECASE)

# Version gates, each with the API-NOTES section that dates it (section 12, "Version timeline").
OVERRIDE_API = (4, 0, 1)       # /override (section 5, "Version history")
CLAIMS_API = (4, 1, 0)         # /claims/{client} (section 5)
SESSION_ENERGY = (4, 1, 1)     # session_energy Wh / total_energy kWh in /status (section 12)
STATUS_POST = (4, 1, 6)        # POST /status {"voltage"} (section 6)
POWER_FIELD = (4, 2, 0)        # /status `power` (section 2)
OVERRIDE_EMPTY_200 = (5, 0, 0)  # GET /override with none: 200 {} instead of 404 (section 4)
RAPI_G_ONLY = (5, 0, 0)        # /r blocks everything but $G... (section 8)
RAPI_F0_FB = (5, 1, 5)         # ...and also allows $F0, $FB (section 8)


@dataclass(frozen=True, slots=True)
class FirmwareVersion:
    """A parsed WiFi firmware version; `release` is None for a dev build (newest of all)."""

    raw: str
    release: tuple[int, int, int] | None

    @classmethod
    def parse(cls, raw: str) -> FirmwareVersion:
        """Parse /config `version`; raises ValueError on an empty string."""
        text = raw.strip()
        if not text:
            raise ValueError("empty firmware version")
        match = _RELEASE.fullmatch(text)
        if match is None:
            return cls(raw=text, release=None)
        major, minor, patch = (int(part) for part in match.groups())
        return cls(raw=text, release=(major, minor, patch))

    @property
    def is_dev(self) -> bool:
        return self.release is None

    def at_least(self, version: tuple[int, int, int]) -> bool:
        """True when this firmware is `version` or newer (a dev build always is)."""
        return self.release is None or self.release >= version

    def __str__(self) -> str:
        return self.raw


# Our claim client id: EVC(vendor, n) = (vendor << 16) | n (API-NOTES section 5, "Client ids")
# with vendor 0x4556 ("EV") and n = 1. It stays clear of the firmware's own ids (vendor 1:
# 65537..65548), the OpenEnergyMonitor DemandShaper (131073), evcc (262145) and
# python-openevse-http (20), and is below 2^31 because the firmware parses it with toInt().
DEFAULT_CLIENT_ID = (0x4556 << 16) | 1  # 1163264001

_TAKEN_IDS: dict[int, str] = {
    20: "python-openevse-http / Home Assistant",
    131073: "the OpenEnergyMonitor DemandShaper",
    262145: "evcc",
    **{65536 + n: "the firmware itself" for n in range(1, 13)},
}


def validate_client_id(client_id: int) -> int:
    """Return `client_id` if we may claim with it; ValueError naming the reason if not."""
    if isinstance(client_id, bool) or not isinstance(client_id, int):
        raise ValueError(f"client id must be a whole number, not {client_id!r}")
    if not 0 < client_id < 2**31:
        raise ValueError(
            f"client id {client_id} is out of range: it must be between 1 and {2**31 - 1} "
            "(the firmware parses it as a signed 32-bit decimal)"
        )
    if client_id in _TAKEN_IDS:
        raise ValueError(f"client id {client_id} is already used by {_TAKEN_IDS[client_id]}")
    return client_id
