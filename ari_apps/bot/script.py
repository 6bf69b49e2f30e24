"""Dialogue scripts: one YAML file per language, validated at the edge, linted at load.

A script is a graph of nodes. A node says `say`, then listens (`listen`: intents, each
with phrases and the node it leads to), goes straight on (`next`) or ends the call
(`end: hangup | handoff`). Listening nodes re-prompt on silence (`no_input`) or an answer
they do not understand (`no_match`) `retries` times, then go to `then`; the script's
`defaults` hold both for nodes without their own. `max_turns` caps the listens of a call,
then `on_max_turns` (an end node) is said. `faq` entries are answered in any listening
node. See `scripts/*.yaml` for complete scripts.

An intent's `outcome` is what the debtor said (it replaces any earlier one); a node's
`outcome` is recorded on entering it only when none is known yet. A `slot` intent matches
when its parser finds a value in the answer; its phrases feed the recogniser.

`load_script(path)` parses, validates and lints (the rules are in `script_lint`); every
problem reads `file: key.path: message`, never a traceback.
"""

from __future__ import annotations

import re
import string
from collections.abc import Hashable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails

if TYPE_CHECKING:  # at run time through __getattr__ (the end of this file)
    from ari_apps.bot.script_lint import DEFAULT_BANNED as DEFAULT_BANNED
    from ari_apps.bot.script_lint import Edge as Edge
    from ari_apps.bot.script_lint import LintProblem as LintProblem
    from ari_apps.bot.script_lint import edges as edges
    from ari_apps.bot.script_lint import lint as lint

Language = Literal["zh", "en", "ko"]
SlotName = Literal["promise_date", "promise_amount", "callback_time"]
IdentityResult = Literal["confirmed", "wrong_party"]
OutcomeKind = Literal[
    "promise", "hardship", "dispute", "callback", "opt_out", "refusal", "wrong_party",
    "no_response", "handoff_request",
]  # fmt: skip
FallbackKind = Literal["no_input", "no_match"]
FALLBACKS: tuple[FallbackKind, ...] = ("no_input", "no_match")

VARIABLES = frozenset(
    {"institution", "on_behalf_of", "callback_number", "name", "amount", "due_date",
     "days_overdue", "payment_channels", "promise_date", "promise_amount"}
)  # fmt: skip
# They tell about the debt: only after the recording notice, only to the debtor.
SUBSTANTIVE = frozenset({"amount", "due_date", "days_overdue", "promise_date", "promise_amount"})

Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class ScriptError(ValueError):
    """A script cannot be used. Each line of the message names the file and key path."""

    def __init__(self, path: str | Path, message: str) -> None:
        self.path = Path(path)
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(f"{self.path.name}: {line}" for line in self.message.splitlines())


# -- the format -----------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Intent(_Model):
    phrases: tuple[Text, ...] = Field(min_length=1)
    next: Name
    slot: SlotName | None = None
    identity: IdentityResult | None = None
    outcome: OutcomeKind | None = None

    @property
    def kind(self) -> OutcomeKind | None:
        """The outcome this answer means, given or implied by its slot or identity."""
        if self.outcome is not None:
            return self.outcome
        if self.slot is not None:
            return "callback" if self.slot == "callback_time" else "promise"
        return "wrong_party" if self.identity == "wrong_party" else None


class Fallback(_Model):
    retries: int = Field(default=1, ge=0, le=3)
    reprompt: Text | None = None  # None: say the node's prompt again
    then: Name


class Node(_Model):
    say: Text
    recording_notice: bool = False
    # None: only a question that is neither the recording notice nor about the debt.
    barge_in: bool | None = None
    listen: dict[Name, Intent] | None = Field(default=None, min_length=1)
    no_input: Fallback | None = None
    no_match: Fallback | None = None
    no_input_s: float | None = Field(default=None, gt=0, le=30)
    next: Name | None = None
    end: Literal["hangup", "handoff"] | None = None
    outcome: OutcomeKind | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        if sum(x is not None for x in (self.listen, self.next, self.end)) != 1:
            raise ValueError("a node needs exactly one of listen, next, end")
        if self.listen is None and (self.no_input or self.no_match or self.no_input_s):
            raise ValueError("no_input, no_match and no_input_s need listen")
        return self


class Faq(_Model):
    phrases: tuple[Text, ...] = Field(min_length=1)
    answer: Text


