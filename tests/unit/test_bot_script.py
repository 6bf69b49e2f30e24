"""Dialogue scripts: loading (errors name the file and the key path) and the lint rules."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from ari_apps.bot.script import DEFAULT_BANNED, ScriptError, lint, load_script, parse_script

PACKS = Path(__file__).parents[2] / "ari_apps" / "bot" / "scripts"

BASE: dict[str, Any] = {
    "language": "en",
    "institution": "Acme",
    "on_behalf_of": "Acme",
    "callback_number": "555-0100",
    "max_turns": 5,
    "start": "greeting",
    "on_max_turns": "bye",
    "defaults": {
        "no_input": {"retries": 1, "then": "bye"},
        "no_match": {"retries": 1, "reprompt": "Sorry?", "then": "bye"},
    },
    "nodes": {
        "greeting": {
            "say": "This is {institution}. This call is recorded. Are you {name}?",
            "recording_notice": True,
            "listen": {
                "yes": {"phrases": ["yes"], "identity": "confirmed", "next": "disclosure"},
                "no": {"phrases": ["no"], "identity": "wrong_party", "next": "wrong"},
            },
        },
        "disclosure": {
            "say": "You owe {amount}. When can you pay?",
            "listen": {
                "promise": {"phrases": ["friday"], "slot": "promise_date", "next": "thanks"},
            },
        },
        "thanks": {"say": "Thank you, until {promise_date}.", "end": "hangup"},
        "wrong": {"say": "Sorry to bother you.", "end": "hangup"},
        "bye": {"say": "Goodbye.", "end": "hangup"},
    },
    "faq": {"how": {"phrases": ["how do i pay"], "answer": "By {payment_channels}."}},
}


def base() -> dict[str, Any]:
    return copy.deepcopy(BASE)


def write(tmp_path: Path, data: dict[str, Any] | str, name: str = "test.yaml") -> Path:
    path = tmp_path / name
    text = (
        data if isinstance(data, str) else yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    )
    path.write_text(text, encoding="utf-8")
    return path


def problems(data: dict[str, Any], banned: list[str] | None = None) -> list[str]:
    script = parse_script(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    return [str(problem) for problem in lint(script, banned)]


def load_error(tmp_path: Path, data: dict[str, Any] | str) -> str:
    with pytest.raises(ScriptError) as caught:
        load_script(write(tmp_path, data))
    return str(caught.value)


# -- the packs ------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["zh", "en", "ko"])
def test_each_pack_loads_without_problems(language: str) -> None:
    """Load scripts/<language>.yaml → no lint problem, the pack's language."""
    script = load_script(PACKS / f"{language}.yaml")
    assert script.language == language
    assert script.nodes[script.start].recording_notice
    assert script.faq


def test_base_script_is_clean() -> None:
    """The fixture every other test breaks → no problems."""
    assert problems(base()) == []


# -- loading errors ---------------------------------------------------------------------


def test_yaml_syntax_error_names_file_line_and_node(tmp_path: Path) -> None:
    """A broken line inside nodes.greeting → `test.yaml: line N, ... (in nodes.greeting...)`."""
    text = yaml.safe_dump(base(), sort_keys=False).replace(
        "say: This is {institution}.", 'say: "This is {institution}." oops: ['
    )
    message = load_error(tmp_path, text)
    assert message.startswith("test.yaml: line ")
    assert "(in nodes.greeting" in message
    assert "YAML syntax" in message
    assert "Traceback" not in message


def test_unknown_key_names_file_and_key_path(tmp_path: Path) -> None:
    """A misspelt key → `test.yaml: nodes.greeting.sya: unknown key`."""
    data = base()
    data["nodes"]["greeting"]["sya"] = "hello"
    assert "test.yaml: nodes.greeting.sya: unknown key" in load_error(tmp_path, data)


def test_missing_target_names_the_reference(tmp_path: Path) -> None:
    """An intent leading to a node that does not exist → error at its `next`."""
    data = base()
    data["nodes"]["greeting"]["listen"]["yes"]["next"] = "disclosur"
    message = load_error(tmp_path, data)
    assert message == "test.yaml: nodes.greeting.listen.yes.next: unknown node 'disclosur'"


