"""What a replay's charging cost, at the price series of the replay (docs/tariffs.md).

Per tick and charger, the energy the car took from the grid (its energy less its solar
share, as the replay counts them) costs the price of the slot that holds the tick; solar
energy costs nothing. The average price is the cost over the grid energy that had a price.

"Saved versus charging at once" compares with the same car charging the same energy (its
whole energy, solar included) at full power (max_amps at the charger's voltage, times its
phases) from the replay's first plug-in, every kWh of it at the grid's price: the cost of
the plain "plug in and charge" a rule file is meant to beat. Unknown (null) when the price
series does not cover that charge.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from evse_rules.prices import PriceSeries
from evse_rules.simulate.tariff import first_vehicle

if TYPE_CHECKING:
    from evse_rules.simulate.setup import Setup

_KWH = 3_600_000.0


@dataclass(slots=True)
class ChargerCost:
    """One charger's cost; energies in J."""

    cost: float = 0.0
    priced: float = 0.0          # grid energy that had a price
    unpriced: float = 0.0        # grid energy at ticks without a price
    at_once: float | None = None

    def to_json(self) -> dict[str, Any]:
        kwh = self.priced / _KWH
        saved = None if self.at_once is None else self.at_once - self.cost
        return {
            "cost": _money(self.cost),
            "average_price": round(self.cost / kwh, 4) if kwh else None,
            "priced_grid_kwh": round(kwh, 3),
            "unpriced_grid_kwh": round(self.unpriced / _KWH, 3),
            "at_once_cost": _money(self.at_once),
            "saved": _money(saved),
        }


@dataclass(slots=True)
class CostMeter:
    """Counts the cost of each charger's grid energy tick by tick, at `series`."""

    name: str                    # the price input
    series: PriceSeries
    chargers: dict[str, ChargerCost] = field(default_factory=dict)
    _starts: list[float] = field(default_factory=list)
    _slots: list[tuple[float, float, float]] = field(default_factory=list)
    _low: float = 0.0            # the slot last found, kept for the next tick
    _high: float = -1.0
    _price: float | None = None

    def __post_init__(self) -> None:
        self._slots = [(s.start.timestamp(), s.end.timestamp(), s.price)
                       for s in self.series.slots]
        self._starts = [slot[0] for slot in self._slots]

    def price_at(self, seconds: float) -> float | None:
        if self._low <= seconds < self._high:
            return self._price
        i = bisect_right(self._starts, seconds) - 1
        if i >= 0 and seconds < self._slots[i][1]:
            self._low, self._high, self._price = self._slots[i]
        else:
            self._low = self._slots[i][1] if i >= 0 else float("-inf")
            self._high = self._starts[i + 1] if i + 1 < len(self._starts) else float("inf")
            self._price = None
        return self._price

    def add(self, charger: str, grid_joules: float, clock_us: int) -> None:
        """`grid_joules` taken from the grid by `charger` in the tick at `clock_us`."""
        if grid_joules <= 0.0:
            return
        account = self.chargers.get(charger)
        if account is None:
            account = self.chargers[charger] = ChargerCost()
        price = self.price_at(clock_us / 1_000_000)
        if price is None:
            account.unpriced += grid_joules
        else:
            account.cost += grid_joules / _KWH * price
            account.priced += grid_joules

    def at_once(self, charger: str, energy: float, plugged: datetime, power: float) -> None:
        """Price the same `energy` (J) charged at `power` (W) from `plugged` on."""
        account = self.chargers.get(charger)
        if account is None:
            account = self.chargers[charger] = ChargerCost()
        if energy <= 0.0 or power <= 0.0:
            account.at_once = 0.0 if energy <= 0.0 else None
            return
        start = plugged.timestamp()
        end = start + energy / power
        cost = 0.0
        cursor = start
        i = max(bisect_right(self._starts, start) - 1, 0)
        for low, high, price in self._slots[i:]:
            if high <= cursor:
                continue
            if low > cursor or cursor >= end:
                break
            until = min(high, end)
            cost += power * (until - cursor) / _KWH * price
            cursor = until
        account.at_once = cost if cursor >= end - 1e-6 else None

    def to_json(self) -> dict[str, Any]:
        total = ChargerCost()
        at_once: float | None = 0.0
        for account in self.chargers.values():
            total.cost += account.cost
            total.priced += account.priced
            total.unpriced += account.unpriced
            at_once = None if at_once is None or account.at_once is None \
                else at_once + account.at_once
        total.at_once = at_once
        return {"prices": self.name, **total.to_json(),
                "chargers": {name: account.to_json()
                             for name, account in self.chargers.items()}}

    def table(self) -> list[str]:
        """The lines of the readable summary."""
        figures = self.to_json()
        lines = ["", f"  cost at the prices of {self.name} (solar energy costs nothing)"]
        average = figures["average_price"]
        lines.append(f"    grid energy     {_number(figures['cost'])}"
                     + (f"  ({average:g} per kWh on average)" if average is not None else ""))
        if figures["unpriced_grid_kwh"]:
            unpriced = figures["unpriced_grid_kwh"]
            lines.append(f"    without a price {unpriced:9.2f} kWh from the grid")
        lines.append(f"    charging at once{_number(figures['at_once_cost'])}"
                     "  (the same energy at full power from the first plug-in)")
        lines.append(f"    saved           {_number(figures['saved'])}")
        return lines


def choose_series(prices: dict[str, PriceSeries]) -> tuple[str, PriceSeries] | None:
    """The series a replay's cost is counted at: `price` when there is one, else the
    first by name; None without prices."""
    if not prices:
        return None
    name = "price" if "price" in prices else sorted(prices)[0]
    return name, prices[name]


def _money(value: float | None) -> float | None:
    return None if value is None else round(value, 4) + 0.0


def _number(value: float | None) -> str:
    return f"{value:12.2f}" if value is not None else "     unknown"


def cost_meter(setup: Setup) -> CostMeter | None:
    """A meter for the replay of `setup` when it has prices, else None (no cost figures)."""
    chosen = choose_series(setup.prices)
    return None if chosen is None else CostMeter(*chosen)


def settle(costs: CostMeter, setup: Setup, energies: dict[str, float]) -> CostMeter:
    """Price charging at once for each charger, from `energies` (J, what it charged)."""
    for name, charger in setup.chargers.items():
        vehicle = next((column for column, target, prop in setup.drivers
                        if target is charger and prop == "vehicle"), None)
        settings = next(s for s in setup.settings if s.name == name)
        power = settings.max_amps * charger.voltage * settings.phases
        costs.at_once(name, energies.get(name, 0.0), first_vehicle(setup.data, vehicle), power)
    return costs
