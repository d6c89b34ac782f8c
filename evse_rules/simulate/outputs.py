"""What a replay can leave behind besides its figures: a trace CSV and a plot."""

from __future__ import annotations

import csv
import os
import tempfile
from array import array
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

from evse_rules.chargers.base import ChargerState
from evse_rules.chargers.simulated import SimulatedCharger
from evse_rules.engine.results import Command, CommandKind, Guard, HeldBack
from evse_rules.errors import DataError
from evse_rules.language.program import Value
from evse_rules.language.units import DISPLAY_UNITS, POWER, Dimension
from evse_rules.simulate.replay import Recorder, power_of
from evse_rules.simulate.setup import Setup


def _cell(value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.10g}"
    return str(value)


class TraceRecorder(Recorder):
    """`--trace OUT.csv`: a row per tick and charger, written to a temporary file that takes
    the final name only when the replay finished (no partial output)."""

    def __init__(self, path: str | Path, setup: Setup) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            # Checked now: the replay would otherwise run to its end and fail on the rename.
            raise DataError(str(path), None, "cannot write the trace here: it is a directory")
        shown = [_display(c.name, c.dimension if c.unit is not None else None)
                 for c in setup.inputs]
        self._headers = [header for header, _ in shown]
        self._factors = [factor for _, factor in shown]
        # The config's constant inputs, after the columns: the same value on every row, but
        # a trace shows every input the rules may read.
        self._constants: list[str] = []
        for name, quantity in setup.constants.items():
            header, factor = _display(name, quantity.dimension)
            self._headers.append(header)
            self._constants.append(_cell(quantity.value / factor))
        for name, value in setup.other_constants.items():
            self._headers.append(name)
            self._constants.append(_cell(value))
        try:
            handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed in finish/abort)
                "w", newline="", encoding="utf-8", dir=self.path.parent or Path("."),
                prefix=f".{self.path.name}.", suffix=".tmp", delete=False,
            )
        except OSError as error:
            raise DataError(str(path), None, f"cannot write the trace here: "
                                             f"{error.strerror}") from None
        self._handle = handle
        self._writer = csv.writer(handle, lineterminator="\n")
        self._lets: tuple[str, ...] | None = None
        self._events: list[str] = []      # of the present tick
        self._decided: dict[str | None, list[str]] = {}     # of the present tick, by charger

    def event(self, now: datetime, text: str) -> None:
        self._events.append(text)

    def decided(self, now: datetime, commands: Sequence[Command],
                held: Sequence[HeldBack]) -> None:
        for command in commands:
            self._decided.setdefault(command.charger, []).append(decided_command(command))
        for item in held:
            # "unchanged" is held back at nearly every tick (the charger does it already):
            # the command that made it so is on an earlier row.
            if item.guard is not Guard.UNCHANGED:
                self._decided.setdefault(item.action.charger, []).append(decided_held(item))

    def tick(self, now: datetime, chargers: dict[str, SimulatedCharger],
             inputs: list[Value], lets: dict[str, Value]) -> None:
        if self._lets is None:
            self._lets = tuple(lets)
            self._writer.writerow(["time", "charger", "state", "amps", "power_w",
                                   *self._headers, *self._lets, "events", "decided"])
        shown_inputs = [
            _cell(v / f if isinstance(v, float) else v) for v, f in zip(inputs, self._factors,
                                                                         strict=True)
        ]
        shown_inputs += self._constants
        shown_lets = [_cell(lets.get(name)) for name in self._lets]
        stamp = now.isoformat()
        # What happened at this tick (log lines, changes, a person's actions), on each row.
        events = "; ".join(self._events)
        self._events.clear()
        decided = self._decided
        for name, charger in chargers.items():
            self._writer.writerow([stamp, name, charger.state.value, charger.amps,
                                   _cell(charger.power), *shown_inputs, *shown_lets, events,
                                   "; ".join(decided.get(name, ()))])
        decided.clear()

    def finish(self) -> None:
        self._handle.close()
        # A temporary file is private (0600); the trace gets the usual permissions.
        mask = os.umask(0)
        os.umask(mask)
        try:
            os.chmod(self._handle.name, 0o666 & ~mask)
            os.replace(self._handle.name, self.path)
        except OSError as error:
            self.abort()
            raise DataError(str(self.path), None, f"cannot write the trace here: "
                                                  f"{error.strerror}") from None

    def abort(self) -> None:
        self._handle.close()
        if os.path.exists(self._handle.name):
            os.unlink(self._handle.name)