def test_missing_default_target_is_reported_once(tmp_path: Path) -> None:
    data = base()
    data["defaults"]["no_input"]["then"] = "nowhere"
    message = load_error(tmp_path, data)
    assert message == "test.yaml: defaults.no_input.then: unknown node 'nowhere'"


def test_every_pydantic_error_is_one_line(tmp_path: Path) -> None:
    """Several invalid values → each on its own line, prefixed with the file name."""
    data = base()
    data["max_turns"] = 0
    data["nodes"]["greeting"]["listen"]["yes"]["phrases"] = []
    del data["nodes"]["bye"]["say"]
    lines = load_error(tmp_path, data).splitlines()
    assert all(line.startswith("test.yaml: ") for line in lines)
    joined = "\n".join(lines)
    assert "test.yaml: max_turns: Input should be greater than or equal to 1" in joined
    assert "test.yaml: nodes.greeting.listen.yes.phrases:" in joined
    assert "test.yaml: nodes.bye.say: required key is missing" in joined


def test_node_must_listen_go_on_or_end(tmp_path: Path) -> None:
    data = base()
    data["nodes"]["bye"]["next"] = "wrong"
    message = load_error(tmp_path, data)
    assert message == "test.yaml: nodes.bye: a node needs exactly one of listen, next, end"


def test_retries_are_bounded(tmp_path: Path) -> None:
    data = base()
    data["nodes"]["disclosure"]["no_input"] = {"retries": 4, "then": "bye"}
    message = load_error(tmp_path, data)
    assert "test.yaml: nodes.disclosure.no_input.retries: Input should be less than" in message


def test_duplicate_key_is_an_error(tmp_path: Path) -> None:
    """YAML would silently keep the second of two equal keys; here it is refused."""
    text = yaml.safe_dump(base(), sort_keys=False) + "start: disclosure\n"
    message = load_error(tmp_path, text)
    assert "duplicate key 'start'" in message
    assert message.startswith("test.yaml: line ")


def test_yes_and_no_stay_words() -> None:
    """`yes:` / `no:` keys and phrases are strings, not YAML 1.1 booleans."""
    text = yaml.safe_dump(base()).replace("'yes'", "yes").replace("'no'", "no")
    script = parse_script(text)
    listen = script.nodes["greeting"].listen
    assert listen is not None
    assert set(listen) == {"yes", "no"}
    assert listen["yes"].phrases == ("yes",)


def test_unreadable_and_non_mapping_files(tmp_path: Path) -> None:
    with pytest.raises(ScriptError, match=r"^gone\.yaml: cannot read: "):
        load_script(tmp_path / "gone.yaml")
    assert load_error(tmp_path, "- a\n- b\n").startswith("test.yaml: the file must be a YAML")
    assert load_error(tmp_path, "").startswith("test.yaml: the file must be a YAML")


# -- lint: words and variables ---------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "anchor", "word"),
    [
        ("zh", "目前已逾期{days_overdue}。", "公安"),
        ("zh", "目前已逾期{days_overdue}。", "老赖"),
        ("en", "which was due on {due_date}", "police"),
        ("en", "which was due on {due_date}", "sue you"),
        ("ko", "연체 중입니다.", "경찰"),
        ("ko", "연체 중입니다.", "블랙리스트"),
    ],
)
def test_threatening_prompt_is_refused(
    tmp_path: Path, language: str, anchor: str, word: str
) -> None:
    """A banned word put into a pack's disclosure → `<lang>.yaml: nodes.disclosure.say:
    banned word '<word>'`."""
    text = (PACKS / f"{language}.yaml").read_text(encoding="utf-8")
    assert anchor in text
    path = write(tmp_path, text.replace(anchor, f"{anchor} {word}", 1), f"{language}.yaml")
    with pytest.raises(ScriptError) as caught:
        load_script(path)
    assert f"{language}.yaml: nodes.disclosure.say: banned word '{word}'" in str(caught.value)


def test_banned_words_cover_reprompts_faq_and_names() -> None:
    data = base()
    data["defaults"]["no_match"]["reprompt"] = "Pay or we call the POLICE."
    data["faq"]["how"]["answer"] = "Pay before we expose you."
    data["on_behalf_of"] = "Jail Services"
    data["nodes"]["greeting"]["say"] += " {on_behalf_of}"
    found = problems(data)
    assert "defaults.no_match.reprompt: banned word 'police'" in found
    assert "faq.how.answer: banned word 'expose'" in found
    assert "on_behalf_of: banned word 'jail'" in found


