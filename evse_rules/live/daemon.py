"""The live daemon behind `evse-rules run`: one engine, the wall clock, real chargers.

Each tick, in order:

 1. rule files: reloaded if they changed (or on SIGHUP); a broken version is refused;
 2. requests people made with `evse-rules mode` / `evse-rules set` are applied;
 3. due inputs and chargers are read concurrently, each on its own interval; what arrives
    within the tick's budget goes into the store, a slow source is taken at a later tick;
 4. `engine.step(now)`;
 5. the commands are sent, concurrently across chargers, in order within one, and each
    outcome is committed to the engine;
 6. modes and variables are saved if they changed; the tick is journaled in one
    transaction.

Rule files with errors at start do not stop the daemon: it runs without rules (steps 4 and
5 are skipped: nothing is sent, the chargers stay as they are) and loads the rules as soon
as a version that checks is there. The guards' last start and stop of each charger are saved
with the modes and variables, so a restart does not cut the minimum on and off times short.

SIGINT and SIGTERM stop the loop, release every charger's claim and exit within seconds.
Nothing here reads the clock or sleeps directly: both are injected (`schedule`).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import signal
import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING

from evse_rules.chargers.base import Charger
from evse_rules.config import Config
from evse_rules.engine import Command, CommandKind, Engine, Guard, StateStore, StepResult
from evse_rules.engine.journal import Event, Journal, Sent, TickRecord
from evse_rules.engine.persist import StateFile, restore, restore_contactor, snapshot
from evse_rules.errors import ChargerError, ConfigError
from evse_rules.language.units import DURATION, format_quantity
from evse_rules.live.build import ChargerFactory, build_inputs, default_charger_factory
from evse_rules.live.commands import CommandPath
from evse_rules.live.health import Health
from evse_rules.live.owner import announce, register, unregister
from evse_rules.live.reload import (
    ConfigWatcher,
    NoRules,
    ProgramLoader,
    ReloadOutcome,
    RuleWatcher,
    default_loader,
)
from evse_rules.live.report import samples, short, show, trace
from evse_rules.live.schedule import Clock, Sleeper, next_tick, wall_clock, wall_sleep
from evse_rules.live.sources import Sources
from evse_rules.live.views import Service
from evse_rules.traced import TracedOnce

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("evse_rules.live")

# How long shutdown waits for a tick in progress, then for each charger's release.
_GRACE = 1.0
_RELEASE_TIMEOUT = 3.0
_PRUNE_EVERY = timedelta(hours=1)


class Daemon:
    """The live engine of one config file."""

    def __init__(
        self,
        config: Config,
        *,
        clock: Clock = wall_clock,
        sleep: Sleeper = wall_sleep,
        loader: ProgramLoader = default_loader,
        charger_factory: ChargerFactory = default_charger_factory,
        max_ticks: int | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.sleep = sleep
        self.max_ticks = max_ticks
        self.ticks = 0
        self._charger_factory = charger_factory
        self.loader = loader
        self._stop = asyncio.Event()
        self._reload_asked = False
        self._health = Health()
        self._last_prune: datetime | None = None
        self.watcher = RuleWatcher(config.rule_paths, config.environment(),
                                   list(config.inputs), loader)
        self.config_watcher = ConfigWatcher(config)
        self.engine: Engine | None = None
        self.journal: Journal | None = None
        self.sources: Sources | None = None
        self.state_file = StateFile(config.state_path)
        self._client: httpx.AsyncClient | None = None
        self._tz = config.tzinfo()
        self._lock_handle: IO[str] | None = None
        # Ticks and hand commands take turns (see live/commands.py).
        self.serial = asyncio.Lock()
        self.commands = CommandPath(self)
        self.last_step: StepResult | None = None
        self.last_tick: datetime | None = None
        self.next_tick: datetime | None = None
        self._change = 0
        self._changed = asyncio.Event()
        self._services: list[Service] = []
        self._traced = TracedOnce()
        self._faults: dict[str, str] = {}      # charger -> why its limits leave no current
        # Rule files checked off the event loop, for the next tick to take.
        self._reloaded: tuple[bool, ReloadOutcome] | None = None

    # -- control --------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the loop to end (what SIGINT and SIGTERM do)."""
        self._stop.set()

    def reload(self) -> None:
        """Reload the rule files at the next tick (what SIGHUP does)."""
        self._reload_asked = True

    @property
    def store(self) -> StateStore:
        if self.engine is None:
            raise RuntimeError("the daemon has not started")
        return self.engine.store

    @property
    def rules_error(self) -> str | None:
        """While no rules run (the rule files have errors): the first error; else None."""
        return None if self.watcher.running else self.watcher.problem

    # -- the loop -------------------------------------------------------------------------

    async def run(self, services: Sequence[Service] = ()) -> None:
        """Start, tick until stopped (or `max_ticks`), then close; the chargers keep what
        they were last told unless their `on_exit` says release. `services` (the API...)
        run beside the loop, started after the engine and stopped before it."""
        self._start()
        signals = self._install_signals()
        notes: list[Path] = []
        try:
            for service in services:
                try:
                    await service.start()
                except Exception as error:
                    # The chargers matter more than a face: the engine runs without it.
                    message = f"{service.name} not started: {error}"
                    log.error("%s", message)
                    self._journal_event(self.clock(), Event("error", service.name, message))
                else:
                    self._services.append(service)
            api = next((url for service in self._services
                        if isinstance(url := getattr(service, "url", None), str)), None)
            notes = register(self.config, api)
            announced = announce(self.config, api)
            if announced is not None:
                notes.append(announced)
            await self._loop()
        finally:
            unregister(notes)
            for sig in signals:
                asyncio.get_running_loop().remove_signal_handler(sig)
            for service in reversed(self._services):
                with contextlib.suppress(Exception):
                    await service.stop()
            await self._shutdown()

    # -- a changed config file ------------------------------------------------------------

    async def _apply_config_changes(self) -> None:
        """Apply a changed config file where it can be (live/reconfigure.py)."""
        change = self.config_watcher.check()
        if change is None:
            return
        now = self.now()
        if isinstance(change, Event):
            self._journal_event(now, change)
            return
        from evse_rules.live.reconfigure import RESTART_KEYS, apply_config

        # What needs a restart keeps its running value until then.
        effective = change.model_copy(update={key: getattr(self.config, key)
                                              for key in RESTART_KEYS})
        try:
            outcome = await apply_config(self, effective)
        except Exception as error:   # never a reason to stop the chargers' control
            log.exception("applying the changed config failed")
            outcome_events = [Event("error", "config", f"the changed config is not applied: "
                                    f"{type(error).__name__}: {error}")]
        else:
            outcome_events = outcome.events
        restart = [key for key in RESTART_KEYS if getattr(change, key) != getattr(self.config,
                                                                                 key)]
        if restart and not any("next start" in e.message for e in outcome_events):
            outcome_events.insert(0, Event("warning", "config", (
                f"{self.config.name} changed ({', '.join(restart)}): these apply at the next "
                "start (restart evse-rules)")))
        for event in outcome_events:
            self._journal_event(now, event)

    @property
    def charger_factory(self) -> ChargerFactory:
        return self._charger_factory

    def http_client(self, config: Config) -> httpx.AsyncClient | None:
        """The HTTP client the inputs of `config` share (made when the first needs one)."""
        if self._client is None and any(spec.kind == "http" for spec in config.inputs.values()):
            import httpx

            self._client = httpx.AsyncClient()
        return self._client

    def swap(self, config: Config, engine: Engine, sources: Sources,
             watcher: RuleWatcher) -> None:
        """Run on a new config from the next step on (live/reconfigure.py built them)."""
        self.config, self.engine, self.sources, self.watcher = config, engine, sources, watcher
        self.config_watcher.config = config
        self.last_step = None

    # -- what the faces use -----------------------------------------------------------------

    def now(self) -> datetime:
        """The time now, in the rules' time zone."""
        return self.clock().astimezone(self._tz)

    async def send_commands(self, commands: list[Command]) -> list[Sent]:
        """Send commands and commit each outcome to the engine (as a tick does)."""
        return await self._send_all(commands)

    def after_command(self, now: datetime) -> None:
        """A hand command changed something: save the state, wake the faces."""
        self._save(now)
        self.notify()

    def notify(self) -> None:
        """Wake whoever waits in `changes` (a tick ran, a command was carried out)."""
        self._change += 1
        self._changed.set()
        self._changed = asyncio.Event()

    async def changes(self, since: int | None = None) -> int:
        """Wait for the next change (after `since`, when given); its sequence number."""
        if since is not None and self._change > since:
            return self._change
        await self._changed.wait()
        return self._change

    async def _serial_tick(self, when: datetime) -> StepResult:
        """A tick, with the requests people left in the journal first, taking turns with
        hand commands."""
        async with self.serial:
            await self._apply_config_changes()
            await self._load_rules_aside()
            await self.commands.take_requests()
            step = await self.tick(when)
            self.last_step, self.last_tick = step, when
            self.notify()
            return step

    def _install_signals(self) -> list[signal.Signals]:
        loop = asyncio.get_running_loop()
        installed: list[signal.Signals] = []
        handlers = {signal.SIGINT: self.stop, signal.SIGTERM: self.stop,
                    signal.SIGHUP: self.reload}
        for sig, handler in handlers.items():
            try:
                loop.add_signal_handler(sig, handler)
            except (NotImplementedError, RuntimeError, ValueError):
                continue    # not the main thread (tests), or no signals on this platform
            installed.append(sig)
        return installed

    async def _loop(self) -> None:
        interval = self.config.tick_seconds
        last: datetime | None = None
        while not self._stop.is_set():
            now = self.clock()
            when = next_tick(now, interval)
            if last is not None and now < last - timedelta(seconds=interval):
                # The wall clock went back (set by hand, or NTP after a bad start): rules
                # cannot run backwards in time, so their timers start over from here.
                log.warning("the clock went back from %s to %s: rule timers start over",
                            last.isoformat(), now.isoformat())
                if self.engine is not None:
                    self.engine.program.reset()
                    # A start or stop now in the future would hold the contactor until then.
                    self.engine.restore_contactor_times(self.engine.contactor_times(), now)
                last = None
            if last is not None and when <= last:
                when = last + timedelta(seconds=interval)
            elif last is not None and when > last + timedelta(seconds=interval * 1.5):
                log.warning("ticks skipped: the last tick was at %s, the next is at %s",
                            last.isoformat(), when.isoformat())
            self.next_tick = when
            if await self.sleep((when - now).total_seconds(), self._stop):
                break
            await self._guarded_tick(when)
            last = when
            self.ticks += 1
            if self.max_ticks is not None and self.ticks >= self.max_ticks:
                break

    async def _guarded_tick(self, when: datetime) -> None:
        """Run one tick; a stop request gives it a moment, then cancels it.

        Whatever the tick raises is caught here, at its edge: a bug in one tick must not end
        a daemon that runs for months, nor flood its log. The first failure is logged with
        its traceback and journaled; the same failure again is only counted (`Recurring`),
        until it changes or a tick runs through again."""
        tick = asyncio.create_task(self._serial_tick(when))
        stopped = asyncio.create_task(self._stop.wait())
        now = when.astimezone(self._tz)
        try:
            done, _ = await asyncio.wait({tick, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if tick not in done:
                finished, _ = await asyncio.wait({tick}, timeout=_GRACE)
                if not finished:
                    tick.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await tick
        except Exception as error:
            where = _raised_at(error)
            event = self._health.tick.failed(
                now, f"tick failed: {type(error).__name__}: {error}{where} (the next ticks "
                "run; the same failure again is counted, not logged again)", error)
            self._journal_event(now, event)
        else:
            if not tick.cancelled():
                self._journal_event(now, self._health.tick.recovered(now))
        finally:
            stopped.cancel()

    def _journal_event(self, now: datetime, event: Event | None) -> None:
        """Journal an event outside a tick's transaction, if the journal can be written."""
        if event is None or self.journal is None:
            return
        try:
            self.journal.event(now, event)
        except (sqlite3.Error, OSError) as error:
            self._journal_failed(now, error)

    # -- start and stop -------------------------------------------------------------------

    def _start(self) -> None:
        config = self.config
        # Before anything is opened: a state, journal or lock that is a folder, or two of
        # them (or the config) that are one file, would be destroyed by the first tick.
        config.check_files()
        self._lock()
        outcome = self.watcher.load()
        program = outcome.program if outcome.program is not None else NoRules()
        store = StateStore()
        for name, spec in config.inputs.items():
            stale = config.input_stale_after(name)
            store.declare_input(name, spec.value_type(),
                                None if stale == float("inf") else stale)
        self.engine = Engine(program, config.charger_settings(), store, config.site_settings())
        loaded = self.state_file.load()
        events: list[Event] = []
        if outcome.error is not None:
            events.append(Event("error", "rules", "rule files have errors; running without "
                                "rules until they are fixed:\n" + outcome.error))
        if loaded.problem:
            events.append(Event("error", "state", loaded.problem))
        problems = restore(store, loaded.state)
        problems += restore_contactor(self.engine, loaded.state, self.clock())
        for problem in problems:
            log.warning("%s: %s", config.state_path, problem)
            events.append(Event("warning", "state", problem))
        for name, times in self.engine.contactor_times().items():
            if times.last_start is not None or times.last_stop is not None:
                log.info("%s: last start %s, last stop %s (min_on and min_off count from them)",
                         name, _when(times.last_start), _when(times.last_stop))
        chargers = {name: self._charger_factory(name, config) for name in config.chargers}
        if any(spec.kind == "http" for spec in config.inputs.values()):
            import httpx

            self._client = httpx.AsyncClient()
        every = {name: spec.every or config.tick_seconds
                 for name, spec in config.chargers.items()}
        self.sources = Sources(build_inputs(config, self._client, self.clock), chargers, every)
        try:
            self.journal = Journal(config.journal_path)
        except (OSError, sqlite3.Error) as error:
            raise ConfigError(config.name, f"cannot open the journal {config.journal_path}: "
                              f"{error}", "journal") from None
        now = self.clock()
        self._prune(now)
        for event in events:
            self.journal.event(now, event)
        rules = ("rules " + ", ".join(program.files) if outcome.program is not None
                 else "no rules (the rule files have errors)")
        self.journal.event(now, Event("info", "daemon", f"started with {rules}"))
        log.info("started: %d charger(s), %d input(s), tick %s, %s",
                 len(chargers), len(config.inputs), format_quantity(config.tick_seconds, DURATION),
                 rules)

    def _lock(self) -> None:
        """Refuse to run twice on one journal: two daemons would fight over the chargers."""
        import os

        try:
            import fcntl
        except ImportError:     # not on Windows; the service runs on Linux
            return
        # The lock is taken on the journal's real path: two daemons that reach one journal
        # through a symlink (of the file or of a folder) take the same lock.
        # (realpath, not Path.resolve: a symlink loop is then an error of open, not a crash)
        path = type(self.config.journal_path)(
            os.path.realpath(self.config.journal_path) + ".lock")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = os.fdopen(os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600),
                               "a+")
        except OSError as error:
            raise ConfigError(self.config.name, f"cannot create {path}: {error.strerror}",
                              "journal") from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise ConfigError(self.config.name, "another `evse-rules run` is already running "
                              f"with the journal {self.config.journal_path}", "journal") from None
        # Held until the process ends (the kernel drops it even after kill -9).
        self._lock_handle = handle

    async def _shutdown(self) -> None:
        sources, journal = self.sources, self.journal
        if sources is not None:
            await sources.cancel()
            # The chargers keep what they were last told (the next start adopts the claim):
            # only those whose on_exit says so are handed back to their own settings.
            results = await asyncio.gather(
                *(self._release(name, charger) for name, charger in sources.chargers.items()
                  if self.config.chargers[name].on_exit == "release"))
            for charger in sources.chargers.values():
                with contextlib.suppress(Exception):
                    await charger.close()
            for source in sources.inputs.values():
                with contextlib.suppress(Exception):
                    await source.close()
        else:
            results = []
        if self._client is not None:
            await self._client.aclose()
        if self.engine is not None:
            self._save()
        if journal is not None:
            now = self.clock()
            for event in results:
                if event is not None:
                    self._journal_event(now, event)
            self._journal_event(now, Event("info", "daemon", "stopped"))
            with contextlib.suppress(Exception):    # a full disk must not keep the lock
                journal.close()
        if self._lock_handle is not None:
            self._lock_handle.close()
            self._lock_handle = None
        log.info("stopped")

    async def _release(self, name: str, charger: Charger) -> Event | None:
        """Hand control of `name` back to the charger (delete our claim)."""
        try:
            await asyncio.wait_for(charger.release(), timeout=_RELEASE_TIMEOUT)
        except (ChargerError, TimeoutError) as error:
            reason = error.message if isinstance(error, ChargerError) else "no answer"
            log.error("%s: claim not released: %s", name, reason)
            return Event("error", f"chargers.{name}", f"claim not released: {reason}", name)
        log.info("%s: claim released", name)
        return None

    # -- one tick -------------------------------------------------------------------------

    async def tick(self, when: datetime) -> StepResult:
        """One tick at `when` (see the module docstring). Returns the engine's step."""
        # Rules read the time of day in local time: the tick's time is given in the config's
        # time zone (or the system's), looked up at every tick so that DST changes apply.
        now = when.astimezone(self._tz)
        engine, sources, journal = self.engine, self.sources, self.journal
        if engine is None or sources is None or journal is None:
            raise RuntimeError("the daemon has not started")
        events: list[Event] = []
        self._maybe_reload(events)
        results = await sources.gather(now, self._budget())
        self._health.apply(engine.store, results, events)
        engine.store.expire(now)
        self._health.staleness(engine.store, now, events)
        rules_error = self.rules_error
        if rules_error is None:
            step = engine.step(now)
            sent = await self._send_all(step.commands)
            self._after_step(step, events)
        else:
            # No rules: nothing is decided, nothing is sent (not even the reference voltage),
            # but what a person's charge plan and the site limit ask.
            step = engine.step_without_rules(now)
            sent = await self._send_all(step.commands)
            if step.commands or step.logs:
                self._after_step(step, events)
        saved = self._save(now)
        if saved is not None:
            events.append(saved)
        values, stale = samples(engine.store)
        # A journal that cannot be written (a full disk) costs the tick's record, never the
        # control of the chargers: the commands are sent already, the next ticks run.
        try:
            journal.record(TickRecord(now, step, sent, values, stale, events, rules_error))
            if self._last_prune is None or now - self._last_prune >= _PRUNE_EVERY:
                self._prune(now)
        except (sqlite3.Error, OSError) as error:
            self._journal_failed(now, error)
        else:
            self._journal_event(now, self._health.journal.recovered(now))
        self._advance_simulated()
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s", trace(now, values, stale, step))
        return step

    def _budget(self) -> float:
        """How long a tick waits for its reads: up to the longest timeout, at most half a tick."""
        timeouts = [spec.timeout for spec in self.config.chargers.values()]
        timeouts += [spec.timeout for spec in self.config.inputs.values()]
        return min(0.5 * self.config.tick_seconds, max(timeouts, default=1.0) + 0.25)

    async def _load_rules_aside(self) -> None:
        """Check and compile changed rule files in a worker thread (a long file takes a
        second or more), so that the API and the dashboard answer meanwhile; the tick then
        takes the outcome (`_maybe_reload`)."""
        if not (self._reload_asked or self.watcher.changed()):
            return
        self._reload_asked = False
        watcher = self.watcher
        first_load = not watcher.running
        outcome = await asyncio.to_thread(watcher.reload)
        if watcher is self.watcher:       # not replaced by a config change meanwhile
            self._reloaded = (first_load, outcome)

    def _maybe_reload(self, events: list[Event]) -> None:
        if self._reloaded is not None:
            (first_load, outcome), self._reloaded = self._reloaded, None
        elif self._reload_asked or self.watcher.changed():
            # A tick called on its own (tests): load here.
            self._reload_asked = False
            first_load = not self.watcher.running
            outcome = self.watcher.reload()
        else:
            return
        if outcome.program is not None and self.engine is not None:
            self.engine.replace_program(outcome.program)
            what = "loaded, the rules run" if first_load else "reloaded"
            events.append(Event("info", "rules", f"rule files {what}: "
                                + ", ".join(outcome.program.files)))
        elif outcome.error is not None and first_load:
            events.append(Event("error", "rules", "rule files still have errors; running "
                                "without rules:\n" + outcome.error))
        elif outcome.error is not None:
            events.append(Event("error", "rules", "rule files not reloaded, the previous "
                                "rules keep running:\n" + outcome.error))

    async def _send_all(self, commands: list[Command]) -> list[Sent]:
        if not commands:
            return []
        per_charger: dict[str, list[Command]] = {}
        for command in commands:
            per_charger.setdefault(command.charger, []).append(command)
        groups = await asyncio.gather(*(self._send(name, group)
                                        for name, group in per_charger.items()))
        return [sent for group in groups for sent in group]

    async def _send(self, name: str, commands: list[Command]) -> list[Sent]:
        """Send one charger's commands in order; after a failure the rest are not sent."""
        engine, sources = self.engine, self.sources
        assert engine is not None and sources is not None
        charger = sources.chargers[name]
        timeout = self.config.chargers[name].timeout * 2 + 1.0   # the driver retries once
        sent: list[Sent] = []
        failure: str | None = None
        for command in commands:
            error = failure and f"not sent: an earlier command failed ({failure})"
            if error is None:
                try:
                    await asyncio.wait_for(_carry_out(charger, command), timeout=timeout)
                except ChargerError as problem:
                    error = problem.message
                except TimeoutError:
                    error = f"no answer within {timeout:g} s"
                except Exception as problem:
                    self._traced.error(log, f"send.{name}", problem, "%s: %s failed "
                                       "unexpectedly", name, command.kind.value)
                    error = f"unexpected {type(problem).__name__}"
            engine.commit(command, error is None, error)
            sent.append(Sent(command, error is None, error))
            if error is None:
                log.info("%s", command)
            else:
                log.error("%s: %s failed: %s", name, short(command), error)
                failure = failure or error
        return sent

    def _after_step(self, step: StepResult, events: list[Event]) -> None:
        for change in step.mode_changes:
            message = f"mode {change.old} -> {change.new} <- {change.rule} {change.rule.text}"
            log.info("%s: %s", change.charger, message)
            events.append(Event("info", "mode", message, change.charger))
        for var in step.var_changes:
            message = f"{var.name} = {show(var.new)} <- {var.rule} {var.rule.text}"
            log.info("%s", message)
            events.append(Event("info", "set", message))
        for action in step.logs:
            message = f"{action.rule}: {action.value}"
            log.info("%s", message)
            events.append(Event("info", "log", message, action.charger))
        for held in step.held:
            if held.guard is not Guard.UNCHANGED:
                log.debug("%s", held)
        self._faults_changed(events)

    def _faults_changed(self, events: list[Event]) -> None:
        """A charger whose limits leave no current (its hard minimum above our max_amps, a
        NaN limit) is faulted: said once when it starts, when its reason changes and when it
        ends, not at every tick of the held-back currents."""
        engine = self.engine
        assert engine is not None
        for name, settings in engine.settings.items():
            fault = settings.bounds(engine.store.charger_status(name)).fault
            before = self._faults.get(name)
            if fault == before:
                continue
            if fault is None:
                self._faults.pop(name, None)
                message = "its limits allow a current again: commands are sent again"
                log.info("%s: %s", name, message)
                events.append(Event("info", f"chargers.{name}", message, name))
            else:
                self._faults[name] = fault
                message = f"faulted, no current and no start is sent: {fault}"
                log.error("%s: %s", name, message)
                events.append(Event("error", f"chargers.{name}", message, name))

    def _save(self, now: datetime | None = None) -> Event | None:
        """Write modes, variables and contactor times if they changed since the last write
        (the state file skips a state equal to the one it holds).

        A write that fails (a full disk) is one error line, then counted while it goes on;
        it is tried again at every tick. Returns the event to journal: the failure when it
        starts or changes, the recovery when it ends."""
        store = self.store
        assert self.engine is not None
        at = now or self.clock().astimezone(self._tz)
        try:
            self.state_file.save(snapshot(store, self.engine.contactor_times()), now)
        except OSError as error:
            return self._health.state_file.failed(
                at, f"{self.config.state_path}: cannot save the state: {_os_reason(error)} "
                "(modes and variables are kept in memory and saved once it works again)")
        store.dirty = False
        return self._health.state_file.recovered(at)

    def _journal_failed(self, now: datetime, error: sqlite3.Error | OSError) -> None:
        """One error line when the journal cannot be written, then a count while it lasts."""
        journal = self.journal
        if journal is not None:
            _rollback(journal)
        self._health.journal.failed(
            now, f"journal {self.config.journal_path}: cannot write: {_os_reason(error)} "
            "(the chargers are still controlled; ticks are not journaled until it works again)")

    def _advance_simulated(self) -> None:
        """Simulated chargers (driver = "simulated") draw energy as time passes."""
        from evse_rules.chargers.simulated import SimulatedCharger

        assert self.sources is not None
        for charger in self.sources.chargers.values():
            if isinstance(charger, SimulatedCharger):
                charger.advance(self.config.tick_seconds)

    def _prune(self, now: datetime) -> None:
        self._last_prune = now
        days = self.config.journal_days
        if days and self.journal is not None:
            deleted = self.journal.prune(now - timedelta(days=days))
            if deleted:
                log.info("journal: %d ticks older than %d days deleted", deleted, days)


def _os_reason(error: sqlite3.Error | OSError) -> str:
    """Why a write failed, in words: a full disk says so, whichever layer saw it."""
    if isinstance(error, OSError) and error.strerror:
        text = error.strerror
    else:
        text = str(error) or type(error).__name__
    full = ((isinstance(error, OSError) and error.errno == errno.ENOSPC)
            or getattr(error, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
            or "disk is full" in text)
    return f"the disk is full ({text})" if full else text


def _rollback(journal: Journal) -> None:
    """Leave no transaction open after a failed write: SQLite may keep one after a COMMIT
    that failed (a full disk), and every later BEGIN would then fail for another reason."""
    db = getattr(journal, "_db", None)
    if isinstance(db, sqlite3.Connection) and db.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            db.execute("ROLLBACK")


def _raised_at(error: BaseException) -> str:
    """' (at file.py:123)': where an exception was raised, so that two failures with the same
    text from two places are told apart."""
    tb = error.__traceback__
    if tb is None:
        return ""
    while tb.tb_next is not None:
        tb = tb.tb_next
    code = tb.tb_frame.f_code
    return f" (at {code.co_filename.rsplit('/', 1)[-1]}:{tb.tb_lineno} in {code.co_name})"


def _when(at: datetime | None) -> str:
    return "never" if at is None else at.isoformat(timespec="seconds")


async def _carry_out(charger: Charger, command: Command) -> None:
    kind = command.kind
    if kind is CommandKind.START:
        await charger.start()
    elif kind is CommandKind.STOP:
        await charger.stop()
    elif kind is CommandKind.SET_CURRENT:
        # The last check before the driver: a whole, finite current within the charger's
        # last reported limits (the guard's too, which the driver checks again).
        import math

        from evse_rules.chargers.base import ChargerStatus

        value = command.value
        if value is None or not math.isfinite(value) or value != int(value):
            raise ChargerError(command.charger, f"current {value!r} A is not whole amperes: "
                               "nothing sent")
        last = getattr(charger, "last_status", None)
        if isinstance(last, ChargerStatus) and last.online and not (
                last.min_amps <= value <= last.max_amps):
            raise ChargerError(command.charger, f"{value:g} A is outside the charger's limits "
                               f"{last.min_amps:g}..{last.max_amps:g} A: nothing sent")
        await charger.set_current(int(value))
    else:
        await charger.set_voltage(float(command.value or 0.0))


