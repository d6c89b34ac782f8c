"""Guard invariants over random proposals: whatever the rules ask, what is sent is safe."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from evse_rules.chargers.simulated import SimulatedCharger
from evse_rules.engine import ChargerSettings, CommandKind, Engine
from evse_rules.language.program import ProposedAction, Value
from evse_rules.simulate import apply_command
from tests.engine_fakes import SET_AMPS, START, STOP, T0, FakeProgram, action

proposal = st.one_of(
    st.none(),
    st.just("start"),
    st.just("stop"),
    st.floats(min_value=-10, max_value=80, allow_nan=False),
)


@settings(max_examples=60, deadline=None)
@given(script=st.lists(st.lists(proposal, max_size=3), min_size=1, max_size=60),
       min_amps=st.integers(6, 16), span=st.integers(0, 16),
       min_on=st.sampled_from([0.0, 120.0, 600.0]), min_off=st.sampled_from([0.0, 300.0]),
       vehicle=st.booleans())
def test_what_is_sent_respects_every_guard(script: list[list[object]], min_amps: int,
                                           span: int, min_on: float, min_off: float,
                                           vehicle: bool) -> None:
    max_amps = min(min_amps + span, 32)
    ticks = iter(script)

    def decide(now: datetime, values: list[Value]) -> list[ProposedAction]:
        out = []
        for index, item in enumerate(next(ticks, [])):
            if item == "start":
                out.append(action(START, index))
            elif item == "stop":
                out.append(action(STOP, index))
            elif isinstance(item, float):
                out.append(action(SET_AMPS, index, item))
        return out

    settings_ = ChargerSettings("evse", min_amps=min_amps, max_amps=max_amps, min_on=min_on,
                                min_off=min_off)
    engine = Engine(FakeProgram(decide), [settings_])
    charger = SimulatedCharger(vehicle=vehicle)
    last_start: datetime | None = None
    last_stop: datetime | None = None
    for minute in range(len(script)):
        now = T0 + timedelta(minutes=minute)
        engine.store.set_charger("evse", charger.read_status(), now)
        for command in engine.step(now).commands:
            if command.kind is CommandKind.SET_CURRENT:
                assert command.value is not None and command.value == int(command.value)
                assert min_amps <= command.value <= max_amps
                assert command.value != charger.amps           # never a no-op
            elif command.kind is CommandKind.START:
                assert vehicle and not charger.enabled
                assert last_stop is None or (now - last_stop).total_seconds() >= min_off
                last_start = now
            elif command.kind is CommandKind.STOP:
                assert charger.enabled
                assert last_start is None or (now - last_start).total_seconds() >= min_on
                last_stop = now
            apply_command(charger, command.kind, command.value)
            engine.commit(command, ok=True)
