"""Energy prices over time: the series a tariff input holds and a charge plan schedules over.

A price series is a run of slots (usually hours) with a price per kWh, in whatever currency
the data uses (the engine never converts). It is plain data: the inputs that read prices
(CSV, http JSON, off-peak windows) build it, the engine's store keeps the last one per input,
rules read the current slot's price as a number, and plans choose the cheapest slots.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class PriceSlot:
    """One price from `start` (inclusive) to `end` (exclusive); times are timezone-aware."""

    start: datetime
    end: datetime
    price: float     # per kWh
    # What the tariff calls this slot, where it says ("offpeak" / "peak" for the windows of
    # a fixed tariff); None for a market price.
    label: str | None = None

    @property
    def hours(self) -> float:
        # By the POSIX times: two datetimes of one time zone subtract as wall clocks, and
        # the night the clocks go forward, 22:00 to 06:00 is 7 hours, not 8.
        return (self.end.timestamp() - self.start.timestamp()) / 3600


@dataclass(frozen=True, slots=True)
class PriceSeries:
    """Slots sorted by start and not overlapping (gaps allowed: no price is known there)."""

    slots: tuple[PriceSlot, ...]
    _starts: tuple[datetime, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for before, after in zip(self.slots, self.slots[1:], strict=False):
            if after.start < before.end:
                raise ValueError(f"price slots overlap: {before.start:%Y-%m-%d %H:%M} and "
                                 f"{after.start:%Y-%m-%d %H:%M}")
        for slot in self.slots:
            if not slot.end > slot.start:
                raise ValueError(f"price slot at {slot.start:%Y-%m-%d %H:%M} ends before it "
                                 "starts")
        object.__setattr__(self, "_starts", tuple(slot.start for slot in self.slots))

    def slot_at(self, when: datetime) -> PriceSlot | None:
        """The slot that holds `when`, if any."""
        i = bisect_right(self._starts, when) - 1
        if i >= 0 and when < self.slots[i].end:
            return self.slots[i]
        return None

    def at(self, when: datetime) -> float | None:
        """The price at `when`; None where the series says nothing."""
        slot = self.slot_at(when)
        return None if slot is None else slot.price

    def window(self, start: datetime, end: datetime) -> tuple[PriceSlot, ...]:
        """The slots that overlap [start, end), cut to it."""
        out = []
        i = max(bisect_right(self._starts, start) - 1, 0)
        for slot in self.slots[i:]:
            if slot.start >= end:
                break
            if slot.end <= start:
                continue
            out.append(PriceSlot(max(slot.start, start), min(slot.end, end), slot.price,
                                 slot.label))
        return tuple(out)

    def merged(self, newer: PriceSeries, keep_from: datetime | None = None) -> PriceSeries:
        """`newer`, with the slots of this series that end before its first start (and
        after `keep_from`) kept: a refresh that gives today and tomorrow does not forget
        the hours already past, which a period that began earlier still counts."""
        if not newer.slots:
            return self
        first = newer.slots[0].start
        kept = tuple(slot for slot in self.slots if slot.end <= first
                     and (keep_from is None or slot.end > keep_from))
        return PriceSeries(kept + newer.slots) if kept else newer

    def __str__(self) -> str:
        if not self.slots:
            return "no prices"
        return (f"{len(self.slots)} prices from {self.slots[0].start.isoformat()} to "
                f"{self.slots[-1].end.isoformat()}")

    @property
    def end(self) -> datetime | None:
        """When the last known price ends (None for an empty series)."""
        return self.slots[-1].end if self.slots else None