def test_banned_list_is_configurable_and_english_matches_word_starts() -> None:
    data = base()
    data["nodes"]["bye"]["say"] = "Goodbye, we are closer to a solution."
    assert problems(data) == []  # "closer" is not "loser"
    assert problems(data, ["solution"]) == ["nodes.bye.say: banned word 'solution'"]
    assert "deadbeat" in DEFAULT_BANNED["en"] and "通讯录" in DEFAULT_BANNED["zh"]


def test_unknown_and_malformed_variables_name_the_node() -> None:
    data = base()
    data["nodes"]["disclosure"]["say"] = "You owe {amout}. When?"
    data["nodes"]["bye"]["say"] = "Goodbye {name:>10}"
    found = problems(data)
    assert "nodes.disclosure.say: unknown variable {amout}" in found
    assert any(p.startswith("nodes.bye.say: malformed placeholder") for p in found)


def test_faq_answers_and_defaults_carry_no_debt_details() -> None:
    data = base()
    data["faq"]["how"]["answer"] = "Pay {amount} by {payment_channels}."
    assert problems(data) == [
        "faq.how.answer: says {amount}: it can be said before the identity check"
    ]


def test_start_names_institution_and_creditor() -> None:
    data = base()
    data["on_behalf_of"] = "Big Bank"
    assert problems(data) == ["nodes.greeting.say: must name 'Big Bank'"]
    data["nodes"]["greeting"]["say"] += " For Big Bank."
    assert problems(data) == []
    data["nodes"]["greeting"]["say"] = "Hello, recorded call. Are you {name}? Big Bank."
    assert problems(data) == ["nodes.greeting.say: must name 'Acme'"]


# -- lint: phrases ---------------------------------------------------------------------


def test_phrase_in_two_intents_of_a_node_is_ambiguous() -> None:
    data = base()
    data["nodes"]["greeting"]["listen"]["no"]["phrases"] = ["no", "Yes!"]
    assert problems(data) == ["nodes.greeting.listen.no.phrases: phrase 'Yes!' is ambiguous: "
                              "yes has it too"]  # fmt: skip


def test_repeated_empty_and_faq_clashing_phrases() -> None:
    data = base()
    listen = data["nodes"]["disclosure"]["listen"]
    listen["promise"]["phrases"] = ["friday", "Friday", "?!", "how do I pay"]
    found = problems(data)
    assert "nodes.disclosure.listen.promise.phrases: phrase 'Friday' is repeated" in found
    assert "nodes.disclosure.listen.promise.phrases: phrase '?!' is empty" in found
    assert (
        "nodes.disclosure.listen.promise.phrases: phrase 'how do i pay' is ambiguous: "
        "faq.how has it too" in found
    )


# -- lint: the graph ---------------------------------------------------------------------


def test_cycle_is_refused(tmp_path: Path) -> None:
    """disclosure's no_match goes back to greeting → `loops back` at that reference."""
    data = base()
    data["nodes"]["disclosure"]["no_match"] = {"retries": 1, "then": "greeting"}
    message = load_error(tmp_path, data)
    assert (
        "test.yaml: nodes.disclosure.no_match.then: loops back: greeting → disclosure → greeting"
        in message
    )


def test_longer_cycle_is_reported_from_its_first_node() -> None:
    """thanks → ask → disclosure → thanks: the reference that closes the loop, read from
    the node written first in the file."""
    data = base()
    data["nodes"]["thanks"] = {"say": "Thank you.", "next": "ask"}
    data["nodes"]["ask"] = {"say": "Anything else?", "listen": {
        "more": {"phrases": ["more"], "next": "disclosure"}}}  # fmt: skip
    found = problems(data)
    assert found == [
        "nodes.ask.listen.more.next: loops back: disclosure → thanks → ask → disclosure"
    ]


def test_listening_node_needs_fallbacks_and_nodes_must_be_reachable() -> None:
    data = base()
    del data["defaults"]
    data["nodes"]["greeting"]["no_input"] = {"retries": 0, "then": "bye"}
    data["nodes"]["greeting"]["no_match"] = {"retries": 0, "then": "bye"}
    data["nodes"]["orphan"] = {"say": "Nobody comes here.", "end": "hangup"}
    assert problems(data) == [
        "nodes.disclosure: no no_input handling (give one here or in defaults.no_input)",
        "nodes.disclosure: no no_match handling (give one here or in defaults.no_match)",
        "nodes.orphan: unreachable from the start",
    ]