class Script(_Model):
    language: Language
    institution: Text
    on_behalf_of: Text
    callback_number: Text
    max_turns: int = Field(ge=1, le=50)
    no_input_s: float = Field(default=6.0, gt=0, le=30)
    start: Name
    on_max_turns: Name
    defaults: dict[FallbackKind, Fallback] = Field(default_factory=dict)
    nodes: dict[Name, Node] = Field(min_length=1)
    faq: dict[Name, Faq] = Field(default_factory=dict)

    def fallback(self, node: str, kind: FallbackKind) -> tuple[str, Fallback] | None:
        """The node's own no_input/no_match handling, else the default, with its key path."""
        if self.nodes[node].listen is None:
            return None
        own: Fallback | None = getattr(self.nodes[node], kind)
        if own is not None:
            return f"nodes.{node}.{kind}", own
        return (f"defaults.{kind}", self.defaults[kind]) if kind in self.defaults else None

    def prompts(self) -> Iterator[tuple[str, str]]:
        """Every text the bot may say, with its key path."""
        fallbacks = {f"defaults.{kind}": fallback for kind, fallback in self.defaults.items()}
        for name in self.nodes:
            fallbacks.update(f for f in (self.fallback(name, k) for k in FALLBACKS) if f)
        for name, node in self.nodes.items():
            yield f"nodes.{name}.say", node.say
        for where, fallback in sorted(fallbacks.items()):
            if fallback.reprompt is not None:
                yield f"{where}.reprompt", fallback.reprompt
        for name, faq in self.faq.items():
            yield f"faq.{name}.answer", faq.answer

    def phrases(self, node: str | None = None) -> list[str]:
        """What recognition may hear: a listening node's intent phrases plus every FAQ
        phrase (a question's grammar); with no node, the phrases of the whole script."""
        nodes = self.nodes.values() if node is None else [self.nodes[node]]
        found = [p for n in nodes for intent in (n.listen or {}).values() for p in intent.phrases]
        return found + [p for faq in self.faq.values() for p in faq.phrases]

    def node_variables(self, name: str) -> frozenset[str]:
        """Variables of what the node may say: its prompt and its reprompts."""
        found = [self.fallback(name, kind) for kind in FALLBACKS]
        texts = [self.nodes[name].say, *(f[1].reprompt for f in found if f and f[1].reprompt)]
        return frozenset().union(*(placeholders(text) for text in texts))


def placeholders(template: str) -> frozenset[str]:
    """The `{variable}` names of a prompt; ValueError for anything but plain names."""
    names = set()
    for _, field, spec, conversion in string.Formatter().parse(template):
        if field is not None and (not field.isidentifier() or spec or conversion):
            raise ValueError(f"malformed placeholder {{{field}}}: use {{name}} only")
        if field is not None:
            names.add(field)
    return frozenset(names)


# -- loading --------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """Safe YAML where only true/false are booleans (`yes:` and `no:` stay words) and a
    repeated key is an error instead of silently replacing the first."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, Hashable) and key in seen:
                problem = f"duplicate key {key!r}"
                raise yaml.constructor.ConstructorError(None, None, problem, key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


_BOOL = "tag:yaml.org,2002:bool"
_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != _BOOL]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def load_script(path: str | Path, banned_words: Iterable[str] | None = None) -> Script:
    """Read, validate and lint a script; ScriptError (all problems) if it cannot be used."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ScriptError(path, f"cannot read: {reason}") from None
    script = parse_script(text, path)
    from ari_apps.bot.script_lint import lint  # it imports this module: at call time

    problems = lint(script, banned_words)
    if problems:
        raise ScriptError(path, "\n".join(str(problem) for problem in problems))
    return script


def parse_script(text: str, path: str | Path = "<script>") -> Script:
    """Validate YAML text into a Script (without lint)."""
    try:
        data = yaml.load(text, Loader=_Loader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ScriptError(path, _describe_yaml(exc, text)) from None
    if not isinstance(data, dict):
        raise ScriptError(path, "the file must be a YAML mapping (language:, nodes:, ...)")
    try:
        script = Script.model_validate(data)
    except ValidationError as exc:
        raise ScriptError(path, "\n".join(_describe(e) for e in exc.errors())) from None
    broken = []
    for where, prompt in script.prompts():
        try:
            list(string.Formatter().parse(prompt))
        except ValueError as exc:  # a stray "{" or "}": str.format cannot read the prompt
            broken.append(f"{where}: {exc} (write {{{{ or }}}} for a literal brace)")
    if broken:
        raise ScriptError(path, "\n".join(broken))
    return script


def _describe(error: ErrorDetails) -> str:
    where = ".".join(str(part) for part in error["loc"])
    message = {"extra_forbidden": "unknown key", "missing": "required key is missing"}.get(
        error["type"], error["msg"].removeprefix("Value error, ")
    )
    return f"{where}: {message}" if where else message


def _describe_yaml(exc: yaml.YAMLError, text: str) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is None:
        return f"YAML syntax: {problem}"
    # The block-style key path around the error, found by indentation (for the reader).
    path: list[str] = []
    indent = 1 << 30
    for line in reversed(text.splitlines()[: mark.line + 1]):
        key = re.match(r"^( *)([A-Za-z_][\w-]*)\s*:", line)
        if key and len(key.group(1)) < indent:
            path.insert(0, key.group(2))
            indent = len(key.group(1))
    near = f" (in {'.'.join(path)})" if path else ""
    return f"line {mark.line + 1}, column {mark.column + 1}{near}: YAML syntax: {problem}"


# -- lint: in script_lint, which imports the models above -----------------------------

if not TYPE_CHECKING:  # type checkers see the imports at the top, and no other names

    def __getattr__(name: str) -> object:
        """The lint names, still importable from here: `from ...script import lint`."""
        if name in {"DEFAULT_BANNED", "Edge", "LintProblem", "edges", "lint"}:
            from ari_apps.bot import script_lint

            return getattr(script_lint, name)
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
