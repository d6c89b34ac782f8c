"""A constant input: a fixed value from the config (`value = "300 W"`, a text, a boolean)."""

from __future__ import annotations

from typing import cast

from evse_rules.inputs.base import Clock, Reading, utc_now


class ConstantInput:
    """Always the same canonical value; it is never stale."""

    def __init__(self, name: str, value: float | str | bool, every: float = 60.0,
                 clock: Clock = utc_now) -> None:
        self.name = name
        self.value = value
        self.every = every
        self.stale_after = float("inf")
        self._clock = clock

    async def read(self) -> Reading:
        # A Reading holds numbers; a text or a boolean constant is carried as it is.
        return Reading(cast(float, self.value), self._clock())

    async def close(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"ConstantInput({self.name!r}, {self.value!r})"
