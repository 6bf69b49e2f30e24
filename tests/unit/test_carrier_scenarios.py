"""Simulated debtor lines rendered to carrier dialplan, and Scenario validation."""

from __future__ import annotations

import re

import pytest

from engine.call.causes import Disposition, disposition_for
from engine.lab.carrier import (
    MACHINE_GREETING,
    AwaitPrompt,
    Network,
    Pause,
    Say,
    Scenario,
    render_scenarios,
)


class Sounds:
    """sound_for stand-in: names each phrase by its position and records what was asked."""

    def __init__(self) -> None:
        self.asked: list[Say] = []

    def __call__(self, say: Say) -> str:
        self.asked.append(say)
        return f"sounds/say-{len(self.asked)}"


def steps_of(text: str, number: str) -> list[str]:
    """The priority-n steps rendered for one extension, in order."""
    lines = text.splitlines()
    start = lines.index(next(line for line in lines if line.startswith(f"exten => {number},1,")))
    steps = []
    for line in lines[start + 1:]:
        if not line.startswith(" same => n,"):
            break
        steps.append(line.removeprefix(" same => n,"))
    return steps


def test_file_header_and_first_priority() -> None:
    """Steps: render one BUSY scenario.
    Expected: comment, [carrier-scenarios] context, priority 1 is a Verbose naming the
    network, file ends with a newline."""
    text = render_scenarios([Scenario("861000", Network.BUSY)], Sounds())
    lines = text.splitlines()
    assert lines[0].startswith(";")
    assert lines[1] == "[carrier-scenarios]"
    assert lines[2] == "exten => 861000,1,Verbose(2,scenario busy)"
    assert text.endswith("\n")


@pytest.mark.parametrize(("scenario", "expected"), [
    (Scenario("100", Network.BUSY, ring_s=2), ["Ringing()", "Wait(2)", "Busy(5)", "Hangup(17)"]),
    (Scenario("101", Network.BUSY, ring_s=None), ["Hangup(17)"]),
    (Scenario("102", Network.CONGESTION, ring_s=0.5), ["Progress()", "Wait(0.5)", "Hangup(34)"]),
    (Scenario("103", Network.INVALID), ["Hangup(1)"]),
    (Scenario("104", Network.REJECT, ring_s=3), ["Ringing()", "Wait(3)", "Hangup(21)"]),
    (Scenario("105", Network.NO_ANSWER, ring_s=25), ["Ringing()", "Wait(25)", "Hangup(19)"]),
    (Scenario("106", Network.NO_ANSWER, ring_s=None), ["Ringing()", "Wait(600)", "Hangup(19)"]),
    (Scenario("107", Network.ANSWER, ring_s=1.0, hold_s=0.0),
     ["Ringing()", "Wait(1)", "Answer()", "Wait(0)", "Hangup(16)"]),
    (Scenario("108", Network.ANSWER, ring_s=1, hold_s=None),
     ["Ringing()", "Wait(1)", "Answer()", "Wait(600)", "Hangup(16)"]),
], ids=lambda v: v.network.value + "-" + v.number if isinstance(v, Scenario) else "")
def test_network_verdict_steps(scenario: Scenario, expected: list[str]) -> None:
    """Steps: render one scenario per network behaviour.
    Expected: exactly the dialplan steps for that behaviour, seconds without trailing .0."""
    assert steps_of(render_scenarios([scenario], Sounds()), scenario.number) == expected


def test_answered_script_plays_phrases_in_order() -> None:
    """Steps: ANSWER with Say, Pause(1.5), Say and hold 2 s.
    Expected: Playback of each phrase (from sound_for, in order), Wait(1.5) between them,
    then Wait(2) and Hangup(16)."""
    sounds = Sounds()
    hello, bye = Say("Hello?"), Say("Bye", voice="zh")
    scenario = Scenario("200", Network.ANSWER, ring_s=1, script=(hello, Pause(1.5), bye), hold_s=2)
    steps = steps_of(render_scenarios([scenario], sounds), "200")
    assert steps == ["Ringing()", "Wait(1)", "Answer()", "Playback(sounds/say-1)", "Wait(1.5)",
                     "Playback(sounds/say-2)", "Wait(2)", "Hangup(16)"]
    assert sounds.asked == [hello, bye]


