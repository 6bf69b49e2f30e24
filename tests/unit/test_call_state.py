"""The pure call state machine: every phase × every event, the happy and unhappy paths."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.call.causes import Disposition
from engine.call.state import (
    CallState,
    ChannelAnswered,
    ChannelEnded,
    ChannelRinging,
    ChannelVanished,
    Command,
    DialRequested,
    Event,
    Finalize,
    Hangup,
    HangupRequested,
    Originate,
    OriginateFailed,
    Persist,
    Phase,
    StartFlow,
    transition,
)

T0 = datetime(2026, 11, 28, 11, 26, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


EVENTS: dict[str, Event] = {
    "dial": DialRequested(at=at(10)),
    "fail_retryable": OriginateFailed(at=at(10), error="ARI timeout", retryable=True),
    "fail_final": OriginateFailed(at=at(10), error="ARI 400: bad endpoint", retryable=False),
    "ringing": ChannelRinging(at=at(10)),
    "answered": ChannelAnswered(at=at(10)),
    "hangup_req": HangupRequested(at=at(10), reason="operator"),
    "ended": ChannelEnded(at=at(10), cause=17, cause_text="User busy"),
    "vanished": ChannelVanished(at=at(10)),
}


def drive(*events: Event, state: CallState | None = None) -> tuple[CallState, list[Command]]:
    """Feed events in order from a fresh state; return the last state and all commands."""
    state = state or CallState(attempt_id="a-1")
    commands: list[Command] = []
    for event in events:
        state, out = transition(state, event)
        commands += out
    return state, commands


# One realistic state per phase, reached by driving the machine (not by construction).
STATES: dict[Phase, CallState] = {
    Phase.INTENT: drive()[0],
    Phase.ORIGINATING: drive(DialRequested(at(0)))[0],
    Phase.RINGING: drive(DialRequested(at(0)), ChannelRinging(at(1)))[0],
    Phase.ANSWERED: drive(DialRequested(at(0)), ChannelRinging(at(1)), ChannelAnswered(at(2)))[0],
    Phase.HANGING_UP: drive(DialRequested(at(0)), ChannelRinging(at(1)),
                            HangupRequested(at(2), "operator"))[0],
    Phase.FINAL: drive(DialRequested(at(0)), ChannelEnded(at(1), cause=17))[0],
}

NOOP = None
# (phase, event) → (next phase, command types, final disposition) or NOOP.
TABLE: dict[tuple[Phase, str], tuple[Phase, tuple[type, ...], Disposition | None] | None] = {
    (Phase.INTENT, "dial"): (Phase.ORIGINATING, (Persist, Originate), None),
    (Phase.INTENT, "fail_retryable"): NOOP,
    (Phase.INTENT, "fail_final"): NOOP,
    (Phase.INTENT, "ringing"): NOOP,
    (Phase.INTENT, "answered"): NOOP,
    (Phase.INTENT, "hangup_req"): (Phase.FINAL, (Finalize,), Disposition.CANCELLED),
    (Phase.INTENT, "ended"): NOOP,
    (Phase.INTENT, "vanished"): NOOP,
    (Phase.ORIGINATING, "dial"): NOOP,
    (Phase.ORIGINATING, "fail_retryable"): (Phase.ORIGINATING, (Persist, Originate), None),
    (Phase.ORIGINATING, "fail_final"): (Phase.FINAL, (Finalize,), Disposition.FAILED),
    (Phase.ORIGINATING, "ringing"): (Phase.RINGING, (Persist,), None),
    (Phase.ORIGINATING, "answered"): (Phase.ANSWERED, (Persist, StartFlow), None),
    (Phase.ORIGINATING, "hangup_req"): (Phase.HANGING_UP, (Persist, Hangup), None),
    (Phase.ORIGINATING, "ended"): (Phase.FINAL, (Finalize,), Disposition.BUSY),
    (Phase.ORIGINATING, "vanished"): (Phase.FINAL, (Finalize,), Disposition.LOST),
    (Phase.RINGING, "dial"): NOOP,
    (Phase.RINGING, "fail_retryable"): NOOP,
    (Phase.RINGING, "fail_final"): NOOP,
    (Phase.RINGING, "ringing"): NOOP,
    (Phase.RINGING, "answered"): (Phase.ANSWERED, (Persist, StartFlow), None),
    (Phase.RINGING, "hangup_req"): (Phase.HANGING_UP, (Persist, Hangup), None),
    (Phase.RINGING, "ended"): (Phase.FINAL, (Finalize,), Disposition.BUSY),
    (Phase.RINGING, "vanished"): (Phase.FINAL, (Finalize,), Disposition.LOST),
    (Phase.ANSWERED, "dial"): NOOP,
    (Phase.ANSWERED, "fail_retryable"): NOOP,
    (Phase.ANSWERED, "fail_final"): NOOP,
    (Phase.ANSWERED, "ringing"): NOOP,
    (Phase.ANSWERED, "answered"): NOOP,
    (Phase.ANSWERED, "hangup_req"): (Phase.HANGING_UP, (Persist, Hangup), None),
    (Phase.ANSWERED, "ended"): (Phase.FINAL, (Finalize,), Disposition.ANSWERED),
    (Phase.ANSWERED, "vanished"): (Phase.FINAL, (Finalize,), Disposition.ANSWERED),
    (Phase.HANGING_UP, "dial"): NOOP,
    (Phase.HANGING_UP, "fail_retryable"): NOOP,
    (Phase.HANGING_UP, "fail_final"): NOOP,
    (Phase.HANGING_UP, "ringing"): NOOP,
    (Phase.HANGING_UP, "answered"): NOOP,
    (Phase.HANGING_UP, "hangup_req"): NOOP,
    (Phase.HANGING_UP, "ended"): (Phase.FINAL, (Finalize,), Disposition.CANCELLED),
    (Phase.HANGING_UP, "vanished"): (Phase.FINAL, (Finalize,), Disposition.CANCELLED),
    **{(Phase.FINAL, name): NOOP for name in EVENTS},
}


def test_table_covers_every_phase_and_event() -> None:
    """Steps: list the table's keys. Expected: exactly every Phase × every event kind."""
    assert set(TABLE) == {(phase, name) for phase in Phase for name in EVENTS}
    assert {s.phase for s in STATES.values()} == set(Phase)
    assert all(STATES[phase].phase is phase for phase in Phase)


