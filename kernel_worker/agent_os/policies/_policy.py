"""The policy model: :class:`Policy` compiles once; evaluation lives in ``_judge``.

Speed comes from doing the work at construction: every pattern is compiled
once by RE2 (linear time, no catastrophic backtracking) into one ``re2.Set``
per argument field group, so an action costs one set scan per group in use;
the individual regex runs only for the winning rule, to report what matched.
Every rule entry is read by the one builder (``_build``), whether it comes
from Python, YAML or a preset.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from typing import Any

import re2

from agent_os.policies.analysis._net import normalise_domain
from agent_os.policies.analysis._re import OPTIONS, compile_pattern, required_marks

from ._build import STRUCTURAL, Fail, action_rules, fail_in, structural_rules
from ._build import checks as checks_of
from ._build import patterns as patterns_of
from ._data import PolicyData
from ._errors import PolicyLoadError
from ._judge import _DETECTOR, _DETECTOR_REGEX, Judge, action_key
from ._plan import Plan
from ._rules import Check, CommandRule, NetworkRule, PathRule
from ._struct import Structural
from ._terms import ReviewTerms
from ._tools import Tools, ToolSection, is_glob
from ._types import ActionRule, Decision, Pattern, Signal, Verdict

# Re-exported so callers can take the whole model from one module.
__all__ = ["Decision", "Pattern", "Policy", "Signal", "Verdict", "load_policy"]


class Policy(Judge):
    """An immutable, compiled policy.

    ``blocked_actions`` are action types (or :class:`ActionRule` for a custom
    signal / reason); ``blocked_patterns`` are :class:`Pattern` rules;
    ``allowed_domains`` (``None``: any) and ``blocked_domains`` confine
    network access by host label; ``required_capabilities`` maps an action
    type to capabilities the caller must hold; ``default`` is the decision
    when no rule hits. Structural rules: ``checks`` (check ids such as
    ``"sql:delete"`` or groups ``"sql"`` / ``"shell"``, or :class:`Check`),
    ``blocked_commands`` (executable names or globs, or :class:`CommandRule`),
    ``blocked_paths`` (path globs, or :class:`PathRule`) and
    ``blocked_networks`` (CIDRs or named ranges, or :class:`NetworkRule`).
    ``tools`` (a :class:`Tools` or its mapping form) governs tool calls by
    name with CEL conditions over ``data`` (a mapping, or a YAML / JSON
    file path re-read when it changes; see ``_data``). A ``blocked_actions``
    entry also matches the tool name of a tool call.
    Raises :class:`PolicyLoadError` naming the rule on any invalid part,
    including a regex RE2 refuses (e.g. a backreference), a condition CEL
    cannot compile, and a blocked action that is a glob or is also allowed
    by ``tools.allow`` (ambiguous rules are errors, never no-ops).
    """

    __slots__ = (
        "_action_rules",
        "_all_text",
        "_allow_verdict",
        "_allow_verdicts",
        "_allowed_domains",
        "_blocked_domains",
        "_checks",
        "_command_rules",
        "_content_hash",
        "_data",
        "_default",
        "_description",
        "_hit_verdicts",
        "_misses",
        "_name",
        "_net",
        "_net_order",
        "_network_rules",
        "_path_rules",
        "_patterns",
        "_plans",
        "_regexes",
        "_required",
        "_review_terms",
        "_scans",
        "_sets",
        "_struct",
        "_struct_base",
        "_tool_order",
        "_tool_section",
        "_tools",
        "_version",
    )

    def __init__(
        self,
        name: str,
        blocked_actions: Iterable[str | ActionRule] = (),
        blocked_patterns: Iterable[Pattern] = (),
        *,
        allowed_domains: Iterable[str] | None = None,
        blocked_domains: Iterable[str] = (),
        required_capabilities: Mapping[str, Iterable[str]] | None = None,
        default: Decision | str = Decision.ALLOW,
        version: str = "1",
        description: str = "",
        checks: Iterable[str | Check] = (),
        blocked_commands: Iterable[str | CommandRule] = (),
        blocked_paths: Iterable[str | PathRule] = (),
        blocked_networks: Iterable[str | NetworkRule] = (),
        tools: Tools | Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | str | os.PathLike[str] | None = None,
    ) -> None:
        if not isinstance(name, str) or not name.strip():
            raise PolicyLoadError("name must be a non-empty string", field="name")
        self._name = name
        self._version = str(version)
        self._description = description
        try:
            self._default = Decision(default)
        except ValueError:
            raise PolicyLoadError(
                f"expected one of {[d.value for d in Decision]}, got {default!r}",
                policy=name,
                field="default",
            ) from None
        # One builder reads every rule entry (objects, strings, mappings): see ``_build``.
        fail = fail_in(policy=name)
        rules: dict[str, ActionRule] = {}
        for rule in action_rules(blocked_actions, fail):
            rules.setdefault(rule.action, rule)
        self._action_rules = rules
        self._patterns = _dedupe_ids(tuple(p for p, _ in patterns_of(blocked_patterns, fail)), name)
        self._allowed_domains = (
            None if allowed_domains is None else _domains(allowed_domains, name, "allowed_domains")
        )
        self._blocked_domains = _domains(blocked_domains, name, "blocked_domains")
        self._required = {
            action_key(action): frozenset(caps)
            for action, caps in (required_capabilities or {}).items()
        }
        # A later check entry for an id replaces an earlier one (groups expand to ids).
        self._checks = tuple({c.id: c for c in checks_of(checks, fail)}.values())
        self._command_rules = _unique(blocked_commands, "blocked_commands", fail)
        self._path_rules = _unique(blocked_paths, "blocked_paths", fail)
        self._network_rules = _unique(blocked_networks, "blocked_networks", fail)
        try:
            self._data = PolicyData(data)
            self._tools = Tools() if tools is None else Tools.from_value(tools)
            self._tool_section = ToolSection(self._tools, self._data)
        except PolicyLoadError as exc:
            raise exc.located(policy=name) from None
        _check_tool_ambiguity(self._action_rules, self._tools, name)
        self._review_terms = _review_terms(self)
        self._allow_verdicts: dict[tuple[tuple[str, ...], str], Verdict] = {}
        self._hit_verdicts: dict[tuple[Any, ...], Verdict] = {}
        self._plans: dict[tuple[Any, ...], Plan] = {}
        self._misses: set[tuple[str, str]] = set()
        self._scans: dict[tuple[str, ...], Any] = {}
        self._net = (
            self._allowed_domains is not None
            or bool(self._blocked_domains)
            or bool(self._network_rules)
        )
        self._tool_order = len(self._action_rules) + 1
        self._net_order = self._tool_order + self._tool_section.rule_count + 1
        self._struct_base = self._net_order + 1 + len(self._patterns)
        self._struct = Structural(
            self._checks,
            self._command_rules,
            self._path_rules,
            self._network_rules,
            self._allowed_domains,
            self._blocked_domains,
            self._net_order,
        )
        self._compile()
        self._content_hash = hashlib.sha256(
            json.dumps(self._content(), sort_keys=True, separators=(",", ":")).encode()
        ).hexdigest()
        signal = self._default.signal
        self._allow_verdict = Verdict(
            decision=self._default,
            signal=signal,
            rule=None if signal is None else "default",
            reason="no rule matched"
            if signal is None
            else f"no rule matched; policy default is {self._default.value}",
            matched=None,
            policy=self._name,
            policy_hash=self._content_hash,
            code="ok" if signal is None else "policy_default",
        )

    def _compile(self) -> None:
        regexes = []
        by_group: dict[str, list[tuple[int, str]]] = {}
        for index, pattern in enumerate(self._patterns):
            rule = f"blocked_patterns[{index}] ({pattern.rule_id!r})"
            try:
                source, compiled = compile_pattern(pattern.regex)
            except ValueError as exc:
                raise PolicyLoadError(
                    str(exc), policy=self._name, rule=rule, field="pattern"
                ) from None
            regexes.append(compiled)
            for group in pattern.fields or ("all",):
                by_group.setdefault(group, []).append((index, source))
        self._regexes = tuple(regexes)
        sets = []
        for group, members in by_group.items():
            rule_set = re2.Set.SearchSet(OPTIONS)
            index_map = [_DETECTOR]
            rule_set.Add(_DETECTOR_REGEX)
            for index, source in members:
                rule_set.Add(source)
                index_map.append(index)
            try:
                rule_set.Compile()
            except re2.error as exc:
                raise PolicyLoadError(
                    f"RE2 cannot compile the {group!r} pattern set: {exc}",
                    policy=self._name,
                    field="blocked_patterns",
                ) from None
            # The binding's Match on bytes, minus the wrapper's str check.
            match = getattr(rule_set, "_set", rule_set).Match
            # A text holding none of these marks cannot match: its scan is skipped.
            marks = required_marks([_DETECTOR_REGEX, *(source for _, source in members)])
            sets.append((group, match, tuple(index_map), marks))
        # "all" last: group-specific texts are usually short and hit first.
        sets.sort(key=lambda item: item[0] == "all")
        self._sets = tuple(sets)
        self._all_text = "all" in by_group

    # -- read-only view -------------------------------------------------------------

    @property
    def name(self) -> str:
        """The policy's name."""
        return self._name

    @property
    def version(self) -> str:
        """The policy's version string."""
        return self._version

    @property
    def description(self) -> str:
        """Free text; not part of :attr:`content_hash`."""
        return self._description

    @property
    def default(self) -> Decision:
        """The decision when no rule hits."""
        return self._default

    @property
    def blocked_actions(self) -> frozenset[str]:
        """Blocked action types."""
        return frozenset(self._action_rules)

    @property
    def action_rules(self) -> tuple[ActionRule, ...]:
        """Blocked action rules with their signals and reasons, in rule order."""
        return tuple(self._action_rules.values())

    @property
    def blocked_patterns(self) -> tuple[Pattern, ...]:
        """Pattern rules in rule order."""
        return self._patterns

    @property
    def allowed_domains(self) -> tuple[str, ...] | None:
        """Allowed hosts (and their subdomains); ``None`` allows any."""
        return self._allowed_domains

    @property
    def blocked_domains(self) -> tuple[str, ...]:
        """Blocked hosts (and their subdomains)."""
        return self._blocked_domains

    @property
    def required_capabilities(self) -> Mapping[str, frozenset[str]]:
        """Capabilities a caller must hold, per action type."""
        return dict(self._required)

    @property
    def checks(self) -> tuple[Check, ...]:
        """Enabled structural checks, in rule order."""
        return self._checks

    @property
    def blocked_commands(self) -> tuple[CommandRule, ...]:
        """Blocked-executable rules, in rule order."""
        return self._command_rules

    @property
    def blocked_paths(self) -> tuple[PathRule, ...]:
        """Protected-path rules, in rule order."""
        return self._path_rules

    @property
    def blocked_networks(self) -> tuple[NetworkRule, ...]:
        """Blocked address-range rules, in rule order."""
        return self._network_rules

    @property
    def tools(self) -> Tools:
        """The ``tools`` section (empty: default allow, no rules)."""
        return self._tools

    @property
    def data(self) -> PolicyData:
        """The named values conditions read as ``data.*``."""
        return self._data

    def reload_data(self) -> bool:
        """Re-read a ``data`` file now (it is also re-read on its own when it changes)."""
        return self._data.reload()

    def review_terms(self, rule_id: str | None) -> ReviewTerms | None:
        """The review terms the SIGSTOP rule ``rule_id`` carries (``None``: none given)."""
        return None if rule_id is None else self._review_terms.get(rule_id)

    @property
    def content_hash(self) -> str:
        """SHA-256 (hex) of the canonical JSON of the rules; stable across processes."""
        return self._content_hash

    def _content(self) -> dict[str, Any]:
        content = {
            "name": self._name,
            "version": self._version,
            "default": self._default.value,
            "blocked_actions": [
                {
                    "action": r.action,
                    "id": r.rule_id,
                    "reason": r.reason,
                    "signal": r.signal.value,
                    **_terms(r),
                }
                for r in self._action_rules.values()
            ],
            "blocked_patterns": [
                {
                    "id": p.rule_id,
                    "pattern": p.regex,
                    "reason": p.reason,
                    "signal": p.signal.value,
                    "fields": None if p.fields is None else list(p.fields),
                    **_terms(p),
                }
                for p in self._patterns
            ],
            "allowed_domains": None
            if self._allowed_domains is None
            else list(self._allowed_domains),
            "blocked_domains": list(self._blocked_domains),
            "required_capabilities": {k: sorted(v) for k, v in sorted(self._required.items())},
        }
        # Tool keys only when used, so older policies keep their hashes.
        if not self._tools.empty:
            content["tools"] = self._tools.to_dict()
        if self._data.path is not None:
            content["data"] = self._data.path
        elif self._data.inline():
            content["data"] = dict(self._data.inline() or {})
        # Structural keys only when used, so older policies keep their hashes.
        if self._checks:
            content["checks"] = [
                {"check": c.id, "signal": c.signal.value, "reason": c.reason, **_terms(c)}
                for c in self._checks
            ]
        for key, rules, field in (
            ("blocked_commands", self._command_rules, "commands"),
            ("blocked_paths", self._path_rules, "paths"),
            ("blocked_networks", self._network_rules, "networks"),
        ):
            if rules:
                content[key] = [
                    {
                        field: list(getattr(r, field)),
                        "id": r.rule_id,
                        "reason": r.reason,
                        "signal": r.signal.value,
                        **_terms(r),
                    }
                    for r in rules
                ]
        return content

    def to_dict(self) -> dict[str, Any]:
        """The policy as a mapping :func:`load_policy` accepts (round-trips)."""
        content = self._content()
        content["description"] = self._description
        if content["allowed_domains"] is None:
            del content["allowed_domains"]
        for pattern in content["blocked_patterns"]:
            if pattern["fields"] is None:
                del pattern["fields"]
        return content

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Policy):
            return NotImplemented
        return self._content_hash == other._content_hash

    def __hash__(self) -> int:
        return hash(self._content_hash)

    def __repr__(self) -> str:
        return (
            f"Policy(name={self._name!r}, version={self._version!r}, "
            f"rules={len(self._action_rules) + len(self._patterns)}, "
            f"hash={self._content_hash[:12]})"
        )


