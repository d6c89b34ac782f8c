"""Charge plans in the engine: "20 kWh by 07:00", one per charger, acted on at every step.

A plan is a person's (the one command path: `Engine.hand(charger, "plan", "20 kWh by 07:00")`,
`"cancel_plan"`) or a rule's (`plan 20 kWh by 07:00`: `PlanBook.from_rule`, which a person's
outranks). What it does at each step, before the guards (`PlanBook.around`):

- it counts the energy charged since it began, from the charger's session energy (a new
  session, after an unplug, is added to what was banked);
- it ends when that energy is reached or at its deadline (journaled as a log line);
- it makes its schedule again (engine/plans.py) when the price series or the solar forecast
  changes, when the vehicle is plugged or unplugged, and at every slot boundary (so a charge
  that falls behind gets more slots, one that runs ahead of the sun gets fewer);
- within a planned slot, in auto mode, with a vehicle: it proposes start and the charger's
  full allowed current *after* the rules' proposals, so it wins over them (a safety stop
  still wins: the arbitration keeps it); the guards decide what is sent, as for any rule;
- when a slot ends (or the plan ends or is cancelled while a slot ran) it proposes a stop
  *before* the rules' proposals, so rules that ask for a charge (the sun) keep it going;
  the stop is proposed again until the charger is off or the rules ask for a start;
- in manual mode it waits (a person's ON, OFF or current switches to manual; Auto resumes
  the plan). Setting a plan switches the charger to auto.

What persists (the state file, engine/plan_store.py) is the `PlanRecord` in `store.plans`: the
energy wanted, the deadline, when and by whom, and the energy counter's bank. The schedule
is made again at the first step after a restart.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING

from evse_rules.chargers.base import ChargerState, ChargerStatus
from evse_rules.engine.hand import HandProblem, HandRefused
from evse_rules.engine.plan_store import PlanRecord
from evse_rules.engine.plans import ENERGY_TOLERANCE_WH, Schedule, plan_slots, slot_text
from evse_rules.engine.settings import ChargerSettings
from evse_rules.language.program import MAX_PLAN_KWH, ActionKind, ProposedAction, RuleRef
from evse_rules.language.units import ENERGY, NUMBER, UnitError, parse_quantity

if TYPE_CHECKING:
    from evse_rules.engine.store import StateStore

PLAN_ACTIONS = ("plan", "cancel_plan")
# Who set a plan that a rule asked for (a person's plan has the face's name: "dashboard").
RULE_SOURCE = "rule"
MAX_PLAN_AHEAD = timedelta(days=7)
# A voltage outside this is no reading to plan with: the nominal one is used instead.
_NOMINAL_VOLTS = 230.0
_WH_PER_J = 1 / 3600.0
_PLAN = re.compile(r"^\s*(?P<energy>.*?)\s*(?:\s+by\s+|@)\s*(?P<by>.*?)\s*$", re.IGNORECASE)
_ENABLED_STATES = (ChargerState.CHARGING, ChargerState.CONNECTED, ChargerState.NOT_CONNECTED,
                   ChargerState.STARTING)


@dataclass(frozen=True, slots=True)
class PlanRef(RuleRef):
    """The 'rule' of a plan's proposals: the journal shows `shown` where a rule's file:line
    stands ("<- plan: slot 02:00-03:00, 0.21/kWh")."""

    shown: str = "plan:"

    def __str__(self) -> str:
        return self.shown


# After every rule of any program (the trace sorts losers by index).
_PLAN_INDEX = 1_000_000_000


def _ref(text: str) -> PlanRef:
    return PlanRef(_PLAN_INDEX, "plan", 0, 0, text)


def _log_ref() -> PlanRef:
    return PlanRef(_PLAN_INDEX, "plan", 0, 0, "plan", None, "plan")


@dataclass(frozen=True, slots=True)
class PlanStatus:
    """A plan as the faces show it."""

    record: PlanRecord
    charged_wh: float
    schedule: Schedule | None
    state: str                      # in words: "charging in slot ...", "next slot ..."

    def lines(self) -> list[str]:
        """`why`'s lines about the plan."""
        record, schedule = self.record, self.schedule
        head = f"plan: {record.text()}, charged {_kwh(self.charged_wh)}"
        if schedule is None:
            return [head, f"plan: {self.state}"]
        cost = "" if schedule.cost is None else f", cost {schedule.cost:.2f}"
        verdict = ("can be met" if schedule.feasible else
                   f"CANNOT be met: {_kwh(schedule.shortfall_wh)} short, charging at full "
                   "power until the deadline")
        return [head, f"plan: slots {slot_text(schedule.slots)}; expected "
                      f"{_kwh(schedule.expected_wh)} more{cost}; {verdict}",
                f"plan: {self.state}"]


