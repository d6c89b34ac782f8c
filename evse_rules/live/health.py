"""What the daemon says about its sources: a failure once when it starts, once when it ends.

A meter that stays dead for a night is one warning and one "reading again", not a line per
tick; the journal gets the same events, so `evse-rules history` shows them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from evse_rules.chargers.base import ChargerStatus
from evse_rules.engine import StateStore
from evse_rules.engine.journal import Event
from evse_rules.live.sources import ChargerResult, InputResult

log = logging.getLogger("evse_rules.live")

STALE = "stale: no fresh value, rules that read it do not fire"


@dataclass(slots=True)
class Health:
    """The last thing said about each source."""

    input_errors: dict[str, str] = field(default_factory=dict)
    stale: set[str] = field(default_factory=set)
    offline: dict[str, str] = field(default_factory=dict)

    def apply(self, store: StateStore, results: Sequence[InputResult | ChargerResult],
              events: list[Event]) -> None:
        """Put the reads that arrived into the store; report failures and recoveries."""
        for result in results:
            if isinstance(result, ChargerResult):
                store.set_charger(result.name, result.status, result.at)
                self._charger(result.name, result.status, events)
            elif result.error is None and result.value is not None:
                store.set_input(result.name, result.value, result.at)
                if self.input_errors.pop(result.name, None) is not None:
                    log.info("inputs.%s: reading again", result.name)
                    events.append(Event("info", f"inputs.{result.name}", "reading again"))
            elif result.error is not None:
                if self.input_errors.get(result.name) != result.error:
                    log.warning("%s", result.error)
                    events.append(Event("warning", f"inputs.{result.name}", result.error))
                self.input_errors[result.name] = result.error

    def _charger(self, name: str, status: ChargerStatus, events: list[Event]) -> None:
        if not status.online:
            reason = status.error or "no answer"
            if self.offline.get(name) != reason:
                log.warning("%s: offline: %s", name, reason)
                events.append(Event("warning", f"chargers.{name}", f"offline: {reason}", name))
            self.offline[name] = reason
        elif self.offline.pop(name, None) is not None:
            log.info("%s: online again (%s)", name, status.state.value)
            events.append(Event("info", f"chargers.{name}",
                                f"online again ({status.state.value})", name))

    def staleness(self, store: StateStore, events: list[Event]) -> None:
        """Say when an input goes stale (rules reading it stop firing) and when it is back.

        Call after `store.expire(now)`."""
        stale = {r.name for r in store.readings() if r.stale}
        for name in sorted(stale - self.stale):
            log.warning("inputs.%s: %s", name, STALE)
            events.append(Event("warning", f"inputs.{name}", STALE))
        for name in sorted(self.stale - stale):
            log.info("inputs.%s: fresh again", name)
            events.append(Event("info", f"inputs.{name}", "fresh again"))
        self.stale = stale