@pytest.mark.parametrize(("phase", "name"), sorted(TABLE), ids=lambda v: str(v))
def test_transition_table(phase: Phase, name: str) -> None:
    """Steps: apply one event to the representative state of one phase.

    Expected: unexpected events are no-ops (same state object, no commands); the others reach
    the tabled phase with exactly the tabled command types and, when final, disposition.
    """
    state, event = STATES[phase], EVENTS[name]
    new, commands = transition(state, event)
    expected = TABLE[(phase, name)]
    if expected is NOOP:
        assert new is state
        assert commands == ()
        return
    next_phase, command_types, disposition = expected
    assert new.phase is next_phase
    assert tuple(type(c) for c in commands) == command_types
    assert new.disposition == disposition
    if disposition is not None:
        final = commands[-1]
        assert isinstance(final, Finalize)
        assert final.disposition == disposition
        assert new.ended_at == event.at


@pytest.mark.parametrize(("phase", "name"), sorted(TABLE), ids=lambda v: str(v))
def test_persist_comes_before_network_actions(phase: Phase, name: str) -> None:
    """Steps: apply each (phase, event). Expected: every Persist precedes every Originate and
    Hangup in the commands, so the database knows at least what Asterisk is told."""
    _, commands = transition(STATES[phase], EVENTS[name])
    kinds = [type(c) for c in commands]
    persists = [i for i, k in enumerate(kinds) if k is Persist]
    actions = [i for i, k in enumerate(kinds) if k in (Originate, Hangup)]
    if actions:
        assert persists, f"{phase}/{name}: network action without a Persist"
        assert max(persists) < min(actions)


