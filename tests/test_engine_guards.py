"""Arbitration and every guard, driven by a scripted program (no rules language needed)."""

from __future__ import annotations

from evse_rules.chargers.base import ChargerState
from evse_rules.engine import ChargerSettings, CommandKind, Engine, Guard, StepResult
from evse_rules.language.program import (
    ActionKind,
    Kind,
    ProposedAction,
    ValueType,
    VariableDecl,
)
from tests.engine_fakes import (
    LOG,
    SET_AMPS,
    SET_MODE,
    SET_VAR,
    START,
    STOP,
    T0,
    FakeProgram,
    action,
    charger_props,
    inputs,
    minutes,
    scripted,
    status,
)


def engine_with(*ticks: list[ProposedAction], settings: ChargerSettings | None = None,
                state: ChargerState = ChargerState.DISABLED, vehicle: bool = True) -> Engine:
    engine = Engine(FakeProgram(scripted(*ticks)), [settings or ChargerSettings("evse")])
    engine.store.set_charger("evse", status(state, vehicle=vehicle), T0)
    return engine


def sent(result: StepResult) -> list[tuple[str, float | None]]:
    return [(c.kind.value, c.value) for c in result.commands]


def run_and_commit(engine: Engine, at: int) -> StepResult:
    result = engine.step(minutes(at))
    for command in result.commands:
        engine.commit(command, ok=True)
    return result


def test_last_writer_wins_and_losers_name_the_winner() -> None:
    first, second, third = action(SET_AMPS, 0, 10.0), action(SET_AMPS, 1, 12.0), \
        action(SET_AMPS, 2, 16.0)
    engine = engine_with([first, action(START, 3), second, action(STOP, 4), third])
    result = engine.step(T0)
    assert [(c.kind, c.value, c.reason.rule) for c in result.commands] == [
        (CommandKind.SET_CURRENT, 16.0, third.rule)]
    assert [(lost.action.rule.index, lost.beaten_by.rule.index) for lost in result.lost] == [
        (0, 2), (1, 2), (3, 4)]
    assert [h.guard for h in result.held] == [Guard.UNCHANGED]   # stop: already disabled


def test_amps_round_down_and_clamp() -> None:
    engine = engine_with([action(SET_AMPS, value=15.999)], [action(SET_AMPS, value=16.0000001)],
                         [action(SET_AMPS, value=40.0)], [action(SET_AMPS, value=3.2)])
    assert sent(run_and_commit(engine, 0)) == [("set_current", 15.0)]
    assert sent(run_and_commit(engine, 1)) == [("set_current", 16.0)]
    clamped = run_and_commit(engine, 2)
    assert sent(clamped) == [("set_current", 32.0)]
    assert clamped.adjusted[0].why == "clamped 40 A to 32 A"
    assert "clamped 40 A to 32 A" in str(clamped.commands[0].reason)
    assert sent(run_and_commit(engine, 3)) == [("set_current", 6.0)]


def test_amps_clamped_to_configured_and_hard_limits() -> None:
    engine = Engine(FakeProgram(scripted([action(SET_AMPS, value=30.0)])),
                    [ChargerSettings("evse", max_amps=25)])
    engine.store.set_charger("evse", status(max_amps=20.0), T0)
    assert sent(engine.step(T0)) == [("set_current", 20.0)]


def test_unchanged_current_is_not_sent() -> None:
    engine = engine_with([action(SET_AMPS, value=6.0)], [action(SET_AMPS, value=10.0)],
                         [action(SET_AMPS, value=10.0)])
    first = run_and_commit(engine, 0)      # the status already says 6 A
    assert first.commands == [] and first.held[0].guard is Guard.UNCHANGED
    assert sent(run_and_commit(engine, 1)) == [("set_current", 10.0)]
    assert run_and_commit(engine, 2).commands == []   # what we sent is newer than the status