def _terms(rule: Any) -> dict[str, Any]:
    # Only rules with terms write the keys, so older policies keep their hashes.
    return {} if rule.review is None else dict(rule.review.to_dict())


def _review_terms(policy: Policy) -> dict[str, ReviewTerms]:
    rules: tuple[Any, ...] = (
        *policy.action_rules,
        *policy.blocked_patterns,
        *policy.checks,
        *policy.blocked_commands,
        *policy.blocked_paths,
        *policy.blocked_networks,
        *policy.tools.rules,
    )
    terms: dict[str, ReviewTerms] = {}
    for rule in rules:
        if rule.review is not None:
            terms.setdefault(rule.rule_id, rule.review)
    return terms


def _check_tool_ambiguity(rules: Mapping[str, ActionRule], tools: Tools, policy: str) -> None:
    """A blocked action that could be read two ways is a load error, never a no-op."""
    allowed = {name.casefold() for name in tools.allow if not is_glob(name)}
    for rule in rules.values():
        where = f"blocked_actions ({rule.rule_id!r})"
        if is_glob(rule.action):
            raise PolicyLoadError(
                f"{rule.action!r} is a glob; blocked_actions match action types and tool names "
                "exactly: use a tools rule for a glob",
                policy=policy,
                rule=where,
                field="action",
            )
        if rule.action in allowed:
            raise PolicyLoadError(
                f"{rule.action!r} is both blocked (blocked_actions) and allowed (tools.allow)",
                policy=policy,
                rule=where,
                field="action",
            )
    for index, tool_rule in enumerate(tools.rules):
        for name in tool_rule.tools:
            blocked = rules.get(name.casefold())
            if blocked is not None and blocked.signal.rank < tool_rule.signal.rank:
                # The stronger blocked action always decides first: the tool rule
                # would be dead, so say so rather than ignore it.
                raise PolicyLoadError(
                    f"tool {name!r} is blocked by {blocked.rule_id} ({blocked.signal.value}), "
                    f"so this {tool_rule.signal.value} rule could never decide; drop one of "
                    f"them (disabled_rules: [{blocked.rule_id}] for an inherited one)",
                    policy=policy,
                    rule=f"tools.rules[{index}] ({tool_rule.rule_id!r})",
                    field="tool",
                )


