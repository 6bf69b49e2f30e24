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

`load_script(path)` parses, validates and lints; every problem reads
`file: key.path: message`, never a traceback.
"""

from __future__ import annotations

import re
import string
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Annotated, Any, Literal, Self

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

from ari_apps.bot.intents import normalise

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

# Threats, insults and impersonation (of police, courts, ...): never in a prompt.
DEFAULT_BANNED: dict[str, tuple[str, ...]] = {
    "zh": ("公安", "法院", "拘留", "坐牢", "黑名单", "曝光", "通讯录", "老赖", "起诉",
           "警察", "判刑", "刑事", "抓人", "律师函", "上门", "骗子", "丢人"),
    "en": ("police", "arrest", "jail", "prison", "sue you", "blacklist", "expose", "deadbeat",
           "criminal", "court", "lawsuit", "garnish", "seize", "loser"),
    "ko": ("경찰", "구속", "감옥", "고소", "체포", "블랙리스트", "법원", "압류", "형사", "검찰",
           "소송"),
}  # fmt: skip

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


@dataclass(frozen=True, slots=True)
class LintProblem:
    where: str  # key path, e.g. "nodes.disclosure.say"
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


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
        return Script.model_validate(data)
    except ValidationError as exc:
        raise ScriptError(path, "\n".join(_describe(e) for e in exc.errors())) from None


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


# -- lint ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Edge:
    source: str
    target: str
    where: str  # key path of the reference
    intent: Intent | None  # None: a pass-through `next` or a fallback's `then`


def edges(script: Script) -> list[Edge]:
    """Transitions: intents' next, fallbacks' then (own or default), pass-through next."""
    found = []
    for name, node in script.nodes.items():
        if node.next is not None:
            found.append(Edge(name, node.next, f"nodes.{name}.next", None))
        for key, intent in (node.listen or {}).items():
            found.append(Edge(name, intent.next, f"nodes.{name}.listen.{key}.next", intent))
        for fallback in (script.fallback(name, kind) for kind in FALLBACKS):
            if fallback is not None:
                found.append(Edge(name, fallback[1].then, f"{fallback[0]}.then", None))
    return found


def lint(script: Script, banned_words: Iterable[str] | None = None) -> list[LintProblem]:
    """Every reason not to put this script on a call (empty: fine). `banned_words`
    replaces the language's DEFAULT_BANNED."""
    banned = DEFAULT_BANNED[script.language] if banned_words is None else tuple(banned_words)
    rules = _Rules(script)
    targets, texts = rules.targets(), rules.texts(banned)
    problems = targets + texts + rules.phrases()
    if targets or any(p.message.startswith("malformed") for p in texts):
        return problems  # the graph rules need existing nodes and parsable prompts
    return problems + rules.structure() + rules.loops() + rules.disclosure()