def test_a_person_waits_for_each_prompt_before_answering() -> None:
    """Steps: ANSWER where the person waits for a prompt to end, answers, then waits for
    the next prompt only to start and talks over it; the line stays open.
    Expected: WaitForNoise (0.4 s of the caller's voice, so a click is no prompt) then
    WaitForSilence (1.2 s) before the first answer; WaitForNoise alone before the second."""
    yes, friday = Say("네", voice="ko"), Say("금요일", voice="ko")
    scenario = Scenario("300", Network.ANSWER, ring_s=None, hold_s=None, script=(
        AwaitPrompt(), yes, AwaitPrompt(silence_s=None), friday))
    steps = steps_of(render_scenarios([scenario], Sounds()), "300")
    assert steps == ["Ringing()", "Answer()", "WaitForNoise(400,1,30)",
                     "WaitForSilence(1200,1,30)", "Playback(sounds/say-1)",
                     "WaitForNoise(400,1,30)", "Playback(sounds/say-2)", "Wait(600)",
                     "Hangup(16)"]


def test_answering_machine_greets_then_beeps() -> None:
    """Steps: MACHINE with no script. Expected: after Answer a short pause, the machine
    greeting, the beep tone (PlayTones/Wait/StopPlayTones), the hold, then Hangup(16)."""
    sounds = Sounds()
    steps = steps_of(render_scenarios([Scenario("300", Network.MACHINE, hold_s=5)], sounds), "300")
    assert steps == ["Ringing()", "Wait(1)", "Answer()", "Wait(0.3)", "Playback(sounds/say-1)",
                     "PlayTones(1000/600)", "Wait(0.6)", "StopPlayTones()", "Wait(5)",
                     "Hangup(16)"]
    assert sounds.asked == [MACHINE_GREETING]


def test_several_scenarios_each_get_their_extension() -> None:
    """Steps: render three scenarios. Expected: three extensions in the given order."""
    scenarios = [Scenario("3", Network.INVALID), Scenario("1", Network.BUSY),
                 Scenario("2", Network.ANSWER)]
    text = render_scenarios(scenarios, Sounds())
    assert re.findall(r"^exten => (\d+),1,", text, flags=re.M) == ["3", "1", "2"]


def test_duplicate_numbers_are_rejected() -> None:
    """Steps: two scenarios for the same number. Expected: ValueError before rendering."""
    sounds = Sounds()
    with pytest.raises(ValueError, match="same number"):
        render_scenarios([Scenario("1", Network.ANSWER, script=(Say("x"),)),
                          Scenario("1", Network.BUSY)], sounds)
    assert sounds.asked == []


@pytest.mark.parametrize("number", ["", "+8613800000000", "138 0000", "12a", "1_2", "١٢٣", "12³"])
def test_scenario_number_must_be_ascii_digits(number: str) -> None:
    """Steps: build a Scenario with a number that is not plain 0-9 digits (incl. Arabic-Indic
    and superscript digits, which str.isdigit accepts). Expected: ValueError — such an
    extension could never match a dialled number."""
    with pytest.raises(ValueError, match="digits only"):
        Scenario(number, Network.ANSWER)


@pytest.mark.parametrize(("network", "expected"), [
    (Network.BUSY, Disposition.BUSY),
    (Network.CONGESTION, Disposition.CONGESTION),
    (Network.INVALID, Disposition.INVALID_NUMBER),
    (Network.REJECT, Disposition.REJECTED),
    (Network.NO_ANSWER, Disposition.NO_ANSWER),
])
def test_unanswered_scenarios_end_with_the_cause_of_their_disposition(
        network: Network, expected: Disposition) -> None:
    """Steps: render each unanswered network and read its Hangup(cause).
    Expected: that cause maps to the disposition the scenario simulates, so lab tests that
    use a scenario can assert the engine's disposition."""
    steps = steps_of(render_scenarios([Scenario("9", network)], Sounds()), "9")
    cause = int(re.fullmatch(r"Hangup\((\d+)\)", steps[-1]).group(1))  # type: ignore[union-attr]
    assert disposition_for(answered=False, cause=cause, we_hung_up=False) is expected
