"""The journal: what the live engine did and why, in SQLite (standard library, WAL mode).

One transaction per tick holds everything that tick decided:

    ticks      one row per tick: the input and charger values (JSON), the `let` values;
               while no rules run (the rule files have errors), the first error
    commands   every command sent: charger, kind, value, the rule (file:line and text), the
               values that made it fire, a guard note (clamped...), ok or the error
    held       every action a guard held back: the guard (min_on, no_vehicle...) and why; an
               action held back as unchanged tick after tick is journaled at its first tick
    fires      every rule that fired
    events     errors and notable things: an input or charger failing, a rule file that does
               not check, a mode or variable change, `log` actions, requests taken
    requests   what people asked with `evse-rules mode` and `evse-rules set`; the running
               engine takes them on its next tick (or at its next start)

Times are stored as UTC ISO 8601 text of fixed width, so that text order is time order.
A kill -9 loses at most the tick being written: every committed tick is whole.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from evse_rules.engine.results import Command, Guard, HeldBack, StepResult
from evse_rules.language.program import Value

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ticks (
    id INTEGER PRIMARY KEY, at TEXT NOT NULL, samples TEXT NOT NULL, lets TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS ticks_at ON ticks(at);
CREATE TABLE IF NOT EXISTS commands (
    id INTEGER PRIMARY KEY, tick INTEGER NOT NULL, at TEXT NOT NULL, charger TEXT NOT NULL,
    kind TEXT NOT NULL, value REAL, rule TEXT, rule_text TEXT, vals TEXT NOT NULL, note TEXT,
    ok INTEGER NOT NULL, error TEXT);
CREATE INDEX IF NOT EXISTS commands_at ON commands(at);
CREATE TABLE IF NOT EXISTS held (
    id INTEGER PRIMARY KEY, tick INTEGER NOT NULL, at TEXT NOT NULL, charger TEXT,
    kind TEXT NOT NULL, value TEXT, guard TEXT NOT NULL, why TEXT NOT NULL, rule TEXT,
    rule_text TEXT, vals TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS held_at ON held(at);
CREATE TABLE IF NOT EXISTS fires (
    id INTEGER PRIMARY KEY, tick INTEGER NOT NULL, at TEXT NOT NULL, rule TEXT NOT NULL,
    rule_text TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS fires_at ON fires(at);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY, tick INTEGER, at TEXT NOT NULL, level TEXT NOT NULL,
    source TEXT NOT NULL, charger TEXT, message TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_at ON events(at);
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY, made TEXT NOT NULL, kind TEXT NOT NULL, target TEXT NOT NULL,
    value TEXT NOT NULL, taken TEXT, result TEXT);
"""

# Tables pruned by age (requests are few and kept).
_DATED = ("commands", "held", "fires", "events", "ticks")


def stamp(at: datetime) -> str:
    """A time as the journal stores it: UTC, fixed width, sortable as text."""
    if at.tzinfo is None:
        raise ValueError("journal times must be timezone-aware")
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def unstamp(text: str) -> datetime:
    return datetime.fromisoformat(text)


@dataclass(frozen=True, slots=True)
class Sent:
    """A command and what became of it."""

    command: Command
    ok: bool
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Event:
    """Something people should be able to find later: an error, a change, a log line."""

    level: str                 # "error", "warning", "info"
    source: str                # "inputs.pv", "chargers.garage", "rules", "mode", "set", "log"
    message: str
    charger: str | None = None


@dataclass(frozen=True, slots=True)
class TickRecord:
    """Everything one live tick journals, written in one transaction."""

    at: datetime
    step: StepResult | None
    sent: Sequence[Sent] = ()
    samples: dict[str, Value] = field(default_factory=dict)
    stale: Sequence[str] = ()
    events: Sequence[Event] = ()
    rules_error: str | None = None    # set while no rules run: the rule files' first error