class _Run:
    """What the book knows of a plan between steps (not persisted)."""

    __slots__ = ("began", "charged", "last_session", "on", "prices", "schedule", "solar",
                 "vehicle")

    def __init__(self, record: PlanRecord) -> None:
        self.began = record.began
        self.charged = record.banked_wh
        self.last_session: float | None = None
        self.schedule: Schedule | None = None
        self.prices: object = None
        self.solar: object = None
        self.vehicle: bool | None = None
        self.on = False             # the plan proposed a charge at the last step


class PlanBook:
    """The plans of one engine; their records live in `store.plans` (they persist)."""

    def __init__(self, store: StateStore, settings: dict[str, ChargerSettings]) -> None:
        self._store = store
        self._settings = settings
        self._runs: dict[str, _Run] = {}
        # charger -> the plan (Wh, deadline) a rule asked for last: taken or answered once.
        self._asked: dict[str, tuple[int, datetime]] = {}
        # charger -> why a stop is still proposed (a slot ended); the engine calls `around`
        # while this or `store.plans` holds something.
        self.stopping: dict[str, str] = {}

    # -- a person's commands ----------------------------------------------------------------

    def hand(self, charger: str, action: str, value: object, source: str,
             now: datetime) -> str:
        """Set (`plan`, value "20 kWh by 07:00") or cancel (`cancel_plan`) a plan; returns
        what was done in words, or raises HandRefused having changed nothing."""
        store = self._store
        if action == "cancel_plan":
            record = store.plans.pop(charger, None)
            if record is None:
                raise HandRefused(HandProblem.CONFLICT, f"{charger} has no plan to cancel")
            store.dirty = True
            run = self._runs.pop(charger, None)
            if run is not None and run.on:
                self.stopping[charger] = "plan cancelled"
            return f"plan {record.text()} cancelled (charged {_kwh(run.charged if run else 0)})"
        if value is None:
            raise HandRefused(HandProblem.INVALID, f"{charger}: a plan needs an energy and a "
                              "time, like '20 kWh by 07:00'")
        wanted_wh, deadline = parse_plan(value, now)
        return self._set(charger, wanted_wh, deadline, source, now)

    def _set(self, charger: str, wanted_wh: float, deadline: datetime, source: str,
             now: datetime) -> str:
        """A new plan for `charger` (replacing any); returns it and its schedule in words."""
        store = self._store
        settings = self._settings[charger]
        status = store.charger_status(charger)
        base = None
        if status is not None and status.online and _finite(status.session_energy):
            base = status.session_energy
        record = PlanRecord(charger, wanted_wh, deadline, now, source, 0.0, base)
        store.plans[charger] = record
        store.dirty = True
        self.stopping.pop(charger, None)
        old = self._runs.get(charger)
        if old is not None and old.on:
            # The plan replaced ran a slot: its charge gets the slot-end stop, unless the
            # new plan runs a slot now too.
            self.stopping[charger] = "plan: replaced"
        run = self._runs[charger] = _Run(record)
        run.last_session = base
        schedule = self._schedule(run, record, settings, status, now)
        return f"plan {record.text()}: " + _summary(schedule)

    # -- a rule's `plan` and `cancel plan` ----------------------------------------------------

    def from_rule(self, action: ProposedAction, now: datetime) -> ProposedAction | None:
        """Carry out a rule's `plan` (value: the energy in J, deadline: a time of day in
        seconds) or `cancel plan` (value None), the last of its charger in this step.
        Returns the journal's line about it (a log of the rule), None when nothing changed.

        Rules are level-triggered: the same plan (same energy, same deadline) is taken once,
        and not again while it runs, once it ended (met, at its deadline, cancelled or
        replaced by a person) or while a person's plan outranks it; a rule's `cancel plan`
        forgets it. A rule never touches a person's plan."""
        name = action.charger
        if name is None or name not in self._settings:
            return None
        record = self._store.plans.get(name)
        energy, at = action.value, action.deadline
        if at is None or not isinstance(energy, float | int) or isinstance(energy, bool):
            self._asked.pop(name, None)
            if record is None or record.source != RULE_SOURCE:
                return None
            return _said(action, self.hand(name, "cancel_plan", None, RULE_SOURCE, now))
        wanted_wh = energy * _WH_PER_J
        deadline = next_time_of_day(at, now)
        asked = (round(wanted_wh), deadline)
        if self._asked.get(name) == asked:
            return None
        self._asked[name] = asked
        wanted = f"plan {_kwh(wanted_wh)} by {deadline:%a %H:%M}"
        if record is not None and record.source != RULE_SOURCE:
            return _said(action, f"{wanted} not taken: {name} has a plan set by "
                                 f"{record.source} ({record.text()}), which a rule's does not "
                                 "replace")
        if record is not None and round(record.wanted_wh) == asked[0] and \
                record.deadline == deadline:
            return None           # the rule's plan runs already (kept across a restart)
        if not 0 < wanted_wh <= MAX_PLAN_KWH * 1000:
            return _said(action, f"{wanted} refused: a plan takes more than 0 and at most "
                                 f"{MAX_PLAN_KWH:g} kWh")
        return _said(action, self._set(name, wanted_wh, deadline, RULE_SOURCE, now))

    # -- a step -----------------------------------------------------------------------------

    def around(self, now: datetime, actions: list[ProposedAction]) -> list[ProposedAction]:
        """The plans' proposals around the rules' `actions` (see the module docstring)."""
        before: list[ProposedAction] = []
        after: list[ProposedAction] = []
        for name in list(self._store.plans):
            self._step(name, now, before, after)
        for name in list(self.stopping):
            self._stop_again(name, actions, before)
        if not before and not after:
            return actions
        return [*before, *actions, *after]

    def _step(self, name: str, now: datetime, before: list[ProposedAction],
              after: list[ProposedAction]) -> None:
        store = self._store
        record = store.plans[name]
        settings = self._settings.get(name)
        if settings is None:
            del store.plans[name]
            store.dirty = True
            after.append(_log(name, f"plan {record.text()} dropped: no charger {name!r} "
                                    "is configured"))
            return
        run = self._runs.get(name)
        if run is None or run.began != record.began:
            run = self._runs[name] = _Run(record)
        status = store.charger_status(name)
        self._count(name, run, status)
        charged = run.charged
        if charged >= store.plans[name].wanted_wh - ENERGY_TOLERANCE_WH:
            self._end(name, run, f"plan {record.text()} met: {_kwh(charged)} charged", after)
            return
        if now >= record.deadline:
            self._end(name, run, f"plan {record.text()} ended at its deadline: "
                                 f"{_kwh(charged)} of {_kwh(record.wanted_wh)} charged", after)
            return
        old = run.schedule
        schedule = self._schedule(run, store.plans[name], settings, status, now)
        if old is not None and _changed(old, schedule, now):
            after.append(_log(name, f"plan re-planned ({_why_again(old, schedule, now)}): "
                                    + _summary(schedule)))
        elif old is None:
            after.append(_log(name, f"plan {record.text()}: " + _summary(schedule)))
        if store.mode(name) != "auto":
            run.on = False        # a person took over: no proposal, not even a stop
            return
        slot = schedule.slot_at(now)
        vehicle_ok = status is None or status.vehicle or settings.start_without_vehicle
        if slot is not None and vehicle_ok:
            ref = _ref(slot.text())
            high = settings.limits(status)[1]
            after.append(ProposedAction(ActionKind.SET_AMPS, ref, name, value=float(high)))
            after.append(ProposedAction(ActionKind.START, ref, name))
            run.on = True
        elif run.on:
            run.on = False
            self.stopping[name] = "plan: slot ended"
            before.append(_stop(name, "plan: slot ended"))

    def _stop_again(self, name: str, actions: list[ProposedAction],
                    before: list[ProposedAction]) -> None:
        """A stop the plan owes (a slot ended): proposed until the charger is off, the rules
        ask for a start, a slot begins again, or a person takes over."""
        why = self.stopping[name]
        status = self._store.charger_status(name)
        run = self._runs.get(name)
        taken = any(a.charger == name and a.kind is ActionKind.START for a in actions)
        if (run is not None and run.on) or taken or status is None or \
                status.state not in _ENABLED_STATES or self._store.mode(name) != "auto" or \
                name not in self._settings:
            del self.stopping[name]
            return
        if not any(a.charger == name and a.kind is ActionKind.STOP for a in before):
            before.append(_stop(name, why))

    def _end(self, name: str, run: _Run, message: str, after: list[ProposedAction]) -> None:
        del self._store.plans[name]
        self._store.dirty = True
        self._runs.pop(name, None)
        if run.on:
            self.stopping[name] = message
        after.append(_log(name, message))

    def _count(self, name: str, run: _Run, status: ChargerStatus | None) -> None:
        """Add what the charger's session energy says was charged since the last step."""
        if status is None or not status.online or not _finite(status.session_energy):
            return
        store = self._store
        record = store.plans[name]
        session = max(status.session_energy, 0.0)
        base, banked = record.base_wh, record.banked_wh
        last = run.last_session
        if base is None:
            base = session
        elif last is not None and session < last - ENERGY_TOLERANCE_WH:
            # A new session (the car was unplugged): bank the old one, count the new one.
            banked += max(last - base, 0.0)
            base = 0.0
        elif last is None and session < base - ENERGY_TOLERANCE_WH:
            base = 0.0            # a new session began while the engine was not running
        run.last_session = session
        run.charged = banked + max(session - base, 0.0)
        if base != record.base_wh or banked != record.banked_wh:
            store.plans[name] = replace(record, base_wh=base, banked_wh=banked)
            store.dirty = True

    def _schedule(self, run: _Run, record: PlanRecord, settings: ChargerSettings,
                  status: ChargerStatus | None, now: datetime) -> Schedule:
        """The run's schedule, made again when something it depends on changed."""
        store = self._store
        prices = store.prices(settings.plan_price) if settings.plan_price else None
        solar = store.prices(settings.plan_solar) if settings.plan_solar else None
        vehicle = status.vehicle if status is not None and status.online else run.vehicle
        schedule = run.schedule
        if schedule is None or prices is not run.prices or solar is not run.solar or \
                vehicle != run.vehicle or now >= schedule.review_at:
            left = max(record.wanted_wh - run.charged, 0.0)
            schedule = plan_slots(left, now, record.deadline, plan_power(settings, status),
                                  prices, solar)
            run.schedule, run.prices, run.solar, run.vehicle = schedule, prices, solar, vehicle
        return schedule

    def carry_over(self, old: PlanBook) -> None:
        """Take what `old` knew between steps (a config applied while running): the running
        plans of chargers both know, and the stops still owed."""
        self._runs.update({name: run for name, run in old._runs.items()
                           if name in self._settings})
        self.stopping.update({name: why for name, why in old.stopping.items()
                              if name in self._settings})
        self._asked.update({name: asked for name, asked in old._asked.items()
                            if name in self._settings})

    # -- the faces --------------------------------------------------------------------------

    def status(self, name: str, now: datetime) -> PlanStatus | None:
        """The plan of charger `name` as the faces show it; None without a plan."""
        record = self._store.plans.get(name)
        if record is None:
            return None
        run = self._runs.get(name)
        if run is None or run.began != record.began:
            return PlanStatus(record, record.banked_wh, None, "to be planned at the next tick")
        schedule = run.schedule
        charged = run.charged
        if schedule is None:
            return PlanStatus(record, charged, None, "to be planned at the next tick")
        if self._store.mode(name) != "auto":
            state = "paused: the charger is in manual mode (Auto resumes the plan)"
        elif (slot := schedule.slot_at(now)) is not None:
            state = f"charging at full power in {slot.text()}"
        elif (upcoming := schedule.next_slot(now)) is not None:
            state = f"waiting: next {upcoming.text()}; the rules run meanwhile"
        else:
            state = "no slot left before the deadline"
        return PlanStatus(record, charged, schedule, state)


