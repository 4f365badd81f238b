"""Judging one action: the evaluation half of :class:`~agent_os.policies.Policy`.

Evaluation finds every rule an action hits and returns the strongest
(SIGKILL > SIGSTOP > SIGWARN > allow); among equally strong hits the first in
rule order wins. Rule order: blocked actions (matching the action type or
the tool name), required capabilities, tool rules and ``tools.default``
(see ``_tools``), network rules (domains and address ranges), blocked
patterns as declared, the structural rules (``checks``,
``blocked_commands``, ``blocked_paths``; see ``_struct``), which run only
when no pattern already gave SIGKILL, and last the blocked actions of the
kinds a tool call was classified into, so ``terminal {"commands": ["rm -rf
/"]}`` reports ``shell:rm-rf`` and ``terminal {"commands": ["ls"]}``
reports ``action:shell_exec``.

Every action is classified once (``_classify``: declaration, catalogue,
name, argument shapes; a typed action as its declared kind); the classified
kinds get the blocked actions, required capabilities and structural checks
of those kinds, the classification's reading of the arguments decides which
analysis reads which argument, and the verdict records both.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from agent_os.policies.analysis._normalise import SEP, flatten, fold, strip_sql_comments
from agent_os.policies.analysis._re import redact, search

from ._classify import Classification, field_texts
from ._plan import CLASSIFIED_ORDER, MAX_PLANS, NO_HIT, RANK, Hit, Plan, build_plan
from ._read import read
from ._struct import Structural
from ._tools import ToolSection
from ._types import ActionRule, Pattern, Signal, Verdict

__all__ = ["Judge", "action_key"]

_DETECTOR = -1  # set index that flags SQL comment markers, not a rule
_DETECTOR_REGEX = r"/\*|--"  # its regex
_NO_GROUPS: Mapping[str, str] = {}
#: A compiled pattern set: field group, the set's matcher, set index -> rule, required marks.
_Scan = tuple[str, Any, tuple[int, ...], frozenset[str] | None]
#: Field values up to this long that a pattern set did not match are remembered, this many.
_SHORT = 256
_MAX_MISSES = 4096
#: A tool name every analysis reads the same way whatever its language.
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_.:/ -]{1,128}")


class Judge:
    """The evaluation methods of a compiled policy (``Policy`` holds the compiled state)."""

    __slots__ = ()

    _name: str
    _content_hash: str
    _action_rules: dict[str, ActionRule]
    _required: dict[str, frozenset[str]]
    _tool_section: ToolSection
    _tool_order: int
    _net: bool
    _net_order: int
    _struct: Structural
    _struct_base: int
    _sets: tuple[_Scan, ...]
    _all_text: bool
    _patterns: tuple[Pattern, ...]
    _regexes: tuple[Any, ...]
    _allow_verdict: Verdict
    _allow_verdicts: dict[tuple[tuple[str, ...], str], Verdict]
    _hit_verdicts: dict[tuple[Any, ...], Verdict]
    _plans: dict[tuple[Any, ...], Plan]
    _misses: set[tuple[str, str]]
    _scans: dict[
        tuple[str, ...], tuple[tuple[str, Any, tuple[int, ...], frozenset[str] | None], ...]
    ]

    def evaluate(
        self, action: Mapping[str, Any], *, capabilities: frozenset[str] | None = None
    ) -> Verdict:
        """Judge one action: ``{"agent_id", "action", "args", "tool"?, "hints"?}``.

        Pure and synchronous; never raises. Input that is not an action (not
        a mapping, no string ``"action"``, nesting deeper than 64) yields a
        deny with code ``"malformed_action"``. ``capabilities`` (when given)
        are checked against ``required_capabilities``. ``hints`` (optional)
        carry the caller's declaration for classification: ``{"action":
        kind, "class": framework class, "annotations": {...}}``.
        """
        try:
            return self._evaluate(action, capabilities, None)
        except Exception as exc:  # fail closed on inputs nobody anticipated
            return self._malformed(f"action could not be evaluated ({type(exc).__name__})")

    def explain(
        self, action: Mapping[str, Any], *, capabilities: frozenset[str] | None = None
    ) -> tuple[Verdict, list[str]]:
        """:meth:`evaluate` plus the story: classification, each rule considered, each hit."""
        trace: list[str] = []
        try:
            verdict = self._evaluate(action, capabilities, trace)
        except Exception as exc:
            verdict = self._malformed(f"action could not be evaluated ({type(exc).__name__})")
        trace.append(
            f"decided by {verdict.rule or verdict.code}: {verdict.decision.value}"
            f" ({verdict.reason})"
        )
        return verdict, trace

    def _malformed(self, reason: str) -> Verdict:
        return Verdict.deny(
            "malformed_action", reason, policy=self._name, policy_hash=self._content_hash
        )

    def _evaluate(
        self, action: Any, capabilities: frozenset[str] | None, trace: list[str] | None
    ) -> Verdict:
        if type(action) is not dict and not isinstance(action, Mapping):
            return self._malformed(f"action must be a mapping, not {type(action).__name__}")
        kind = action.get("action")
        if type(kind) is not str:
            return self._malformed("action has no string 'action' type")
        kind = kind.strip().lower() if kind.isascii() else action_key(kind)
        tool = action.get("tool")
        if type(tool) is not str:
            tool = None
        args = action.get("args")
        hit: Hit | None = None if trace is None else Hit(trace)
        # Every action is classified: a tool call by its tool, declaration and
        # arguments; a typed action as the declared kind, so its arguments are
        # read by meaning the same way (typed shell_exec and the terminal tool
        # meet the same checks). What only names decide is kept as a plan.
        plan = key = None
        if trace is None and type(args) is dict and action.get("hints") is None:
            key = (kind, tool, *args)
            plan = self._plans.get(key)
        if plan is None:
            tool_key = "" if tool is None else action_key(tool)
            plan, keyed = build_plan(self._action_rules, kind, tool, tool_key, action, trace)
            if key is not None and keyed:
                if len(self._plans) >= MAX_PLANS:
                    self._plans.clear()
                self._plans[key] = plan
        found = plan.found
        kill = plan.kill
        if kill is not None:
            return self._verdict(kill[0], kill[1], kill[2], None, found)
        if plan.offers:
            hit = hit or Hit()
            hit.take(plan.offers)
        kinds = found.kinds
        if capabilities is not None:
            if not isinstance(capabilities, frozenset | set):
                capabilities = frozenset(capabilities)
            for needed_by in (kind, *kinds):
                required = self._required.get(needed_by)
                if required and not required <= capabilities:
                    missing = ", ".join(sorted(required - capabilities))
                    return self._verdict(
                        Signal.SIGKILL,
                        f"capability:{needed_by}",
                        f"missing capabilities: {missing}",
                        None,
                        found,
                    )
        if self._tool_section.active and (tool is not None or kind == "tool_call"):
            hit = hit or Hit()
            failed = self._tool_section.evaluate(
                tool or "", action, kind, capabilities, hit.offer, self._tool_order, trace
            )
            if failed is not None:
                return self._condition_error(*failed, found)
            if hit.rank == 0 and hit.order < CLASSIFIED_ORDER:
                return self._verdict(hit.signal, hit.rule, hit.reason, hit.matched, found)
        parts: list[str] = []
        # ``parts`` feed patterns over all text (only built when such a pattern
        # exists); each analysis reads the arguments whose meaning fits it
        # (classification's reading).
        if self._all_text:
            if tool is not None:
                parts.append(f"tool:\n{tool}")
            if not flatten(args, _NO_GROUPS, parts, {}):
                return self._malformed("action arguments are nested too deeply")
        groups: dict[str, list[str]] = {}
        if args is not None:
            try:
                groups = read(args, found.fields, kinds, plan.program)
            except ValueError:
                return self._malformed("action arguments are nested too deeply")
            if not all(groups.values()):
                groups = {meaning: texts for meaning, texts in groups.items() if texts}
        if tool:
            # A tool's own name is data the analysers read too (``eval(payload)``). Alone, a
            # plain name they find nothing in is left out: checked once for each plan.
            unknown = groups.get("data")
            if unknown is not None:
                unknown.append(tool)
            else:
                quiet = plan.quiet_tool
                if quiet is None:
                    quiet = plan.quiet_tool = self._quiet_name(tool)
                if not quiet:
                    groups["data"] = [tool]
        if trace is not None:
            # Which field was read as what: the analyses below follow this reading.
            for path, meaning, text in field_texts(args, found, tool or ""):
                shown = text if len(text) <= 60 else text[:59] + "\u2026"
                trace.append(f"read {path or '(args)'} as {meaning}: {redact(shown, secret=False)}")
        urls = groups.get("url")
        if self._net and (urls or plan.net):
            hit = hit or Hit()
            self._struct.check_urls(plan.url_kind, urls, hit.offer, self._net_order)
            if hit.rank == 0 and hit.order < CLASSIFIED_ORDER:
                return self._verdict(hit.signal, hit.rule, hit.reason, hit.matched, found)
        scans = self._scans.get(tuple(groups))
        if scans is None:
            scans = self._scans_for(groups)
        for group, match, index_map, marks in scans:
            miss: tuple[str, str] | None = None
            if group == "all":
                text = SEP.join(parts)
            else:
                members = groups.get(group)
                if not members:
                    continue
                text = members[0] if len(members) == 1 else SEP.join(members)
                if len(text) <= _SHORT:
                    # Short fields seen before without a match (a tool name, a method,
                    # a path) find nothing again.
                    miss = (group, text)
                    if miss in self._misses:
                        continue
            if marks is not None:
                # On ASCII text fold only drops quotes and backslashes, so the marks (other
                # ASCII punctuation) are in the text exactly when they are in its fold.
                ascii_text = text.isascii()
                if not ascii_text:
                    text = fold(text)
                for mark in marks:
                    if mark in text:
                        break
                else:
                    continue  # every member (and the detector) needs one of these marks
                if ascii_text:
                    text = fold(text)
            else:
                text = fold(text)
            data = text.encode()
            matches = match(data)
            if not matches:
                if miss is not None:
                    if len(self._misses) >= _MAX_MISSES:
                        self._misses.clear()  # field values come from agents: bound them
                    self._misses.add(miss)
                continue
            hit = hit or Hit()
            if 0 in matches:  # the SQL comment detector: also scan the stripped text
                stripped = strip_sql_comments(text).encode()
                matches = [*matches, *(match(stripped) or ())]
                self._offer_patterns(matches, index_map, hit, (data, stripped))
            else:
                self._offer_patterns(matches, index_map, hit, (data,))
        struct_kind = plan.struct_kind
        if (
            self._struct.active
            and (hit is None or hit.rank != 0 or hit.order >= CLASSIFIED_ORDER)
            and self._struct.needed(struct_kind, groups)
        ):
            hit = hit or Hit()
            self._struct.evaluate(struct_kind, args, groups, hit.offer, self._struct_base, hit)
        if hit is None or hit.rank == NO_HIT:
            verdict = plan.allow
            if verdict is None:
                verdict = plan.allow = self._allow(found)
            return verdict
        return self._verdict(hit.signal, hit.rule, hit.reason, hit.matched, found)

    def _quiet_name(self, tool: str) -> bool:
        """Whether ``tool``, read alone as data, could make no analysis find anything: a
        plain name (no quote, bracket or comment marker: every lexer reads it alike) that
        no data pattern set, SQL gate or code rule matches."""
        if _PLAIN_NAME.fullmatch(tool) is None or "//" in tool or "--" in tool:
            return False
        data = tool.encode()
        for group, match, _, _ in self._sets:
            if group == "data" and match(data):
                return False
        return self._struct.quiet_data(tool)

    def _scans_for(
        self, groups: Mapping[str, list[str]]
    ) -> tuple[tuple[str, Any, tuple[int, ...], frozenset[str] | None], ...]:
        """The pattern sets an action with these field groups needs, in set order (kept)."""
        scans = tuple(entry for entry in self._sets if entry[0] == "all" or entry[0] in groups)
        if len(self._scans) >= 256:
            self._scans.clear()
        self._scans[tuple(groups)] = scans
        return scans

    def _offer_patterns(
        self, found: list[int], index_map: tuple[int, ...], hit: Hit, texts: tuple[bytes, ...]
    ) -> None:
        base = self._net_order + 1
        best = -1
        for set_index in found:
            index = index_map[set_index]
            if index == _DETECTOR:
                continue
            pattern = self._patterns[index]
            if hit.trace is not None:
                hit.trace.append(f"hit {pattern.rule_id} {pattern.signal.value}: {pattern.reason}")
            rank = RANK[pattern.signal]
            order = base + index
            if rank < hit.rank or (rank == hit.rank and order < hit.order):
                hit.rank, hit.order, hit.signal = rank, order, pattern.signal
                hit.rule, hit.reason = pattern.rule_id, pattern.reason
                best = index
        if best < 0:
            return
        pattern = self._patterns[best]
        regex = self._regexes[best]
        for data in texts:
            matched = search(regex, data)
            if matched is not None:
                hit.matched = redact(matched, secret=pattern.rule_id.startswith("secret:"))
                return
        hit.matched = None

    def _verdict(
        self,
        signal: Signal,
        rule: str,
        reason: str,
        matched: str | None,
        found: Classification | None = None,
        code: str = "policy_violation",
    ) -> Verdict:
        if rule.endswith(":too-complex") and code == "policy_violation":
            code = "too_complex"  # an analysis that ran out of budget, not a finding
        kinds = () if found is None else found.kinds
        source = None if found is None else found.source
        # Verdicts are immutable and a frozen dataclass costs microseconds to build:
        # the same hit on the same classification gives the same (shared) verdict.
        key = (signal, rule, reason, matched, code, kinds, source)
        verdict = self._hit_verdicts.get(key)
        if verdict is None:
            verdict = Verdict(
                decision=signal.decision,
                signal=signal,
                rule=rule,
                reason=reason,
                matched=matched,
                policy=self._name,
                policy_hash=self._content_hash,
                code=code,
                kinds=kinds,
                classified_by=source,
            )
            if len(self._hit_verdicts) >= 1024:
                self._hit_verdicts.clear()  # matched text comes from agents: bound the memory
            self._hit_verdicts[key] = verdict
        return verdict

    def _condition_error(self, rule: str, reason: str, found: Classification | None) -> Verdict:
        # Fail closed: a condition that cannot be evaluated never skips its rule.
        return self._verdict(Signal.SIGKILL, rule, reason, None, found, "condition_error")

    def _allow(self, found: Classification | None) -> Verdict:
        if found is None:
            return self._allow_verdict
        key = (found.kinds, found.source)
        verdict = self._allow_verdicts.get(key)
        if verdict is None:
            base = self._allow_verdict
            verdict = Verdict(
                base.decision, base.signal, base.rule, base.reason, None, base.policy,
                base.policy_hash, base.code, kinds=found.kinds, classified_by=found.source,
            )  # fmt: skip
            if len(self._allow_verdicts) < 1024:
                self._allow_verdicts[key] = verdict
        return verdict


def action_key(kind: str) -> str:
    """An action type or tool name as rules key it: trimmed, NFKC, case-folded."""
    if kind.isascii():
        return kind.strip().lower()
    return unicodedata.normalize("NFKC", kind).strip().casefold()
