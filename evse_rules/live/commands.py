"""The running engine's one way in for people: ON, OFF, the current, the mode, a variable,
handing a charger back to its own settings.

Every face (the dashboard and the API, MQTT, the CLI through the API or through a request
in the journal) calls `CommandPath.run`: the same checks (engine/hand.py), the same sending
and bookkeeping as a tick's commands, one journal entry with the source. Commands and ticks
take turns (`Daemon.serial`): a command never lands between a tick's decision and its
sending, so a person's OFF cannot be overtaken by a start the tick decided a moment before.
A refused command changes nothing and is journaled as refused; a command the charger does
not take puts the mode back as it was.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from evse_rules.engine.hand import PERSON_UNITS, HandProblem, HandRefused, variable_value
from evse_rules.engine.journal import Event, Sent
from evse_rules.errors import ChargerError
from evse_rules.language.program import Kind, Value
from evse_rules.language.units import format_quantity
from evse_rules.live.report import short, show
from evse_rules.live.views import CommandOutcome, CommandRefused, HandCommand

if TYPE_CHECKING:
    from datetime import datetime

    from evse_rules.live.daemon import Daemon

log = logging.getLogger("evse_rules.live")

# HTTP statuses for the problems of engine/hand.py (the faces answer with them).
_STATUS = {HandProblem.UNKNOWN: 404, HandProblem.INVALID: 400, HandProblem.CONFLICT: 409}
_RELEASE_TIMEOUT = 5.0


class CommandPath:
    """Hand commands for one daemon."""

    def __init__(self, daemon: Daemon) -> None:
        self._daemon = daemon

    async def run(self, command: HandCommand) -> CommandOutcome:
        """Carry out `command` now (after a tick in progress); CommandRefused when it cannot
        be taken (nothing changed)."""
        async with self._daemon.serial:
            return await self.run_locked(command)

    async def run_locked(self, command: HandCommand) -> CommandOutcome:
        """`run` for a caller that holds `Daemon.serial` already (a tick taking requests)."""
        daemon = self._daemon
        engine, journal = daemon.engine, daemon.journal
        if engine is None or journal is None or daemon.sources is None:
            raise CommandRefused("the engine is not running yet", 503)
        now = daemon.now()
        who = f"{command.action} {command.target}"
        if command.value is not None:
            who += f" {_shown_value(command.value)}"
        try:
            if command.action == "set":
                return self._set_variable(command, now, who)
            if command.action == "release":
                return await self._release(command, now, who)
            plan = engine.hand(command.target, command.action, command.value,
                               command.source, now)
        except HandRefused as refused:
            self._journal(now, [], [Event("warning", command.source,
                                          f"{who}: refused: {refused.message}",
                                          _charger_of(command, daemon))])
            log.warning("%s (%s): refused: %s", who, command.source, refused.message)
            raise CommandRefused(refused.message, _STATUS[refused.problem]) from None
        sent = await daemon.send_commands(plan.commands)
        failed = [item for item in sent if not item.ok]
        if failed:
            engine.undo_mode(command.target, plan)
        done = [short(item.command) for item in sent if item.ok]
        if failed:
            message = f"{who}: not done: {failed[0].error}"
        elif done:
            message = f"{who}: sent " + ", ".join(done)
        elif plan.notes:
            message = f"{who}: " + "; ".join(plan.notes)   # a charge plan: what it will do
        else:
            message = f"{who}: done" + ("" if plan.mode is not None else " (unchanged)")
        if plan.mode is not None and command.action != "mode":
            message += f"; mode {plan.mode[0]} -> {plan.mode[1]}"
        events = [Event("error" if failed else "info", command.source, message,
                        command.target)]
        self._journal(now, sent, events)
        (log.error if failed else log.info)("%s (%s)", message, command.source)
        daemon.after_command(now)
        return CommandOutcome(not failed, message, 502 if failed else 200, done)

    async def take_requests(self) -> None:
        """Carry out what people left in the journal (`evse-rules mode/set/start...` while
        the API is off or unreachable), through `run_locked`; the caller holds `serial`."""
        journal = self._daemon.journal
        if journal is None:
            return
        try:
            pending = journal.pending_requests()
        except Exception as error:
            log.error("journal: cannot read the requests: %s", error)
            return
        for request in pending:
            command = HandCommand(request.kind, request.target,  # type: ignore[arg-type]
                                  self._request_value(request.kind, request.target,
                                                      request.value), "cli")
            try:
                outcome = await self.run_locked(command)
                result = "done" if outcome.ok else f"failed: {outcome.message}"
                if outcome.ok and outcome.message.endswith("(unchanged)"):
                    result = "done (unchanged)"
            except CommandRefused as refused:
                result = f"refused: {refused.message}"
            try:
                journal.finish_request(request.id, self._daemon.now(), result)
            except Exception as error:
                log.error("journal: cannot mark request %d as taken: %s", request.id, error)

    def _request_value(self, kind: str, target: str,
                       value: object) -> float | str | bool | None:
        """A journal request's number for a number variable is canonical (J for kWh): the
        command path takes display units."""
        engine = self._daemon.engine
        if not isinstance(value, int | float | str | None):
            return str(value)
        if kind != "set" or engine is None or isinstance(value, bool | str | None):
            return value
        for decl in engine.program.variables:
            if decl.name == target and decl.type.kind is Kind.NUMBER:
                unit = PERSON_UNITS.get(decl.type.dimension)
                return unit.from_canonical(float(value)) if unit is not None else value
        return float(value)

    def _set_variable(self, command: HandCommand, now: datetime, who: str) -> CommandOutcome:
        daemon = self._daemon
        assert daemon.engine is not None
        store = daemon.engine.store
        declared = {decl.name: decl for decl in daemon.engine.program.variables}
        decl = declared.get(command.target)
        value: Value
        if decl is None and daemon.rules_error is not None:
            # No rules to check it against: a variable the state file holds (the rules
            # declared it when they last ran) takes it; the next rules check its type.
            if command.target not in store.variables():
                raise HandRefused(HandProblem.UNKNOWN, "no rules are running (the rule files "
                                  "have errors) and no saved variable is named "
                                  f"{command.target!r}")
            value = _saved_kind(store.variable(command.target), command.value)
        elif decl is None:
            known = ", ".join(declared) or "none"
            raise HandRefused(HandProblem.UNKNOWN, f"the rules declare no variable "
                              f"{command.target!r} (variables: {known})")
        else:
            value = variable_value(decl, command.value)
        try:
            changed = store.set_variable(command.target, value)
        except ValueError as error:
            raise HandRefused(HandProblem.INVALID, str(error)) from None
        shown = (format_quantity(value, decl.type.dimension)
                 if decl is not None and isinstance(value, float) else show(value))
        message = (f"{command.target} = {shown}" if changed
                   else f"{command.target} = {shown} (unchanged)")
        self._journal(now, [], [Event("info", command.source, f"set {message}")])
        log.info("set %s (%s)", message, command.source)
        daemon.after_command(now)
        return CommandOutcome(True, f"set {message}", 200, [])

    async def _release(self, command: HandCommand, now: datetime, who: str) -> CommandOutcome:
        """Hand the charger back to its own settings: delete our claim, switch to manual
        (so that the rules do not claim it again at the next tick)."""
        daemon = self._daemon
        assert daemon.engine is not None and daemon.sources is not None
        charger = daemon.sources.chargers.get(command.target)
        if charger is None:
            known = ", ".join(daemon.sources.chargers) or "none"
            raise HandRefused(HandProblem.UNKNOWN, f"no charger named {command.target!r} "
                              f"(chargers: {known})")
        try:
            await asyncio.wait_for(charger.release(), timeout=_RELEASE_TIMEOUT)
        except (ChargerError, TimeoutError) as error:
            reason = error.message if isinstance(error, ChargerError) else "no answer"
            message = f"{who}: not done: {reason}"
            self._journal(now, [], [Event("error", command.source, message, command.target)])
            return CommandOutcome(False, message, 502, [])
        daemon.engine.forget(command.target)
        old = daemon.engine.store.mode(command.target)
        events = []
        if daemon.engine.store.set_mode(command.target, "manual"):
            events.append(Event("info", "mode", f"mode {old} -> manual <- by hand "
                                f"({command.source})", command.target))
        message = f"{who}: released: the charger follows its own settings"
        events.append(Event("info", command.source, message, command.target))
        self._journal(now, [], events)
        log.info("%s (%s)", message, command.source)
        daemon.after_command(now)
        return CommandOutcome(True, message, 200, ["release"])

    def _journal(self, now: datetime, sent: list[Sent], events: list[Event]) -> None:
        journal = self._daemon.journal
        if journal is None:
            return
        try:
            journal.hand(now, sent, events)
        except Exception as error:     # a full disk must not undo what was sent
            log.error("journal: cannot write a hand command: %s", error)


def _charger_of(command: HandCommand, daemon: Daemon) -> str | None:
    if command.action == "set" or daemon.engine is None:
        return None
    return command.target if command.target in daemon.engine.settings else None


def _saved_kind(saved: Value, value: object) -> Value:
    """A value for a variable known only from the state file: of the saved value's kind."""
    if isinstance(saved, bool):
        text = str(value).strip().lower()
        if isinstance(value, bool) or text in ("true", "false"):
            return value if isinstance(value, bool) else text == "true"
    elif isinstance(saved, int | float) and isinstance(value, int | float) and \
            not isinstance(value, bool):
        return float(value)
    elif isinstance(saved, str) and isinstance(value, str):
        return value
    raise HandRefused(HandProblem.INVALID, f"{value!r} does not fit the saved value {saved!r}")


def _shown_value(value: object) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)[:60]