def plan_power(settings: ChargerSettings, status: ChargerStatus | None) -> float:
    """The power (W) a plan counts on: the largest allowed current at the charger's voltage
    on its phases; the measured power when it charges at that current (a car may draw less)."""
    high = settings.limits(status)[1]
    volts = _NOMINAL_VOLTS
    if status is not None and status.online and _finite(status.voltage) and \
            100.0 <= status.voltage <= 500.0:
        volts = status.voltage
    full = max(high, 1) * volts * settings.phases
    if status is not None and status.state is ChargerState.CHARGING and \
            status.amps >= high and _finite(status.power) and status.power > 100.0:
        return min(full, status.power)
    return float(full)


def parse_plan(value: object, now: datetime) -> tuple[float, datetime]:
    """'20 kWh by 07:00' (or '20kWh@07:00', '20 by 2026-06-02T07:00') -> (Wh, deadline).

    The energy is in kWh when no unit is given; the time of day is the next one after `now`
    (in `now`'s time zone); a date and time without offset is read in that zone. HandRefused
    says what is wrong."""
    if not isinstance(value, str) or (match := _PLAN.match(value)) is None \
            or not match.group("energy") or not match.group("by"):
        raise HandRefused(HandProblem.INVALID, f"a plan is an energy and a time, like "
                          f"'20 kWh by 07:00', not {value!r}")
    energy_text, by_text = match.group("energy"), match.group("by")
    try:
        quantity = parse_quantity(energy_text)
    except UnitError as error:
        # The parser's own example is a duration: say what an energy looks like.
        said = str(error).replace("like '5 min'", "like '20 kWh'")
        raise HandRefused(HandProblem.INVALID, f"plan energy {energy_text!r}: {said}") from None
    if quantity.dimension == NUMBER:
        wanted_wh = quantity.value * 1000.0
    elif quantity.dimension == ENERGY:
        wanted_wh = quantity.value * _WH_PER_J
    else:
        raise HandRefused(HandProblem.INVALID, f"plan energy {energy_text!r} is not an energy "
                          "(write it in kWh, like '20 kWh')")
    if not _finite(wanted_wh) or not 0 < wanted_wh <= MAX_PLAN_KWH * 1000:
        raise HandRefused(HandProblem.INVALID, f"plan energy {energy_text!r}: give more than "
                          f"0 and at most {MAX_PLAN_KWH:g} kWh")
    deadline = _deadline(by_text, now)
    return wanted_wh, deadline