def _domains(values: Iterable[str], policy: str, field: str) -> tuple[str, ...]:
    if isinstance(values, str):
        raise PolicyLoadError("expected a list of domains", policy=policy, field=field)
    out = []
    for index, value in enumerate(values):
        if not isinstance(value, str):
            raise PolicyLoadError(
                f"entry {index} must be a string", policy=policy, field=f"{field}[{index}]"
            )
        try:
            out.append(normalise_domain(value))
        except ValueError as exc:
            raise PolicyLoadError(str(exc), policy=policy, field=f"{field}[{index}]") from None
    return tuple(dict.fromkeys(out))


def _unique(values: object, field: str, fail: Fail) -> tuple[Any, ...]:
    """Rules of one structural kind, read by the builder; ids must be unique."""
    kind, spellings = STRUCTURAL[field]
    out: dict[str, Any] = {}
    for index, rule in enumerate(structural_rules(values, field, kind, spellings, fail)):
        if rule.rule_id in out:
            raise fail(f"duplicate rule id {rule.rule_id!r}", "id", f"{field}[{index}]")
        out[rule.rule_id] = rule
    return tuple(out.values())


def _dedupe_ids(patterns: tuple[Pattern, ...], policy: str) -> tuple[Pattern, ...]:
    """Make ids unique: a reason-derived id gets ``-2``, ``-3``...; an explicit clash errors."""
    from ._types import slug

    seen: set[str] = set()
    out = []
    for index, pattern in enumerate(patterns):
        if not isinstance(pattern, Pattern):
            raise PolicyLoadError(
                f"expected a Pattern, got {type(pattern).__name__}",
                policy=policy,
                rule=f"blocked_patterns[{index}]",
            )
        rule_id = pattern.rule_id
        if rule_id in seen:
            if rule_id != slug(pattern.reason):
                raise PolicyLoadError(
                    f"duplicate rule id {rule_id!r}",
                    policy=policy,
                    rule=f"blocked_patterns[{index}]",
                    field="id",
                )
            n = 2
            while f"{rule_id}-{n}" in seen:
                n += 1
            rule_id = f"{rule_id}-{n}"
            pattern = Pattern(
                pattern.regex, pattern.reason, pattern.signal, rule_id, pattern.fields
            )
        seen.add(rule_id)
        out.append(pattern)
    return tuple(out)


def load_policy(
    source: str | os.PathLike[str] | Mapping[str, Any] = "strict", *, name: str | None = None
) -> Policy:
    """Load a preset name, a YAML policy file or a policy mapping.

    Same as ``_policy_load.load_policy`` (imported lazily: the loader builds on
    this module).
    """
    from ._load import load_policy as _load

    return _load(source, name=name)
