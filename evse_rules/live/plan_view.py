"""A charge plan as the faces show it (`PlanView`), from the engine's plan book."""

from __future__ import annotations

from datetime import datetime

from evse_rules.engine.plan_book import PlanStatus
from evse_rules.live.views import PlanSlotView, PlanView


def plan_view(status: PlanStatus | None, now: datetime) -> PlanView | None:
    """The view of a plan (None without one); slots already over are left out."""
    if status is None:
        return None
    record, schedule = status.record, status.schedule
    slots = [] if schedule is None else [
        PlanSlotView(slot.start, slot.end, slot.price, round(slot.energy_wh / 1000, 3))
        for slot in schedule.slots if slot.end > now]
    return PlanView(
        energy_kwh=round(record.wanted_wh / 1000, 3), deadline=record.deadline,
        began=record.began, source=record.source,
        charged_kwh=round(status.charged_wh / 1000, 3), slots=slots,
        expected_kwh=None if schedule is None else round(schedule.expected_wh / 1000, 3),
        cost=None if schedule is None or schedule.cost is None else round(schedule.cost, 4),
        can_meet=None if schedule is None else schedule.feasible,
        state=status.state, text="\n".join(status.lines()))
