"""What one tick leaves for people: the journal's samples and the -v trace line."""

from __future__ import annotations

from datetime import datetime

from evse_rules.engine import Command, CommandKind, StateStore, StepResult
from evse_rules.engine.journal import Entry
from evse_rules.language.program import Value


def samples(store: StateStore) -> tuple[dict[str, Value], list[str]]:
    """The values of a tick: inputs, charger readings and modes, user variables."""
    values: dict[str, Value] = {}
    stale: list[str] = []
    for reading in store.readings():
        values[reading.name] = reading.value
        if reading.stale:
            stale.append(reading.name)
    for name in store.chargers:
        status = store.charger_status(name)
        values[f"{name}.mode"] = store.mode(name)
        if status is None:
            continue
        values[f"{name}.state"] = status.state.value
        values[f"{name}.vehicle"] = status.vehicle
        values[f"{name}.amps"] = status.amps
        values[f"{name}.current"] = status.current
        values[f"{name}.voltage"] = status.voltage
        values[f"{name}.power"] = status.power
        values[f"{name}.session_energy"] = status.session_energy
        if status.error is not None:
            # Why it is offline or in error (a wrong password, a closed port, a fault):
            # `evse-rules why` shows it.
            values[f"{name}.error"] = status.error
    for name, value in store.variables().items():
        values[name] = value
    return values, stale


def short(command: Command) -> str:
    if command.kind is CommandKind.SET_CURRENT:
        return f"set_current {command.value:g} A"
    if command.kind is CommandKind.SET_VOLTAGE:
        return f"set_voltage {command.value:g} V"
    return command.kind.value


def show(value: Value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value).lower() if isinstance(value, bool) else repr(value)


def trace(now: datetime, samples: dict[str, Value], stale: list[str], step: StepResult) -> str:
    """The -v line of one tick: values, rules fired, winners and losers, held actions."""
    parts = [" ".join(f"{k}={show(v)}" + ("(stale)" if k in stale else "")
                      for k, v in samples.items())]
    if step.fired:
        parts.append("fired " + ", ".join(str(r) for r in step.fired))
    for lost in step.lost:
        parts.append(str(lost))
    for held in step.held:
        parts.append(f"{held.action.rule}: {held.action.kind.value} not sent ({held.guard.value}:"
                     f" {held.why})")
    if not step.commands:
        parts.append("no command")
    return f"tick {now.isoformat()}: " + "; ".join(parts)


def _reason(entry: Entry) -> str:
    """` <- file:line text (values)` of a journal entry, or nothing."""
    if entry.rule is None:
        return ""
    text = f" <- {entry.rule} {entry.rule_text or ''}".rstrip()
    if entry.values:
        text += " (" + ", ".join(f"{name}={shown}" for name, shown in entry.values) + ")"
    return text


def describe(entry: Entry) -> str:
    """A journal entry as a line of text, without its time (`history`, the dashboard)."""
    if entry.type == "command":
        what = entry.kind + (f" {entry.value}" if entry.value else "")
        if entry.ok:
            tail = f"; {entry.detail}" if entry.detail else ""
            return f"{what} sent{_reason(entry)}{tail}"
        return f"{what} FAILED: {entry.detail}{_reason(entry)}"
    if entry.type == "held":
        what = entry.kind + (f" {entry.value}" if entry.value else "")
        why = entry.guard or ""
        detail = entry.detail
        if detail is not None and why and detail.startswith(f"{why}: "):
            detail = detail[len(why) + 2:]      # the guard's own text may name it already
        if detail not in (None, "", why):
            why += f": {detail}"
        return f"{what} held back ({why}){_reason(entry)}"
    if entry.type == "fired":
        return f"fired{_reason(entry)}"
    detail = entry.detail or ""
    if entry.source and detail.startswith(f"{entry.source}: "):
        return f"{entry.kind.upper()} {detail}"
    return f"{entry.kind.upper()} {entry.source}: {detail}"
