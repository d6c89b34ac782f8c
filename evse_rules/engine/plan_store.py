"""A charge plan as it persists (the state file's "plans"): what is wanted by when, and the
energy counter, so that a restart neither forgets the plan nor counts its energy twice.

    "plans": {"garage": {"wanted_wh": 20000.0, "deadline": "2026-06-02T07:00:00+02:00",
                         "began": "2026-06-01T19:02:00+02:00", "source": "dashboard",
                         "banked_wh": 0.0, "base_wh": 1520.0}}
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class PlanRecord:
    """A plan: `wanted_wh` by `deadline`, set at `began` by `source`. The energy charged is
    `banked_wh` (earlier sessions) plus the current session's energy above `base_wh`."""

    charger: str
    wanted_wh: float
    deadline: datetime
    began: datetime
    source: str
    banked_wh: float = 0.0
    base_wh: float | None = None

    def text(self) -> str:
        return f"{self.wanted_wh / 1000:.1f} kWh by {self.deadline:%a %H:%M}"


def encode_plans(plans: dict[str, PlanRecord]) -> dict[str, dict[str, object]]:
    return {name: {"wanted_wh": plan.wanted_wh, "deadline": plan.deadline.isoformat(),
                   "began": plan.began.isoformat(), "source": plan.source,
                   "banked_wh": plan.banked_wh, "base_wh": plan.base_wh}
            for name, plan in sorted(plans.items())}


def decode_plans(section: object) -> dict[str, PlanRecord]:
    """The "plans" of a state file; ValueError names the charger and the key at fault."""
    if not isinstance(section, dict):
        raise ValueError("'plans' must map charger names to their charge plan")
    plans: dict[str, PlanRecord] = {}
    for name, entry in section.items():
        where = f"'plans' of charger {name!r}"
        keys = {"wanted_wh", "deadline", "began", "source", "banked_wh", "base_wh"}
        if not isinstance(entry, dict) or not set(entry) <= keys:
            raise ValueError(f"{where} must hold {', '.join(sorted(keys))}")
        source = entry.get("source", "")
        if not isinstance(source, str):
            raise ValueError(f"{where}: source must be a text")
        base = entry.get("base_wh")
        plans[str(name)] = PlanRecord(
            str(name), _energy(where, "wanted_wh", entry.get("wanted_wh")),
            _time(where, "deadline", entry.get("deadline")),
            _time(where, "began", entry.get("began")), source[:40],
            _energy(where, "banked_wh", entry.get("banked_wh", 0.0)),
            None if base is None else _energy(where, "base_wh", base))
    return plans


def _energy(where: str, key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or \
            not math.isfinite(value) or not 0 <= value <= 1e9:
        raise ValueError(f"{where}: {key} must be an energy in Wh, not {value!r}")
    return float(value)


def _time(where: str, key: str, value: object) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"{where}: {key} must be an ISO time, not {value!r}")
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{where}: {key} {value!r} is not an ISO time") from None
    if when.tzinfo is None:
        raise ValueError(f"{where}: {key} {value!r} has no UTC offset")
    return when
