"""The input interface: an external value (a meter, a constant) read on its own interval.

An input returns a canonical number (W, V, A...) with the time it was read, or raises
`InputError` naming the input and the cause. The engine's store decides when the last good
reading is too old to count (`stale_after`); an input never invents a value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from evse_rules.errors import EvseRulesError

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class InputError(EvseRulesError):
    """An input could not be read. The message names the input and the cause."""

    def __init__(self, name: str, message: str) -> None:
        self.name = name
        self.message = message
        super().__init__(f"inputs.{name}: {message}")


# A reading beyond this, in canonical units (1 GW, 1 GV, 1 GA, 1 GJ), is no home's meter: a
# unit slip or a broken device. Refused, so that it never reaches a rule.
PLAUSIBLE = 1e9
# The largest document an HTTP or MQTT input reads (a meter's JSON is a few kB).
MAX_DOCUMENT = 1_000_000


def plausible(value: float) -> float:
    """`value` if it is a finite reading within +-PLAUSIBLE; else ValueError saying why."""
    if value != value or abs(value) == float("inf"):
        raise ValueError(f"value {value!r} is not a finite number")
    if abs(value) > PLAUSIBLE:
        raise ValueError(f"value {value:g} is beyond any home meter's range (+-{PLAUSIBLE:g} "
                         "in W, V, A or J): a unit slip?")
    return value


@dataclass(frozen=True, slots=True)
class Reading:
    """One value of an input, canonical (W, V, A, ...), and when it was read."""

    value: float
    at: datetime


@runtime_checkable
class Input(Protocol):
    """What every input implements."""

    name: str
    every: float          # s between two reads
    stale_after: float    # s after which the last reading no longer counts (inf: never)

    async def read(self) -> Reading:
        """Read the value now; raises InputError on any failure."""
        ...

    async def close(self) -> None:
        """Free connections."""
        ...