def test_failed_command_is_tried_again() -> None:
    engine = engine_with([action(SET_AMPS, value=10.0)], [action(SET_AMPS, value=10.0)])
    result = engine.step(minutes(0))
    engine.commit(result.commands[0], ok=False, error="timeout")
    assert sent(engine.step(minutes(1))) == [("set_current", 10.0)]


def test_no_start_without_vehicle_unless_configured() -> None:
    engine = engine_with([action(START)], vehicle=False)
    result = engine.step(T0)
    assert result.commands == [] and result.held[0].guard is Guard.NO_VEHICLE
    assert result.held[0].why == "no vehicle"
    allowed = engine_with([action(START)], vehicle=False,
                          settings=ChargerSettings("evse", start_without_vehicle=True))
    assert sent(allowed.step(T0)) == [("start", None)]


def test_min_on_holds_a_stop_then_lets_it_through() -> None:
    engine = engine_with([action(START)], [action(STOP)], [action(STOP)],
                         settings=ChargerSettings("evse", min_on=600.0, min_off=0.0))
    assert sent(run_and_commit(engine, 0)) == [("start", None)]
    early = run_and_commit(engine, 4)
    assert early.commands == []
    assert early.held[0].guard is Guard.MIN_ON
    assert early.held[0].why == "min_on 10 min not reached (running 4 min)"
    assert sent(run_and_commit(engine, 10)) == [("stop", None)]


def test_min_off_holds_a_start_then_lets_it_through() -> None:
    engine = engine_with([action(STOP)], [action(START)], [action(START)],
                         settings=ChargerSettings("evse", min_on=0.0, min_off=300.0),
                         state=ChargerState.CHARGING)
    assert sent(run_and_commit(engine, 0)) == [("stop", None)]
    early = run_and_commit(engine, 2)
    assert early.held[0].guard is Guard.MIN_OFF
    assert early.held[0].why == "min_off 5 min not reached (stopped 2 min ago)"
    assert sent(run_and_commit(engine, 5)) == [("start", None)]


def test_guard_state_changes_only_on_success() -> None:
    engine = engine_with([action(START)], [action(STOP)],
                         settings=ChargerSettings("evse", min_on=600.0))
    result = engine.step(minutes(0))
    engine.commit(result.commands[0], ok=False, error="refused")
    # The failed start left no minimum on-time behind: once the charger runs anyway (started
    # by hand), a stop goes through at once.
    engine.store.set_charger("evse", status(ChargerState.CHARGING), minutes(1))
    assert sent(engine.step(minutes(1))) == [("stop", None)]


def test_stop_first_and_current_before_start() -> None:
    engine = engine_with([action(START, 0), action(SET_AMPS, 1, 10.0)])
    assert sent(engine.step(T0)) == [("set_current", 10.0), ("start", None)]
    stopping = engine_with([action(SET_AMPS, 0, 10.0), action(STOP, 1)],
                           state=ChargerState.CHARGING)
    assert sent(stopping.step(T0)) == [("stop", None), ("set_current", 10.0)]


def test_unknown_value_and_offline_charger_are_held() -> None:
    engine = engine_with([action(SET_AMPS, value=None)])
    assert engine.step(T0).held[0].guard is Guard.NO_VALUE
    offline = engine_with([action(START)], state=ChargerState.OFFLINE)
    assert offline.step(T0).held[0].guard is Guard.OFFLINE


def test_mode_is_read_by_rules_not_a_guard() -> None:
    engine = Engine(FakeProgram(scripted([action(SET_MODE, value="auto"), action(START)]),
                                externals=charger_props("mode")),
                    [ChargerSettings("evse", initial_mode="manual")])
    engine.store.set_charger("evse", status(ChargerState.DISABLED), T0)
    result = engine.step(T0)
    assert [(m.old, m.new) for m in result.mode_changes] == [("manual", "auto")]
    assert sent(result) == [("start", None)]     # a start in manual mode is still sent
    assert engine.store.values == ["auto"]