def _constant_power(setup: Setup, name: str) -> float | None:
    """The config's constant power input `name` in W, None without one."""
    constant = setup.constants.get(name)
    return constant.value if constant is not None and constant.dimension == POWER else None


def decided_command(command: Command) -> str:
    """A command sent, for the trace: what, then the rule that asked with its values, the
    guards' note and the blocks the rule stands in (`start <- off_peak.evr:13 start; in
    between 22:00 and 06:00 (off_peak.evr:12)`)."""
    what = command.kind.value
    if command.value is not None:
        unit = "V" if command.kind is CommandKind.SET_VOLTAGE else "A"
        what += f" {command.value:g} {unit}"
    return f"{what} <- {command.reason}"


def decided_held(held: HeldBack) -> str:
    """An action a guard held back, for the trace: what, why, and the rule that asked with
    the blocks it stands in (`start held back (min_off 5 min not reached ...) <- FILE:LINE
    TEXT [in BLOCKS]`)."""
    action = held.action
    what = action.kind.value
    if isinstance(action.value, float):
        what += f" {action.value:g} A"
    rule = action.rule
    return f"{what} held back ({held.why}) <- {rule} {rule.described}"


def _display(name: str, dimension: Dimension | None) -> tuple[str, float]:
    """The trace's header of a value and what divides it into its display unit (W, A, V,
    Wh); a value without a unit is shown as it is."""
    unit = DISPLAY_UNITS.get(dimension) if dimension is not None else None
    return (f"{name}[{unit.symbol}]", unit.factor) if unit is not None else (name, 1.0)


# A plot shows at most this many points a line: a day of minutes is drawn as it is, a year
# of them would be a solid blur (and slow to draw). A longer replay is drawn as means over
# buckets: the shortest in `_BUCKETS` that keeps within the limit. Up to two months the
# buckets are an hour at most, so that each day's sun still shows; beyond, daily means.
MAX_PLOT_POINTS = 1500
_BUCKETS = ((300, "5 min"), (900, "15 min"), (1800, "30 min"), (3600, "1 h"),
            (86400, "1 day"), (604800, "1 week"))


class PlotSeries(NamedTuple):
    """What a plot draws: a point per tick, or per bucket of ticks (`means` says which)."""

    times: list[datetime]
    pv: list[float]
    house: list[float]
    ev: list[float]
    amps: list[float]
    means: str | None        # "1 h": each point is the mean of an hour of ticks
    grid: list[float]        # the site meter as the rules saw it (with the car); [] without


