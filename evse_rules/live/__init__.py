"""The live daemon (`evse-rules run`): the engine on the wall clock with real chargers.

    daemon.py    the tick loop, start and shutdown, commands, requests, journal, persistence
    sources.py   inputs and chargers polled concurrently, each on its own interval
    health.py    a failing source reported once when it fails and once when it is back
    reload.py    rule files loaded at start, reloaded on change and on SIGHUP; a broken
                 version refused (at start: no rules run until it is fixed)
    build.py     the chargers and inputs of a config
    report.py    a tick's samples for the journal and its -v trace line
    schedule.py  aligned tick times, the injectable clock and sleep
"""

from evse_rules.live.build import build_inputs, default_charger_factory
from evse_rules.live.daemon import Daemon
from evse_rules.live.schedule import FakeTime, next_tick, wall_clock, wall_sleep

__all__ = ["Daemon", "FakeTime", "build_inputs", "default_charger_factory", "next_tick",
           "wall_clock", "wall_sleep"]