def test_variables_logs_and_fired_are_reported() -> None:
    program = FakeProgram(scripted([action(SET_VAR, 0, 5.0, charger=None, name="count"),
                                    action(LOG, 1, "hello", charger=None)]),
                          variables=(VariableDecl("count", ValueType(Kind.NUMBER), None),))
    engine = Engine(program, [ChargerSettings("evse")])
    result = engine.step(T0)
    assert [(v.name, v.old, v.new) for v in result.var_changes] == [("count", None, 5.0)]
    assert [log.value for log in result.logs] == ["hello"]
    assert [r.index for r in result.fired] == [0, 1]


def test_reference_voltage_only_when_it_differs() -> None:
    engine = Engine(FakeProgram(externals=inputs("grid")),
                    [ChargerSettings("evse", voltage="grid")])
    engine.store.set_charger("evse", status(voltage=230.0), T0)
    engine.store.set_input("grid", 230.2, T0)
    assert engine.step(T0).commands == []
    engine.store.set_input("grid", 236.0, minutes(1))
    result = engine.step(minutes(1))
    assert sent(result) == [("set_voltage", 236.0)]
    engine.commit(result.commands[0], ok=True)
    assert engine.step(minutes(1)).commands == []
    fixed = Engine(FakeProgram(), [ChargerSettings("evse", voltage=240.0)])
    fixed.store.set_charger("evse", status(voltage=230.0), T0)
    assert [c.kind for c in fixed.step(T0).commands] == [CommandKind.SET_VOLTAGE]


def test_replace_program_keeps_store_and_guard_state() -> None:
    engine = engine_with([action(START)], settings=ChargerSettings("evse", min_on=600.0))
    run_and_commit(engine, 0)
    engine.store.set_mode("evse", "auto")
    engine.replace_program(FakeProgram(scripted([action(STOP)]), externals=charger_props("mode")))
    assert engine.store.values == ["auto"]
    assert run_and_commit(engine, 1).held[0].guard is Guard.MIN_ON


def test_logs_never_compete() -> None:
    engine = engine_with([action(ActionKind.LOG, 0, "a", charger=None),
                          action(ActionKind.LOG, 0, "b", charger=None)])
    result = engine.step(T0)
    assert [log.value for log in result.logs] == ["a", "b"] and not result.lost


def test_proposal_for_an_unknown_charger_is_held_not_sent() -> None:
    engine = engine_with([action(START, charger="garage"), action(SET_AMPS, 1, 10.0)])
    result = engine.step(T0)
    assert sent(result) == [("set_current", 10.0)]
    assert [(h.guard, h.why) for h in result.held] == [
        (Guard.OFFLINE, "no charger named 'garage' is configured")]


def run_with_status(engine: Engine, at: int, state: ChargerState = ChargerState.CONNECTED,
                    amps: float = 6.0) -> StepResult:
    """Read a status at minute `at` (what the charger reports), then step and commit."""
    engine.store.set_charger("evse", status(state, amps=amps), minutes(at))
    return run_and_commit(engine, at)


def test_current_the_charger_does_not_follow_is_sent_once_per_change() -> None:
    asked = [20.0, 20.0, 20.0, 18.0, 18.0, 18.0, 18.0]
    reported = [16.0, 16.0, 16.0, 16.0, 16.0, 17.0, 17.0]
    engine = engine_with(*[[action(SET_AMPS, value=amps)] for amps in asked])
    results = [run_with_status(engine, at, amps=amps) for at, amps in enumerate(reported)]
    assert [sent(result) for result in results] == [
        [("set_current", 20.0)], [], [], [("set_current", 18.0)], [], [("set_current", 18.0)],
        []]
    assert [(h.guard, h.why) for h in results[1].held] == [(
        Guard.UNCHANGED,
        "unchanged: 20 A was sent at 12:00; the charger keeps 16 A (capped or overridden by "
        "the charger)")]
    assert results[6].held[0].why == ("unchanged: 18 A was sent at 12:05; the charger keeps "
                                      "17 A (capped or overridden by the charger)")


