"""`refresh()` for the HTTP drivers: never raise, log the reason once per change."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from evse_rules.chargers.base import ChargerStatus, offline_status
from evse_rules.chargers.http import log
from evse_rules.errors import ChargerError
from evse_rules.traced import TracedOnce


class Refresher:
    """Turns a raising `read_status` into the `refresh` of the Charger contract."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.reason: str | None = None  # why the charger is offline now (None: online)
        self._traced = TracedOnce()

    async def refresh(
        self,
        read: Callable[[], Awaitable[ChargerStatus]],
        last: Callable[[], ChargerStatus | None],
    ) -> ChargerStatus:
        try:
            status = await read()
        except ChargerError as error:
            return self._offline(error.message, last())
        except Exception as error:  # a driver bug must not stop the tick either
            self._traced.error(log, "refresh", error, "%s: unexpected error while refreshing",
                               self.name)
            return self._offline(f"unexpected error: {type(error).__name__}: {error}", last())
        if self.reason is not None:
            # Debug: the daemon's health report says it once, with how long it was away.
            log.debug("%s: back online", self.name)
            self.reason = None
        return status

    def _offline(self, reason: str, last: ChargerStatus | None) -> ChargerStatus:
        if reason != self.reason:  # one line per change of reason, not one per tick
            log.debug("%s: offline: %s", self.name, reason)
            self.reason = reason
        return offline_status(reason, last)
