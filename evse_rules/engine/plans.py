"""The charge planner: which slots deliver the energy still wanted by a deadline, cheapest first.

Pure: no I/O, no clock (`now` is given), no engine. Given the energy still wanted, the
deadline, the charger's power, a price series (or none) and a solar forecast (or none), it
chooses the slots:

- the window is [now, deadline); a price series' slots are cut to it, the stretches it says
  nothing about are split at whole hours (UTC) and have no price;
- each slot is ranked by what its grid energy costs: its price times the share of the
  charger's power the sun does not give there (a forecast of expected W per slot; without
  one the share is 1). Priced slots come before unpriced ones; among equal ranks the latest
  slot wins, so a charge starts as late as the prices allow (and, without prices, the plan is
  the latest contiguous run before the deadline);
- slots are taken in that order until the energy is covered; the last one taken may be
  partial: it runs at the end of its slot when the slot after it is planned too (or when
  neither neighbour is), at its start when only the one before is, so that the charge
  stays contiguous and the contactor switches once;
- when the whole window at full power cannot deliver the energy, the plan says so and
  charges at full power from now to the deadline (`feasible` False).

Energies are Wh, powers W, prices per kWh (the price series' own currency).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from evse_rules.prices import PriceSeries

# Less than this is nothing left to charge (float noise of a sum of slot energies).
ENERGY_TOLERANCE_WH = 1.0
_HOUR = timedelta(hours=1)
_MINUTE = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class PlannedSlot:
    """A stretch of time in which the plan charges at full power."""

    start: datetime
    end: datetime
    price: float | None       # per kWh; None where the price series says nothing
    energy_wh: float          # expected into the car
    solar_wh: float = 0.0     # of which the sun is expected to give

    @property
    def grid_wh(self) -> float:
        return max(self.energy_wh - self.solar_wh, 0.0)

    @property
    def cost(self) -> float | None:
        """What the grid energy of the slot costs; None without a price."""
        return None if self.price is None else self.grid_wh / 1000.0 * self.price

    def holds(self, when: datetime) -> bool:
        return self.start <= when < self.end

    def text(self) -> str:
        """'slot 02:00-03:00, 0.21/kWh' (local times of the slot's own zone)."""
        price = "no price" if self.price is None else f"{self.price:g}/kWh"
        return f"slot {self.start:%H:%M}-{self.end:%H:%M}, {price}"


@dataclass(frozen=True, slots=True)
class Schedule:
    """The planner's answer: the slots in time order, what they are expected to deliver and
    cost, and whether the energy can be had by the deadline."""

    made_at: datetime
    deadline: datetime
    wanted_wh: float
    power_w: float
    slots: tuple[PlannedSlot, ...]
    feasible: bool
    priced: bool              # a price series was given
    review_at: datetime       # the next slot boundary: the plan is made again there

    @property
    def expected_wh(self) -> float:
        return sum(slot.energy_wh for slot in self.slots)

    @property
    def solar_wh(self) -> float:
        return sum(slot.solar_wh for slot in self.slots)

    @property
    def cost(self) -> float | None:
        """The grid energy's cost; None when a planned slot has no price (or none is known)."""
        costs = [slot.cost for slot in self.slots]
        if not costs or any(cost is None for cost in costs):
            return None if self.slots else 0.0
        return sum(cost for cost in costs if cost is not None)

    @property
    def shortfall_wh(self) -> float:
        return max(self.wanted_wh - self.expected_wh, 0.0)

    def slot_at(self, when: datetime) -> PlannedSlot | None:
        for slot in self.slots:
            if slot.holds(when):
                return slot
        return None

    def next_slot(self, when: datetime) -> PlannedSlot | None:
        """The slot that holds `when` or the first after it."""
        for slot in self.slots:
            if slot.end > when:
                return slot
        return None


@dataclass(frozen=True, slots=True)
class _Candidate:
    start: datetime
    end: datetime
    price: float | None
    solar_w: float            # mean expected solar power over the slot, within the power

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600.0


def plan_slots(
    wanted_wh: float, now: datetime, deadline: datetime, power_w: float,
    prices: PriceSeries | None = None, solar: PriceSeries | None = None,
) -> Schedule:
    """Choose the slots that deliver `wanted_wh` by `deadline` (see the module docstring).

    `power_w` is what the charger delivers at full current; `solar` is a series whose
    'price' is the expected solar power (W) available to the car in each of its slots."""
    if not math.isfinite(power_w) or power_w <= 0:
        raise ValueError(f"the charger's power must be a positive number of watts, got "
                         f"{power_w!r}")
    if not math.isfinite(wanted_wh):
        raise ValueError(f"the energy wanted must be a number of Wh, got {wanted_wh!r}")
    if now.tzinfo is None or deadline.tzinfo is None:
        raise ValueError("plan times must carry their time zone")
    candidates = _candidates(now, deadline, power_w, prices, solar)
    review = _review_at(now, deadline, candidates)
    priced = prices is not None
    if wanted_wh <= ENERGY_TOLERANCE_WH:
        return Schedule(now, deadline, wanted_wh, power_w, (), True, priced, review)
    capacity = sum(c.hours for c in candidates) * power_w
    if capacity < wanted_wh - ENERGY_TOLERANCE_WH:
        # Not enough time: every slot at full power, from now on.
        every = tuple(_planned(c, c.start, c.end, power_w) for c in candidates)
        return Schedule(now, deadline, wanted_wh, power_w, every, False, priced, review)
    order = sorted(range(len(candidates)), key=lambda i: _rank(candidates[i], power_w))
    chosen: dict[int, float] = {}      # candidate index -> energy taken from it
    left = wanted_wh
    for index in order:
        if left <= ENERGY_TOLERANCE_WH:
            break
        full = candidates[index].hours * power_w
        take = min(full, left)
        chosen[index] = take
        left -= take
    slots = []
    for index in sorted(chosen):
        candidate = candidates[index]
        energy = chosen[index]
        start, end = candidate.start, candidate.end
        if energy < candidate.hours * power_w - ENERGY_TOLERANCE_WH:
            start, end = _place(candidates, chosen, index, energy / power_w)
        slots.append(_planned(candidate, start, end, power_w, energy))
    review = min([review] + [s.start for s in slots if s.start > now]
                 + [s.end for s in slots if s.end > now])
    return Schedule(now, deadline, wanted_wh, power_w, tuple(slots), True, priced, review)


def _rank(candidate: _Candidate, power_w: float) -> tuple[bool, float, float]:
    """Priced before unpriced; then the cost of a kWh from the grid there; then latest."""
    grid_share = 1.0 - min(candidate.solar_w, power_w) / power_w
    cost = grid_share if candidate.price is None else candidate.price * grid_share
    return (candidate.price is None, cost, -candidate.start.timestamp())


def _place(candidates: list[_Candidate], chosen: dict[int, float], index: int,
           hours: float) -> tuple[datetime, datetime]:
    """Where a partial slot runs within its candidate: next to a planned neighbour, else at
    its end (as late as possible). Its length is rounded up to whole minutes, so that ticks
    on the minute see all of it."""
    candidate = candidates[index]
    length = min(timedelta(minutes=math.ceil(hours * 60 - 1e-9)), candidate.end - candidate.start)
    after = index + 1 in chosen and candidates[index + 1].start == candidate.end
    before = index - 1 in chosen and candidates[index - 1].end == candidate.start
    if before and not after:
        return candidate.start, candidate.start + length
    return candidate.end - length, candidate.end


def _planned(candidate: _Candidate, start: datetime, end: datetime, power_w: float,
             energy: float | None = None) -> PlannedSlot:
    hours = (end - start).total_seconds() / 3600.0
    energy_wh = hours * power_w if energy is None else energy
    solar_wh = min(candidate.solar_w * hours, energy_wh)
    return PlannedSlot(start, end, candidate.price, energy_wh, solar_wh)


def _candidates(now: datetime, deadline: datetime, power_w: float,
                prices: PriceSeries | None, solar: PriceSeries | None) -> list[_Candidate]:
    """Slots covering [now, deadline): the price series' own, the gaps in whole hours."""
    if deadline <= now:
        return []
    priced = list(prices.window(now, deadline)) if prices is not None else []
    spans: list[tuple[datetime, datetime, float | None]] = []
    at = now
    for slot in priced:
        spans.extend((a, b, None) for a, b in _hours(at, slot.start))
        spans.append((slot.start, slot.end, slot.price))
        at = slot.end
    spans.extend((a, b, None) for a, b in _hours(at, deadline))
    zone = now.tzinfo
    return [_Candidate(a.astimezone(zone), b.astimezone(zone), price,
                       _mean_solar(solar, a, b, power_w)) for a, b, price in spans]


def _hours(start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """[start, end) split at whole UTC hours."""
    out = []
    at = start.astimezone(UTC)
    end = end.astimezone(UTC)
    while at < end:
        boundary = at.replace(minute=0, second=0, microsecond=0) + _HOUR
        out.append((at, min(boundary, end)))
        at = boundary
    return out


def _mean_solar(solar: PriceSeries | None, start: datetime, end: datetime,
                power_w: float) -> float:
    """The mean expected solar power over [start, end), at most the charger's power."""
    if solar is None:
        return 0.0
    seconds = (end - start).total_seconds()
    if seconds <= 0:
        return 0.0
    energy = sum(max(part.price, 0.0) * (part.end - part.start).total_seconds()
                 for part in solar.window(start, end) if math.isfinite(part.price))
    return min(energy / seconds, power_w)


def _review_at(now: datetime, deadline: datetime, candidates: list[_Candidate]) -> datetime:
    """The first candidate boundary after `now` (at most an hour away, at most the deadline):
    where the plan is made again with what was charged meanwhile."""
    later = [c.end for c in candidates if c.end > now + _MINUTE / 60]
    return min([now + _HOUR, deadline, *later[:1]])


def slot_text(slots: tuple[PlannedSlot, ...] | list[PlannedSlot]) -> str:
    """'02:00-03:00 (0.21), 03:00-03:43 (0.19)': the slots in a line."""
    parts = []
    for slot in slots:
        price = "" if slot.price is None else f" ({slot.price:g})"
        parts.append(f"{slot.start:%H:%M}-{slot.end:%H:%M}{price}")
    return ", ".join(parts) or "none"


