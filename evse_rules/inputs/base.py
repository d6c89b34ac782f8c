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