@dataclass(frozen=True, slots=True)
class Request:
    """A person's request to the running engine: `mode CHARGER auto` or `set VAR VALUE`."""

    id: int
    made: datetime
    kind: str                  # "mode" or "set"
    target: str                # the charger or the variable
    value: Value


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of `evse-rules history`."""

    at: datetime
    type: str                  # "command", "held", "fired", "event"
    charger: str | None
    kind: str                  # command or action kind, event level
    value: str | None
    rule: str | None
    rule_text: str | None
    values: tuple[tuple[str, str], ...]
    detail: str | None         # guard note, why held, the error, the event message
    ok: bool | None = None
    guard: str | None = None
    source: str | None = None

    def as_json(self) -> dict[str, object]:
        return {
            "at": self.at.isoformat(), "type": self.type, "charger": self.charger,
            "kind": self.kind, "value": self.value, "rule": self.rule,
            "rule_text": self.rule_text, "values": dict(self.values), "detail": self.detail,
            "ok": self.ok, "guard": self.guard, "source": self.source,
        }


@dataclass(frozen=True, slots=True)
class TickRow:
    id: int
    at: datetime
    samples: dict[str, Value]
    stale: tuple[str, ...]
    lets: dict[str, Value]
    rules_error: str | None = None


def _values_json(values: tuple[tuple[str, str], ...]) -> str:
    return json.dumps([list(pair) for pair in values])


def _values(text: str | None) -> tuple[tuple[str, str], ...]:
    if not text:
        return ()
    return tuple((str(name), str(shown)) for name, shown in json.loads(text))


def _action_value(kind: str, value: Value) -> str | None:
    """A proposed action's value as people read it: '15.42 A' for a current."""
    if value is None:
        return None
    if isinstance(value, float) and kind == "set_amps":
        return f"{value:.4g} A"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _shown(value: float | None, kind: str) -> str | None:
    if value is None:
        return None
    unit = {"set_current": " A", "set_voltage": " V"}.get(kind, "")
    return f"{value:g}{unit}"