def _deadline(text: str, now: datetime) -> datetime:
    zone = now.tzinfo
    try:
        if re.fullmatch(r"\d{1,2}:\d{2}", text):
            hours, minutes = (int(part) for part in text.split(":"))
            at = datetime.combine(now.date(), time(hours, minutes), zone)
            if at <= now:
                at = datetime.combine(now.date() + timedelta(days=1), time(hours, minutes),
                                      zone)
        else:
            at = datetime.fromisoformat(text)
            if at.tzinfo is None:
                at = at.replace(tzinfo=zone)
    except ValueError:
        raise HandRefused(HandProblem.INVALID, f"plan time {text!r}: write a time of day "
                          "like 07:00, or a date and time like 2026-06-02T07:00") from None
    if at <= now:
        raise HandRefused(HandProblem.INVALID, f"plan time {text!r} is past")
    if at - now > MAX_PLAN_AHEAD:
        raise HandRefused(HandProblem.INVALID, f"plan time {text!r} is more than "
                          f"{MAX_PLAN_AHEAD.days} days ahead")
    return at


def _summary(schedule: Schedule) -> str:
    """The schedule in a line: slots, expected energy, cost, whether it can be met."""
    if not schedule.slots:
        return "nothing left to charge"
    cost = "" if schedule.cost is None else f", cost {schedule.cost:.2f}"
    text = (f"slots {slot_text(schedule.slots)}; expected {_kwh(schedule.expected_wh)}"
            f"{cost}")
    if not schedule.feasible:
        text += (f"; CANNOT be met ({_kwh(schedule.shortfall_wh)} short): charging at full "
                 "power until the deadline")
    return text


