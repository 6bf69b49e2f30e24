"""Lint for dialogue scripts: every reason not to put a valid script on a call.

`lint(script)` checks what the schema cannot: references to unknown nodes, banned words,
unknown or malformed `{variables}`, phrases that are empty, repeated or ambiguous, the
start naming the institution, fallback handling for every listening node, an acyclic
graph with every node reachable, and when debt details may be said (after the recording
notice, to the confirmed debtor only). `load_script` runs it; each `LintProblem` names
the key path of the problem.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter

from ari_apps.bot.intents import normalise
from ari_apps.bot.script import FALLBACKS, SUBSTANTIVE, VARIABLES, Intent, Script, placeholders

# Threats, insults and impersonation (of police, courts, ...): never in a prompt.
DEFAULT_BANNED: dict[str, tuple[str, ...]] = {
    "zh": ("公安", "法院", "拘留", "坐牢", "黑名单", "曝光", "通讯录", "老赖", "起诉",
           "警察", "判刑", "刑事", "抓人", "律师函", "上门", "骗子", "丢人"),
    "en": ("police", "arrest", "jail", "prison", "sue you", "blacklist", "expose", "deadbeat",
           "criminal", "court", "lawsuit", "garnish", "seize", "loser"),
    "ko": ("경찰", "구속", "감옥", "고소", "체포", "블랙리스트", "법원", "압류", "형사", "검찰",
           "소송"),
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class LintProblem:
    where: str  # key path, e.g. "nodes.disclosure.say"
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


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