class Journal:
    """The journal database. One writer (the daemon); readers and requesters may share it."""

    def __init__(self, path: Path, *, timeout: float = 5.0) -> None:
        self.path = path
        # The actions held back as unchanged in the last tick: a rule that asks for the same
        # current every minute is journaled when it starts doing so, not every minute.
        self._unchanged: set[tuple[str | None, str, str | None, int]] = set()
        path.parent.mkdir(parents=True, exist_ok=True)
        # The journal holds what people did and when (who was home): created readable by its
        # owner only. SQLite gives its -wal and -shm files the database's mode.
        import os

        # (O_CREAT's mode applies only when the file is new; an existing one is left alone.)
        os.close(os.open(path, os.O_RDONLY | os.O_CREAT, 0o600))
        self._db = sqlite3.connect(path, timeout=timeout, isolation_level=None,
                                   check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        # In WAL mode NORMAL keeps every committed transaction across a crash of the process
        # (kill -9); only a power cut may lose the last ticks. It saves an fsync per tick.
        self._db.execute("PRAGMA synchronous=NORMAL")
        # The daemon appends and hardly reads back: a small page cache keeps a box that runs
        # for months flat in memory (SQLite's default grows to 2 MB per connection).
        self._db.execute("PRAGMA cache_size=-512")
        with self._transaction():
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self._db.execute(statement)
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)",
                             (str(SCHEMA_VERSION),))
        row = self._db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        if row is None or int(row[0]) != SCHEMA_VERSION:
            found = row[0] if row else "none"
            raise sqlite3.DatabaseError(
                f"{path}: journal schema {found}, this version reads {SCHEMA_VERSION}")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        try:
            self._db.execute("COMMIT")
        except sqlite3.Error:
            # A COMMIT that fails (a full disk) leaves the transaction open: close it, so
            # that the next one can begin once there is room again.
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    # -- writing (the daemon) -------------------------------------------------------------

    def record(self, tick: TickRecord) -> int:
        """Write one tick, whole or not at all; returns its id."""
        at = stamp(tick.at)
        step = tick.step
        with self._transaction() as db:
            samples: dict[str, object] = {"values": tick.samples, "stale": list(tick.stale)}
            if tick.rules_error is not None:
                samples["rules_error"] = tick.rules_error
            lets = step.lets if step is not None else {}
            cursor = db.execute("INSERT INTO ticks (at, samples, lets) VALUES (?, ?, ?)",
                                (at, json.dumps(samples), json.dumps(lets)))
            tick_id = int(cursor.lastrowid or 0)
            if tick.sent:
                db.executemany(
                    "INSERT INTO commands (tick, at, charger, kind, value, rule, rule_text, "
                    "vals, note, ok, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(tick_id, stamp(s.command.at), s.command.charger, s.command.kind.value,
                      s.command.value,
                      str(s.command.reason.rule) if s.command.reason.rule else None,
                      s.command.reason.rule.text if s.command.reason.rule else None,
                      _values_json(s.command.reason.values), s.command.reason.note,
                      int(s.ok), s.error) for s in tick.sent])
            held = self._held(step)
            if held:
                db.executemany(
                    "INSERT INTO held (tick, at, charger, kind, value, guard, why, rule, "
                    "rule_text, vals) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(tick_id, at, h.action.charger, h.action.kind.value,
                      _action_value(h.action.kind.value, h.action.value), h.guard.value,
                      h.why, str(h.action.rule), h.action.rule.described,
                      _values_json(h.action.values)) for h in held])
            if step is not None and step.fired:
                db.executemany(
                    "INSERT INTO fires (tick, at, rule, rule_text) VALUES (?, ?, ?, ?)",
                    [(tick_id, at, str(r), r.described) for r in step.fired])
            if tick.events:
                db.executemany(
                    "INSERT INTO events (tick, at, level, source, charger, message) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    [(tick_id, at, e.level, e.source, e.charger, e.message)
                     for e in tick.events])
        return tick_id

    def _held(self, step: StepResult | None) -> list[HeldBack]:
        """The held actions worth a row: all but an unchanged one repeated from the last tick."""
        if step is None:
            self._unchanged = set()
            return []
        kept: list[HeldBack] = []
        unchanged: set[tuple[str | None, str, str | None, int]] = set()
        for held in step.held:
            if held.guard is Guard.UNCHANGED:
                action = held.action
                key = (action.charger, action.kind.value,
                       None if action.value is None else str(action.value), action.rule.index)
                unchanged.add(key)
                if key in self._unchanged:
                    continue
            kept.append(held)
        self._unchanged = unchanged
        return kept

    def event(self, at: datetime, event: Event) -> None:
        """An event outside any tick (start, stop, a request refused)."""
        with self._transaction() as db:
            db.execute("INSERT INTO events (tick, at, level, source, charger, message) "
                       "VALUES (NULL, ?, ?, ?, ?, ?)",
                       (stamp(at), event.level, event.source, event.charger, event.message))

    def hand(self, at: datetime, sent: Sequence[Sent], events: Sequence[Event]) -> None:
        """A person's command between ticks (the dashboard, the API, the CLI, MQTT): what was
        sent and the events it made, in one transaction. Its rows belong to no tick (tick 0)."""
        with self._transaction() as db:
            db.executemany(
                "INSERT INTO commands (tick, at, charger, kind, value, rule, rule_text, "
                "vals, note, ok, error) VALUES (0, ?, ?, ?, ?, NULL, NULL, ?, ?, ?, ?)",
                [(stamp(s.command.at), s.command.charger, s.command.kind.value,
                  s.command.value, _values_json(s.command.reason.values),
                  s.command.reason.note, int(s.ok), s.error) for s in sent])
            db.executemany(
                "INSERT INTO events (tick, at, level, source, charger, message) "
                "VALUES (NULL, ?, ?, ?, ?, ?)",
                [(stamp(at), e.level, e.source, e.charger, e.message) for e in events])

    def prune(self, before: datetime) -> int:
        """Delete what happened before `before`; returns the number of ticks deleted."""
        cut = stamp(before)
        deleted = 0
        with self._transaction() as db:
            for table in _DATED:
                cursor = db.execute(f"DELETE FROM {table} WHERE at < ?", (cut,))
                if table == "ticks":
                    deleted = cursor.rowcount
        return deleted

    # -- requests (people -> the running engine) ------------------------------------------

    def add_request(self, kind: str, target: str, value: Value, now: datetime) -> int:
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO requests (made, kind, target, value) VALUES (?, ?, ?, ?)",
                (stamp(now), kind, target, json.dumps(value)))
            return int(cursor.lastrowid or 0)

    def pending_requests(self) -> list[Request]:
        rows = self._db.execute(
            "SELECT id, made, kind, target, value FROM requests WHERE taken IS NULL "
            "ORDER BY id").fetchall()
        return [Request(int(r[0]), unstamp(r[1]), str(r[2]), str(r[3]), json.loads(r[4]))
                for r in rows]

    def finish_request(self, request_id: int, now: datetime, result: str) -> None:
        with self._transaction() as db:
            db.execute("UPDATE requests SET taken = ?, result = ? WHERE id = ?",
                       (stamp(now), result, request_id))

    def request_result(self, request_id: int) -> tuple[datetime, str] | None:
        row = self._db.execute("SELECT taken, result FROM requests WHERE id = ?",
                               (request_id,)).fetchone()
        if row is None or row[0] is None:
            return None
        return unstamp(row[0]), str(row[1])

    # -- reading (history, why) -----------------------------------------------------------

    def entries(
        self, since: datetime | None = None, charger: str | None = None, *,
        fires: bool = False, unchanged: bool = False, limit: int | None = None,
    ) -> list[Entry]:
        """Commands, held-back actions and events (and rule fires) in time order.

        Actions held back only because they changed nothing are left out unless
        `unchanged`: a rule that sets the same current every minute would drown the rest.
        """
        cut = stamp(since) if since is not None else ""
        found: list[Entry] = []
        where_charger = " AND charger = ?" if charger else ""
        args: tuple[str, ...] = (cut, charger) if charger else (cut,)
        for r in self._db.execute(
                "SELECT at, charger, kind, value, rule, rule_text, vals, note, ok, error "
                f"FROM commands WHERE at >= ?{where_charger}", args):
            detail = r[9] if not r[8] else r[7]
            found.append(Entry(unstamp(r[0]), "command", r[1], r[2], _shown(r[3], r[2]), r[4],
                               r[5], _values(r[6]), detail, bool(r[8])))
        skip = "" if unchanged else " AND guard != 'unchanged'"
        for r in self._db.execute(
                "SELECT at, charger, kind, value, guard, why, rule, rule_text, vals "
                f"FROM held WHERE at >= ?{where_charger}{skip}", args):
            found.append(Entry(unstamp(r[0]), "held", r[1], r[2], r[3], r[6], r[7],
                               _values(r[8]), r[5], None, r[4]))
        for r in self._db.execute(
                "SELECT at, level, source, charger, message FROM events WHERE at >= ?"
                + (" AND (charger = ? OR charger IS NULL)" if charger else ""), args):
            found.append(Entry(unstamp(r[0]), "event", r[3], r[1], None, None, None, (),
                               r[4], source=r[2]))
        if fires:
            for r in self._db.execute("SELECT at, rule, rule_text FROM fires WHERE at >= ?",
                                      (cut,)):
                found.append(Entry(unstamp(r[0]), "fired", None, "fired", None, r[1], r[2],
                                   (), None))
        order = {"event": 0, "fired": 1, "held": 2, "command": 3}
        found.sort(key=lambda e: (e.at, order[e.type]))
        return found[-limit:] if limit else found

    def samples_since(self, since: datetime) -> list[tuple[datetime, dict[str, object]]]:
        """Each tick's values since `since`, in time order (the dashboard's chart)."""
        rows = self._db.execute("SELECT at, samples FROM ticks WHERE at >= ? ORDER BY at",
                                (stamp(since),)).fetchall()
        found: list[tuple[datetime, dict[str, object]]] = []
        for at, text in rows:
            try:
                values = json.loads(text).get("values", {})
            except (ValueError, AttributeError):
                continue
            if isinstance(values, dict):
                found.append((unstamp(at), values))
        return found

    def last_tick(self) -> TickRow | None:
        row = self._db.execute(
            "SELECT id, at, samples, lets FROM ticks ORDER BY id DESC LIMIT 1").fetchone()
        if row is None:
            return None
        samples = json.loads(row[2])
        return TickRow(int(row[0]), unstamp(row[1]), samples.get("values", {}),
                       tuple(samples.get("stale", ())), json.loads(row[3]),
                       samples.get("rules_error"))

    def tick_entries(self, tick_id: int, charger: str | None = None) -> list[Entry]:
        """The fires, held actions, commands and events of one tick."""
        entries = [e for e in self._tick_rows(tick_id)
                   if charger is None or e.charger in (None, charger)]
        order = {"event": 0, "fired": 1, "held": 2, "command": 3}
        return sorted(entries, key=lambda e: order[e.type])

    def _tick_rows(self, tick_id: int) -> Iterator[Entry]:
        for r in self._db.execute("SELECT at, rule, rule_text FROM fires WHERE tick = ?",
                                  (tick_id,)):
            yield Entry(unstamp(r[0]), "fired", None, "fired", None, r[1], r[2], (), None)
        for r in self._db.execute(
                "SELECT at, charger, kind, value, guard, why, rule, rule_text, vals FROM held "
                "WHERE tick = ?", (tick_id,)):
            yield Entry(unstamp(r[0]), "held", r[1], r[2], r[3], r[6], r[7], _values(r[8]),
                        r[5], None, r[4])
        for r in self._db.execute(
                "SELECT at, charger, kind, value, rule, rule_text, vals, note, ok, error "
                "FROM commands WHERE tick = ?", (tick_id,)):
            yield Entry(unstamp(r[0]), "command", r[1], r[2], _shown(r[3], r[2]), r[4], r[5],
                        _values(r[6]), r[9] if not r[8] else r[7], bool(r[8]))
        for r in self._db.execute(
                "SELECT at, level, source, charger, message FROM events WHERE tick = ?",
                (tick_id,)):
            yield Entry(unstamp(r[0]), "event", r[3], r[1], None, None, None, (), r[4],
                        source=r[2])

    def last_event(self, source: str) -> Entry | None:
        """The latest event of `source` ('inputs.pv', 'rules'...), or None."""
        r = self._db.execute(
            "SELECT at, level, source, charger, message FROM events WHERE source = ? "
            "ORDER BY id DESC LIMIT 1", (source,)).fetchone()
        if r is None:
            return None
        return Entry(unstamp(r[0]), "event", r[3], r[1], None, None, None, (), r[4],
                     source=r[2])

    def last_command(self, charger: str) -> Entry | None:
        r = self._db.execute(
            "SELECT at, charger, kind, value, rule, rule_text, vals, note, ok, error "
            "FROM commands WHERE charger = ? ORDER BY id DESC LIMIT 1", (charger,)).fetchone()
        if r is None:
            return None
        return Entry(unstamp(r[0]), "command", r[1], r[2], _shown(r[3], r[2]), r[4], r[5],
                     _values(r[6]), r[9] if not r[8] else r[7], bool(r[8]))

    def last_decision_tick(self, charger: str) -> int | None:
        """The last tick in which a rule proposed something for `charger`."""
        row = self._db.execute(
            "SELECT MAX(tick) FROM (SELECT tick FROM commands WHERE charger = ? AND rule IS NOT "
            "NULL UNION ALL SELECT tick FROM held WHERE charger = ?)",
            (charger, charger)).fetchone()
        return int(row[0]) if row and row[0] is not None else None

    def counts(self) -> dict[str, int]:
        """Rows per table (for tests and `history` summaries)."""
        return {table: int(self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
                for table in (*_DATED, "requests")}
