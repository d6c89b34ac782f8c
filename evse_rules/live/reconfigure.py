"""A changed config file, applied while the engine runs, where it can be.

What applies live, at the next tick: chargers added, removed or changed (limits, contactor
times, URL, password...), inputs added, removed or changed, the rule files' list,
`journal_days`. A removed charger is handed back to its own settings (its claim deleted,
since nothing will drive it any more); a charger whose connection changed (URL, user,
password, driver, client id) is a new connection, and its old driver is closed.

What needs a restart, and is said so: `tick`, `journal`, `state`, `timezone`, `[http]`.

Whole or nothing: the new version must load (else it is reported, as before), its new
drivers must build (a missing password variable...), and the rule files must check against
it (a rule naming a removed charger): otherwise nothing changes and the event says why. The
modes, the user variables and what each kept charger was last sent (the guards' memory, the
contactor times) carry over; rule timers (`for`, averages) start over with the new program.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from evse_rules.config import Config
from evse_rules.engine import Engine, StateStore
from evse_rules.engine.journal import Event
from evse_rules.engine.persist import restore, snapshot
from evse_rules.errors import ChargerError, EvseRulesError
from evse_rules.live.build import build_inputs
from evse_rules.live.reload import RuleWatcher, differences
from evse_rules.live.sources import Sources

if TYPE_CHECKING:
    from evse_rules.chargers.base import Charger
    from evse_rules.live.daemon import Daemon

log = logging.getLogger("evse_rules.live")

RESTART_KEYS = ("tick", "journal", "state", "timezone", "http", "mqtt")
# What makes a charger another connection (a new driver); the rest are settings.
_CONNECTION = ("driver", "url", "user", "password_env", "password_file", "client_id",
               "timeout", "phases", "min_amps", "max_amps")
_RELEASE_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class Outcome:
    applied: bool
    events: list[Event]


async def apply_config(daemon: Daemon, new: Config) -> Outcome:
    """Apply `new` to the running `daemon` where it can be (see the module docstring)."""
    old = daemon.config
    changed = differences(old.model_dump(), new.model_dump())
    if not changed:
        return Outcome(False, [])
    where = new.source or new.name
    restart = [key for key in changed if key.split(".")[0] in RESTART_KEYS]
    live = [key for key in changed if key.split(".")[0] not in RESTART_KEYS]
    events: list[Event] = []
    if restart:
        message = (f"{where} changed ({', '.join(restart)}): these apply at the next start "
                   "(restart evse-rules)")
        log.warning("%s", message)
        events.append(Event("warning", "config", message))
    if not live:
        return Outcome(False, events)
    try:
        outcome = await _apply(daemon, old, new, live)
    except _Refused as refused:
        message = (f"{where} changed ({', '.join(live)}) but is not applied: {refused}; the "
                   "engine keeps running on the config it had")
        log.error("%s", message)
        events.append(Event("error", "config", message))
        return Outcome(False, events)
    events += outcome
    return Outcome(True, events)


class _Refused(Exception):
    pass


async def _apply(daemon: Daemon, old: Config, new: Config, live: list[str]) -> list[Event]:
    engine, sources = daemon.engine, daemon.sources
    assert engine is not None and sources is not None
    # 1. Everything that can fail, before anything changes.
    watcher = RuleWatcher(new.rule_paths, new.environment(), list(new.inputs), daemon.loader)
    loaded = watcher.load()
    if loaded.program is None and daemon.rules_error is None:
        raise _Refused(f"the rule files do not check against it:\n{loaded.error}")
    removed = [name for name in old.chargers if name not in new.chargers]
    added = [name for name in new.chargers if name not in old.chargers]
    reconnected = [name for name in new.chargers if name in old.chargers
                   and _connection(old, name) != _connection(new, name)]
    drivers: dict[str, Charger] = {}
    try:
        for name in added + reconnected:
            drivers[name] = daemon.charger_factory(name, new)
    except (EvseRulesError, OSError, ValueError) as error:
        for driver in drivers.values():
            await _close(driver)
        raise _Refused(f"chargers.{name}: {error}") from None
    client = daemon.http_client(new)
    try:
        inputs = build_inputs(new, client, daemon.clock)
    except (EvseRulesError, OSError, ValueError) as error:
        raise _Refused(str(error)) from None
    # 2. The chargers that go: handed back to their own settings (nothing drives them now).
    events: list[Event] = []
    for name in removed:
        driver = sources.chargers[name]
        message = await _release(name, driver)
        events.append(Event("info" if message is None else "error", "config",
                            f"charger {name} removed: " + (
                                "its claim is released" if message is None
                                else f"its claim could not be released: {message}"), name))
        await _close(driver)
    for name in reconnected:
        await _close(sources.chargers[name])
    # 3. The new engine, with what carries over.
    store = StateStore()
    for name, spec in new.inputs.items():
        stale = new.input_stale_after(name)
        store.declare_input(name, spec.value_type(),
                            None if stale == float("inf") else stale)
    program = loaded.program if loaded.program is not None else engine.program
    fresh = Engine(program, new.charger_settings(), store, new.site_settings())
    kept = snapshot(engine.store, engine.contactor_times())
    restore(store, kept)
    fresh.carry_over(engine)
    chargers = {name: drivers.get(name) or sources.chargers[name] for name in new.chargers}
    every = {name: spec.every or new.tick_seconds for name, spec in new.chargers.items()}
    await sources.cancel()
    for name, source in sources.inputs.items():
        if name not in inputs or inputs[name] is not source:
            await _close(source)
    daemon.swap(new, fresh, Sources(inputs, chargers, every), watcher)
    summary = [f"{len(live)} key(s)"]
    if added:
        summary.append("chargers added: " + ", ".join(added))
    if removed:
        summary.append("chargers removed: " + ", ".join(removed))
    if reconnected:
        summary.append("chargers reconnected: " + ", ".join(reconnected))
    message = (f"{new.source or new.name} changed and is applied: {', '.join(live)} ("
               + "; ".join(summary) + ")")
    log.info("%s", message)
    events.append(Event("info", "config", message))
    return events


def _connection(config: Config, name: str) -> tuple[object, ...]:
    charger = config.chargers[name]
    return tuple(getattr(charger, key) for key in _CONNECTION)


async def _release(name: str, driver: Charger) -> str | None:
    try:
        await asyncio.wait_for(driver.release(), timeout=_RELEASE_TIMEOUT)
    except ChargerError as error:
        return error.message
    except TimeoutError:
        return "no answer"
    return None


async def _close(source: object) -> None:
    close = getattr(source, "close", None)
    if close is None:
        return
    try:
        await close()
    except Exception as error:   # a driver that cannot close cleanly is no reason to stop
        log.debug("closing %r: %s", source, error)