class PlotRecorder(Recorder):
    """`--plot OUT.png`: PV, house and EV power, and the charging current, over time. With a
    site meter recorded without the car (grid-only data) the meter is drawn too: as the
    rules saw it, with the car, and as recorded."""

    def __init__(self, setup: Setup) -> None:
        self._pv = next((i for i, c in enumerate(setup.inputs) if c.name == "pv"), -1)
        self._house = next((i for i, c in enumerate(setup.inputs) if c.name == "house"), -1)
        # Without a column, the config's constant stands for it, as in the accounting.
        self._pv_w, self._house_w = (_constant_power(setup, name) for name in ("pv", "house"))
        # Which of PV and house the data (or the config) gives: only those are drawn.
        self.has_pv = self._pv >= 0 or self._pv_w is not None
        self.has_house = self._house >= 0 or self._house_w is not None
        meter = setup.meter
        self._grid = setup.inputs.index(meter.column) if meter is not None else -1
        self.grid_name = meter.column.name if meter is not None else None
        self.grid_sign = meter.sign if meter is not None else 1.0
        self.tick_seconds = setup.tick
        self.times: list[datetime] = []
        self.pv: array[float] = array("d")
        self.house: array[float] = array("d")
        self.ev: array[float] = array("d")
        self.amps: array[float] = array("d")
        self.grid: array[float] = array("d")

    def tick(self, now: datetime, chargers: dict[str, SimulatedCharger],
             inputs: list[Value], lets: dict[str, Value]) -> None:
        self.times.append(now)
        self.pv.append(power_of(inputs[self._pv]) if self._pv >= 0 else self._pv_w or 0.0)
        self.house.append(power_of(inputs[self._house]) if self._house >= 0
                          else self._house_w or 0.0)
        self.ev.append(sum(c.power for c in chargers.values()))
        self.amps.append(sum(float(c.amps) if c.state is ChargerState.CHARGING else 0.0
                             for c in chargers.values()))
        if self._grid >= 0:
            self.grid.append(power_of(inputs[self._grid]))

    def series(self, max_points: int = MAX_PLOT_POINTS) -> PlotSeries:
        """The points to draw: every tick, or the means over the shortest bucket (5 min,
        15 min, 30 min, 1 h, 1 day, 1 week) that gives at most `max_points` (the mean of a
        power over a bucket is its energy over the bucket's time)."""
        count = len(self.times)
        if count <= max_points:
            return PlotSeries(self.times, list(self.pv), list(self.house), list(self.ev),
                              list(self.amps), None, list(self.grid))
        span = count * self.tick_seconds
        seconds, label = next(((s, name) for s, name in _BUCKETS if span / s <= max_points),
                              _BUCKETS[-1])
        size = max(round(seconds / self.tick_seconds), 1)
        starts = range(0, count, size)

        def means(values: array[float]) -> list[float]:
            return [sum(bucket) / len(bucket) for bucket in (values[i:i + size] for i in starts)]

        return PlotSeries([self.times[i] for i in starts], means(self.pv), means(self.house),
                          means(self.ev), means(self.amps), label,
                          means(self.grid) if self.grid else [])

    def save(self, path: str | Path, title: str) -> None:
        if Path(path).is_dir():
            raise DataError(str(path), None, "cannot write the plot here: it is a directory")
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        points = self.series()
        means = f", {points.means} means" if points.means else ""
        figure, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(11, 6),
                                             height_ratios=(3, 1))
        if self.has_pv:
            top.plot(points.times, points.pv, label="PV", color="#f0a000", linewidth=0.8)
        if self.has_house:
            top.plot(points.times, points.house, label="house", color="#707070",
                     linewidth=0.8)
        if points.grid:
            # The meter as recorded is what the rules saw less the chargers' power (in the
            # meter's sign); a mean over a bucket is linear, so the same holds for means.
            recorded = [g - self.grid_sign * ev for g, ev in zip(points.grid, points.ev,
                                                                  strict=True)]
            sign = "import" if self.grid_sign > 0 else "export"
            top.plot(points.times, recorded, label=f"{self.grid_name} meter as recorded "
                     f"({sign} +)", color="#8a5cc2", linewidth=0.8, linestyle="--")
            top.plot(points.times, points.grid, label=f"{self.grid_name} meter with the car",
                     color="#c0392b", linewidth=0.8)
            top.axhline(0.0, color="#b0b0b0", linewidth=0.5)
        top.fill_between(points.times, points.ev, step="post", label="EV", color="#2a7ab0",
                         alpha=0.6)
        top.set_ylabel(f"power (W{means})")
        top.legend(loc="upper left")
        top.set_title(title)
        bottom.step(points.times, points.amps, where="post", color="#2a7ab0")
        bottom.set_ylabel(f"charging (A{means})")
        bottom.set_ylim(bottom=0)
        figure.autofmt_xdate()
        figure.tight_layout()
        try:
            # Without a suffix matplotlib would write PATH.png instead: keep the name given.
            figure.savefig(path, dpi=110, format=None if Path(path).suffix else "png")
        except OSError as error:
            raise DataError(str(path), None, f"cannot write the plot: {error.strerror}") \
                from None
        finally:
            plt.close(figure)