def _changed(old: Schedule, new: Schedule, now: datetime) -> bool:
    """Whether a schedule made again differs from the last for what lies ahead."""
    def ahead(schedule: Schedule) -> list[tuple[datetime, float | None]]:
        return [(slot.start, slot.price) for slot in schedule.slots if slot.end > now
                and slot.start > now]
    return ahead(old) != ahead(new) or old.feasible != new.feasible


def _why_again(old: Schedule, new: Schedule, now: datetime) -> str:
    if old.feasible and not new.feasible:
        return "behind: not enough time left"
    return "new prices, vehicle or progress"


def _log(charger: str, text: str) -> ProposedAction:
    """A line for the journal, shown after 'plan: ' (so said without its own 'plan ')."""
    return ProposedAction(ActionKind.LOG, _log_ref(), charger, value=text.removeprefix("plan "))


def _said(action: ProposedAction, text: str) -> ProposedAction:
    """A line for the journal about a rule's plan, shown after the rule's file:line."""
    return ProposedAction(ActionKind.LOG, action.rule, action.charger, value=text)


def next_time_of_day(seconds: float, now: datetime) -> datetime:
    """The first time after `now` at `seconds` since midnight, in `now`'s time zone (as a
    person's '07:00' is read)."""
    whole = int(seconds) % 86400
    at = time(whole // 3600, whole % 3600 // 60, whole % 60)
    when = datetime.combine(now.date(), at, now.tzinfo)
    if when <= now:
        when = datetime.combine(now.date() + timedelta(days=1), at, now.tzinfo)
    return when


def _stop(charger: str, why: str) -> ProposedAction:
    return ProposedAction(ActionKind.STOP, _ref(why.removeprefix("plan: ")), charger)


def _kwh(wh: float) -> str:
    return f"{wh / 1000:.1f} kWh"


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)