def test_current_sent_again_after_the_charger_was_offline() -> None:
    engine = engine_with(*[[action(SET_AMPS, value=20.0)]] * 4)
    assert sent(run_with_status(engine, 0, amps=16.0)) == [("set_current", 20.0)]
    assert sent(run_with_status(engine, 1, amps=16.0)) == []
    offline = run_with_status(engine, 2, state=ChargerState.OFFLINE, amps=16.0)
    assert offline.held[0].guard is Guard.OFFLINE
    # Back (perhaps restarted, its claims gone): what it keeps now is not known yet.
    assert sent(run_with_status(engine, 3, amps=16.0)) == [("set_current", 20.0)]


def test_current_followed_later_is_not_sent_again() -> None:
    engine = engine_with(*[[action(SET_AMPS, value=20.0)]] * 3)
    assert sent(run_with_status(engine, 0, amps=16.0)) == [("set_current", 20.0)]
    assert sent(run_with_status(engine, 1, amps=16.0)) == []
    followed = run_with_status(engine, 2, amps=20.0)
    assert followed.commands == [] and followed.held[0].why == "unchanged"


def test_failed_current_leaves_nothing_to_hold() -> None:
    engine = engine_with(*[[action(SET_AMPS, value=20.0)]] * 2)
    engine.store.set_charger("evse", status(amps=16.0), minutes(0))
    result = engine.step(minutes(0))
    engine.commit(result.commands[0], ok=False, error="timeout")
    assert sent(run_with_status(engine, 1, amps=16.0)) == [("set_current", 20.0)]


def test_start_the_charger_does_not_follow_is_sent_once() -> None:
    disabled, charging = ChargerState.DISABLED, ChargerState.CHARGING
    engine = engine_with(*[[action(START)]] * 10, [action(STOP)],
                         settings=ChargerSettings("evse", min_on=600.0, min_off=0.0))
    states = [disabled] * 4 + [ChargerState.SLEEPING] * 4 + [charging] * 3
    results = [run_with_status(engine, at, state=state) for at, state in enumerate(states)]
    assert [sent(result) for result in results] == [[("start", None)]] + [[]] * 9 + [
        [("stop", None)]]
    assert [(h.guard, h.why) for h in results[1].held] == [(
        Guard.UNCHANGED, "unchanged: start was sent at 12:00; the charger stays disabled "
        "(overridden?)")]
    assert results[8].held[0].why == "unchanged: already started"
    # The held starts did not restart the minimum on-time: it counts from minute 0.
    assert results[10].held == ()


def test_stop_the_charger_does_not_follow_is_sent_once() -> None:
    engine = engine_with(*[[action(STOP)]] * 3,
                         settings=ChargerSettings("evse", min_on=0.0), state=ChargerState.CHARGING)
    results = [run_with_status(engine, at, state=ChargerState.CHARGING) for at in range(3)]
    assert [sent(result) for result in results] == [[("stop", None)], [], []]
    assert results[2].held[0].why == ("unchanged: stop was sent at 12:00; the charger stays "
                                      "charging (overridden?)")


def test_a_change_between_proposals_lets_the_same_command_through() -> None:
    # Someone changes what the charger keeps while the rules ask nothing of it; when it is
    # back where it was, asking again may change something: the command is sent again.
    engine = engine_with([action(SET_AMPS, value=20.0), action(START)],
                         [action(SET_AMPS, value=20.0), action(START)], [],
                         [action(SET_AMPS, value=20.0), action(START)],
                         settings=ChargerSettings("evse", min_on=0.0, min_off=0.0))
    disabled = ChargerState.DISABLED
    assert sent(run_with_status(engine, 0, disabled, amps=16.0)) == [
        ("set_current", 20.0), ("start", None)]
    assert sent(run_with_status(engine, 1, disabled, amps=16.0)) == []
    assert sent(run_with_status(engine, 2, ChargerState.CHARGING, amps=17.0)) == []
    assert sent(run_with_status(engine, 3, disabled, amps=16.0)) == [
        ("set_current", 20.0), ("start", None)]