class _Rules:
    def __init__(self, script: Script) -> None:
        self.script = script
        self.edges = edges(script)

    def targets(self) -> list[LintProblem]:
        script = self.script
        refs = [("start", script.start), ("on_max_turns", script.on_max_turns)]
        refs += [(edge.where, edge.target) for edge in self.edges]
        refs += [(f"defaults.{kind}.then", f.then) for kind, f in script.defaults.items()]
        unknown = dict.fromkeys((w, t) for w, t in refs if t not in script.nodes)  # once each
        return [LintProblem(where, f"unknown node {target!r}") for where, target in unknown]

    def texts(self, banned: tuple[str, ...]) -> list[LintProblem]:
        script, problems = self.script, []
        named = [("institution", script.institution), ("on_behalf_of", script.on_behalf_of)]
        edge = r"\b" if script.language == "en" else ""  # English: "closer" is no "loser"
        for where, text in [*named, *script.prompts()]:
            for word in banned:
                if re.search(edge + re.escape(word.casefold()), text.casefold()):
                    problems.append(LintProblem(where, f"banned word {word!r}"))
            try:
                names = placeholders(text)
            except ValueError as exc:
                problems.append(LintProblem(where, str(exc)))
                continue
            for unknown in sorted(names - VARIABLES):
                problems.append(LintProblem(where, f"unknown variable {{{unknown}}}"))
            if where.startswith(("faq.", "defaults.")) and names & SUBSTANTIVE:
                why = "it can be said before the identity check"
                problems.append(LintProblem(where, f"says {_braced(names & SUBSTANTIVE)}: {why}"))
        return problems

    def phrases(self) -> list[LintProblem]:
        problems: list[LintProblem] = []
        faq_owner: dict[str, str] = {}
        for name, faq in self.script.faq.items():
            problems += self._unique(f"faq.{name}", faq.phrases, faq_owner, f"faq.{name}")
        for name, node in self.script.nodes.items():
            owner: dict[str, str] = {}
            for key, intent in (node.listen or {}).items():
                problems += self._unique(f"nodes.{name}.listen.{key}", intent.phrases, owner, key)
            for phrase in owner.keys() & faq_owner.keys():
                why = f"phrase {phrase!r} is ambiguous: {faq_owner[phrase]} has it too"
                problems.append(LintProblem(f"nodes.{name}.listen.{owner[phrase]}.phrases", why))
        return problems

    def _unique(
        self, where: str, phrases: Iterable[str], owner: dict[str, str], key: str
    ) -> list[LintProblem]:
        """Check phrases against those seen so far in the node (`owner`: phrase → key)."""
        problems = []
        for phrase in phrases:
            normal = normalise(phrase, self.script.language)
            if not normal:
                problem = f"phrase {phrase!r} is empty"
            elif normal not in owner:
                owner[normal] = key
                continue
            elif owner[normal] == key:
                problem = f"phrase {phrase!r} is repeated"
            else:
                problem = f"phrase {phrase!r} is ambiguous: {owner[normal]} has it too"
            problems.append(LintProblem(f"{where}.phrases", problem))
        return problems

    def structure(self) -> list[LintProblem]:
        script, problems = self.script, []
        start = script.nodes[script.start]
        names = {"institution": script.institution, "on_behalf_of": script.on_behalf_of}
        if script.on_behalf_of == script.institution:
            del names["on_behalf_of"]
        for variable, value in names.items():
            if f"{{{variable}}}" not in start.say and value not in start.say:
                problems.append(LintProblem(f"nodes.{script.start}.say", f"must name {value!r}"))
        if script.nodes[script.on_max_turns].end is None or (
            script.node_variables(script.on_max_turns) & SUBSTANTIVE
        ):
            problems.append(LintProblem("on_max_turns", "must be an end node without debt details"))
        for name, node in script.nodes.items():
            for kind in FALLBACKS:
                if node.listen is not None and script.fallback(name, kind) is None:
                    why = f"no {kind} handling (give one here or in defaults.{kind})"
                    problems.append(LintProblem(f"nodes.{name}", why))
        return problems

    def loops(self) -> list[LintProblem]:
        """Acyclic, so every path ends: each node that does not end has a successor."""
        graph: dict[str, set[str]] = {name: set() for name in self.script.nodes}
        for edge in self.edges:
            graph[edge.source].add(edge.target)
        problems = []
        try:
            TopologicalSorter(graph).prepare()
        except CycleError as exc:
            loop: list[str] = list(reversed(exc.args[1]))[1:]  # graphlib: successors first
            first = loop.index(min(loop, key=list(self.script.nodes).index))
            cycle = [*loop[first:], *loop[:first], loop[first]]  # from the first in the file
            last = next(e for e in self.edges if (e.source, e.target) == (cycle[-2], cycle[-1]))
            problems.append(LintProblem(last.where, "loops back: " + " → ".join(cycle)))
        reached = self.reach([self.script.start]).keys() | {self.script.on_max_turns}
        for name in self.script.nodes.keys() - reached:
            problems.append(LintProblem(f"nodes.{name}", "unreachable from the start"))
        return sorted(problems, key=str)

    def reach(
        self,
        sources: Iterable[str],
        stop_at: Callable[[str], bool] = lambda name: False,
        skip: Callable[[Edge], bool] = lambda edge: False,
    ) -> dict[str, list[str]]:
        """Nodes reachable from `sources`, each with one path there; `stop_at` nodes are
        reached but not passed through, `skip` edges are not taken."""
        paths = {source: [source] for source in sources}
        queue = deque(paths)
        while queue:
            name = queue.popleft()
            if stop_at(name):
                continue
            for edge in self.edges:
                if edge.source == name and edge.target not in paths and not skip(edge):
                    paths[edge.target] = [*paths[name], edge.target]
                    queue.append(edge.target)
        return paths

    def disclosure(self) -> list[LintProblem]:
        """Debt details only after the recording notice, only to the confirmed debtor, not
        after a wrong party; a promise date only once it was heard."""
        script = self.script

        def notice(name: str) -> bool:
            return script.nodes[name].recording_notice

        def identity(e: Edge) -> bool:
            return e.intent is not None and e.intent.identity == "confirmed"

        def dated(e: Edge) -> bool:
            return e.intent is not None and e.intent.slot == "promise_date"

        wrong = [e.target for e in self.edges if e.intent and e.intent.identity == "wrong_party"]
        start = [script.start]
        unnoticed = {n: p for n, p in self.reach(start, stop_at=notice).items() if not notice(n)}
        searches = [
            ("before the recording notice", SUBSTANTIVE, unnoticed),
            ("before the identity is confirmed", SUBSTANTIVE, self.reach(start, skip=identity)),
            ("after identity: wrong_party", SUBSTANTIVE, self.reach(wrong)),
            ("before a promise date is heard", {"promise_date"}, self.reach(start, skip=dated)),
        ]
        problems = []
        for why, forbidden, paths in searches:
            reported: set[str] = set()  # only the first offender on a path
            for name, path in paths.items():  # paths grow in this order
                if (used := script.node_variables(name) & forbidden) and not reported & {*path}:
                    reported.add(name)
                    where = f"nodes.{name}"
                    problems.append(LintProblem(where, f"says {_braced(used)} but can be reached "
                                                f"{why}: {' → '.join(path)}"))  # fmt: skip
        return problems


def _braced(names: Iterable[str]) -> str:
    return ", ".join(f"{{{name}}}" for name in sorted(names))