def test_happy_path_answered_call() -> None:
    """Steps: dial, ringing, answered, channel ended (cause 16).

    Expected: phases intent→originating→ringing→answered→final, each time stamped once,
    one Originate (try 1), one StartFlow, and Finalize(answered, cause 16).
    """
    state = CallState(attempt_id="a-1")
    phases = [state.phase]
    commands: list[Command] = []
    for event in (DialRequested(at(0)), ChannelRinging(at(1)), ChannelAnswered(at(2)),
                  ChannelEnded(at(60), cause=16, cause_text="Normal Clearing")):
        state, out = transition(state, event)
        phases.append(state.phase)
        commands += out
    assert phases == [Phase.INTENT, Phase.ORIGINATING, Phase.RINGING, Phase.ANSWERED, Phase.FINAL]
    assert (state.originated_at, state.ringing_at, state.answered_at, state.ended_at) == (
        at(0), at(1), at(2), at(60))
    assert [c for c in commands if isinstance(c, Originate)] == [Originate(try_number=1)]
    assert sum(isinstance(c, StartFlow) for c in commands) == 1
    assert commands[-1] == Finalize(Disposition.ANSWERED, at(60), 16, "Normal Clearing")
    assert [c.event for c in commands if isinstance(c, Persist)] == [
        "originate", "ringing", "answered"]
    assert state.is_final and not state.is_live


@pytest.mark.parametrize(("cause", "disposition"), [
    (17, Disposition.BUSY),
    (19, Disposition.NO_ANSWER),
    (18, Disposition.NO_ANSWER),
    (34, Disposition.CONGESTION),
    (1, Disposition.INVALID_NUMBER),
    (21, Disposition.REJECTED),
    (20, Disposition.UNREACHABLE),
])
def test_unanswered_endings_from_ringing(cause: int, disposition: Disposition) -> None:
    """Steps: dial, ringing, ChannelEnded with a Q.850 cause. Expected: final with the
    cause's disposition, the cause carried on Finalize, answered_at never set."""
    state, commands = drive(DialRequested(at(0)), ChannelRinging(at(1)),
                            ChannelEnded(at(20), cause=cause, cause_text="x"))
    assert state.phase is Phase.FINAL
    assert state.disposition is disposition
    assert state.answered_at is None
    assert commands[-1] == Finalize(disposition, at(20), cause, "x")


@pytest.mark.parametrize("max_tries", [1, 3, 5])
def test_retryable_originate_failures_retry_up_to_max_then_fail(max_tries: int) -> None:
    """Steps: dial, then a retryable OriginateFailed after every Originate.

    Expected: exactly max_tries Originate commands numbered 1..max, each preceded by its
    Persist; then final FAILED carrying the last error, with no further Originate.
    """
    state = CallState(attempt_id="a-1", max_originate_tries=max_tries)
    state, commands = transition(state, DialRequested(at(0)))
    all_commands = list(commands)
    for n in range(1, max_tries + 1):
        assert state.phase is Phase.ORIGINATING
        state, commands = transition(
            state, OriginateFailed(at(n), error=f"timeout {n}", retryable=True))
        all_commands += commands
    assert [c.try_number for c in all_commands if isinstance(c, Originate)] == list(
        range(1, max_tries + 1))
    assert [dict(c.detail)["try"] for c in all_commands if isinstance(c, Persist)] == [
        str(n) for n in range(1, max_tries + 1)]
    assert state.phase is Phase.FINAL and state.disposition is Disposition.FAILED
    assert all_commands[-1] == Finalize(Disposition.FAILED, at(max_tries), None, None,
                                        f"timeout {max_tries}")