def test_on_max_turns_must_end_without_debt_details() -> None:
    data = base()
    data["on_max_turns"] = "thanks"
    assert problems(data) == ["on_max_turns: must be an end node without debt details"]


def test_recording_notice_must_come_first_on_every_path() -> None:
    """Greeting without the notice; disclosure reached from it → refused with the path.
    With the notice on only one of two paths → still refused, naming the bad path."""
    data = base()
    data["nodes"]["greeting"]["recording_notice"] = False
    found = problems(data)
    assert (
        "nodes.disclosure: says {amount} but can be reached before the recording notice: "
        "greeting → disclosure" in found
    )
    data = base()
    greeting = data["nodes"]["greeting"]
    greeting["recording_notice"] = False
    greeting["listen"]["yes"]["next"] = "notice"
    greeting["listen"]["sure"] = {
        "phrases": ["sure"],
        "identity": "confirmed",
        "next": "disclosure",
    }
    data["nodes"]["notice"] = {"say": "This call is recorded.", "recording_notice": True,
                               "next": "disclosure"}  # fmt: skip
    assert problems(data) == [
        "nodes.disclosure: says {amount} but can be reached before the recording notice: "
        "greeting → disclosure"
    ]
    greeting["listen"]["sure"]["next"] = "notice"
    assert problems(data) == []


def test_debt_details_only_after_identity_is_confirmed() -> None:
    data = base()
    data["nodes"]["greeting"]["listen"]["maybe"] = {"phrases": ["maybe"], "next": "disclosure"}
    assert problems(data) == [
        "nodes.disclosure: says {amount} but can be reached before the identity is "
        "confirmed: greeting → disclosure"
    ]


def test_wrong_party_never_hears_the_debt() -> None:
    data = base()
    data["nodes"]["wrong"]["say"] = "Sorry. Please tell {name} to pay {amount}."
    found = problems(data)
    assert (
        "nodes.wrong: says {amount} but can be reached after identity: wrong_party: wrong" in found
    )


def test_promise_date_only_after_it_was_heard() -> None:
    data = base()
    data["nodes"]["disclosure"]["listen"]["promise"]["slot"] = "promise_amount"
    assert problems(data) == [
        "nodes.thanks: says {promise_date} but can be reached before a promise date is heard: "
        "greeting → disclosure → thanks"
    ]


def test_script_error_prefixes_every_line(tmp_path: Path) -> None:
    error = ScriptError(tmp_path / "ko.yaml", "nodes.a.say: x\nnodes.b.say: y")
    assert str(error) == "ko.yaml: nodes.a.say: x\nko.yaml: nodes.b.say: y"
    assert error.path.name == "ko.yaml"


def test_a_stray_brace_is_a_script_error_naming_the_prompt(tmp_path):
    from pathlib import Path

    from ari_apps.bot.script import ScriptError, load_script

    shipped = Path(__file__).resolve().parents[2] / "ari_apps" / "bot" / "scripts" / "en.yaml"
    text = shipped.read_text(encoding="utf-8")
    start = text.index("say:", text.index("nodes:"))
    broken = text[: start + 4] + ' "}"' + text[text.index("\n", start):]
    (tmp_path / "en.yaml").write_text(broken, encoding="utf-8")
    with pytest.raises(ScriptError) as caught:
        load_script(tmp_path / "en.yaml")
    assert "en.yaml: nodes." in str(caught.value) and ".say: Single '}'" in str(caught.value)


def test_phrases_of_a_question_and_of_the_whole_script() -> None:
    from ari_apps.bot.script import Script

    script = Script.model_validate(base())
    faq = [p for f in script.faq.values() for p in f.phrases]
    listening = [name for name, node in script.nodes.items() if node.listen]
    for name in listening:
        own = [p for i in (script.nodes[name].listen or {}).values() for p in i.phrases]
        assert script.phrases(name) == own + faq
    assert set(script.phrases()) == {p for n in listening for p in script.phrases(n)}