def test_non_retryable_originate_failure_is_final_at_once() -> None:
    """Steps: dial (tries left: 2 more), then OriginateFailed(retryable=False).
    Expected: final FAILED immediately, only Finalize with the error, no second Originate."""
    state, _ = drive(DialRequested(at(0)))
    state, commands = transition(state, OriginateFailed(at(1), "ARI 400: no", retryable=False))
    assert state.phase is Phase.FINAL and state.originate_tries == 1
    assert commands == (Finalize(Disposition.FAILED, at(1), None, None, "ARI 400: no"),)


def test_hangup_requested_while_ringing_then_channel_ended_is_cancelled() -> None:
    """Steps: dial, ringing, HangupRequested("campaign_stopped"), ChannelEnded(cause 16).

    Expected: the hangup gives Persist(hanging_up, reason) then Hangup; a second request is
    ignored; the end is CANCELLED (we hung up before answer), not NO_ANSWER.
    """
    state, _ = drive(DialRequested(at(0)), ChannelRinging(at(1)))
    state, commands = transition(state, HangupRequested(at(2), "campaign_stopped"))
    assert commands == (
        Persist(Phase.HANGING_UP, at(2), "hangup_requested", (("reason", "campaign_stopped"),)),
        Hangup("campaign_stopped"))
    again, repeat = transition(state, HangupRequested(at(3), "again"))
    assert again is state and repeat == ()
    state, commands = transition(state, ChannelEnded(at(4), cause=16))
    assert state.disposition is Disposition.CANCELLED
    assert commands == (Finalize(Disposition.CANCELLED, at(4), 16, None),)


def test_hangup_requested_in_intent_is_final_without_originating() -> None:
    """Steps: HangupRequested before any dial, then a late DialRequested.
    Expected: final CANCELLED with a 'never dialled' error; the late dial is a no-op."""
    state, commands = drive(HangupRequested(at(0), "draining"), DialRequested(at(1)))
    assert state.phase is Phase.FINAL and state.originate_tries == 0
    assert commands == [Finalize(Disposition.CANCELLED, at(0), None, None, "never dialled")]


def test_events_after_final_are_no_ops() -> None:
    """Steps: reach final (busy), then feed every event kind.
    Expected: each returns the very same state and no commands; disposition stays BUSY."""
    final = STATES[Phase.FINAL]
    assert final.disposition is Disposition.BUSY
    for event in EVENTS.values():
        assert transition(final, event) == (final, ())


def test_duplicate_answer_gives_one_start_flow() -> None:
    """Steps: dial, ChannelAnswered (from ChannelStateChange Up), ChannelAnswered again (from
    StasisStart). Expected: one StartFlow, answered_at keeps the first time."""
    state, commands = drive(DialRequested(at(0)), ChannelAnswered(at(1)), ChannelAnswered(at(2)))
    assert sum(isinstance(c, StartFlow) for c in commands) == 1
    assert state.answered_at == at(1) and state.phase is Phase.ANSWERED


def test_channel_vanished_while_answered_is_answered() -> None:
    """Steps: dial, answered, ChannelVanished (reconciliation found no channel).
    Expected: final ANSWERED (not lost), with the vanished error text and no cause."""
    state, commands = drive(DialRequested(at(0)), ChannelAnswered(at(1)), ChannelVanished(at(9)))
    assert state.disposition is Disposition.ANSWERED
    final = commands[-1]
    assert isinstance(final, Finalize) and final.cause is None
    assert final.error is not None and "vanished" in final.error


def test_live_phases() -> None:
    """Steps: read is_live/is_final for each phase. Expected: live exactly while Asterisk may
    hold a channel (originating..hanging_up); final only in FINAL."""
    live = {phase for phase, s in STATES.items() if s.is_live}
    assert live == {Phase.ORIGINATING, Phase.RINGING, Phase.ANSWERED, Phase.HANGING_UP}
    assert [p for p, s in STATES.items() if s.is_final] == [Phase.FINAL]
