"""The policy model: :class:`Policy` compiles once; evaluation lives in ``_judge``.

Speed comes from doing the work at construction: every pattern is compiled
once by RE2 (linear time, no catastrophic backtracking) into one ``re2.Set``
per argument field group, so an action costs one set scan per group in use;
the individual regex runs only for the winning rule, to report what matched.
Every rule entry is read by the one builder (``_build``), whether it comes
from Python, YAML or a preset; the sets and the checks across rules (unique
ids, ambiguous blocked actions) are in ``_policy_rules``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from typing import Any

from ._build import action_rules, fail_in
from ._build import checks as checks_of
from ._build import patterns as patterns_of
from ._data import PolicyData
from ._errors import PolicyLoadError
from ._judge import Judge, action_key
from ._plan import Plan
from ._policy_rules import (
    check_tool_ambiguity,
    compile_patterns,
    dedupe_ids,
    domains,
    review_terms,
    terms,
    unique,
)
from ._rules import Check, CommandRule, NetworkRule, PathRule
from ._struct import Structural
from ._terms import ReviewTerms
from ._tools import Tools, ToolSection
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
        self._patterns = dedupe_ids(tuple(p for p, _ in patterns_of(blocked_patterns, fail)), name)
        self._allowed_domains = (
            None if allowed_domains is None else domains(allowed_domains, name, "allowed_domains")
        )
        self._blocked_domains = domains(blocked_domains, name, "blocked_domains")
        self._required = {
            action_key(action): frozenset(caps)
            for action, caps in (required_capabilities or {}).items()
        }
        # A later check entry for an id replaces an earlier one (groups expand to ids).
        self._checks = tuple({c.id: c for c in checks_of(checks, fail)}.values())
        self._command_rules = unique(blocked_commands, "blocked_commands", fail)
        self._path_rules = unique(blocked_paths, "blocked_paths", fail)
        self._network_rules = unique(blocked_networks, "blocked_networks", fail)
        try:
            self._data = PolicyData(data)
            self._tools = Tools() if tools is None else Tools.from_value(tools)
            self._tool_section = ToolSection(self._tools, self._data)
        except PolicyLoadError as exc:
            raise exc.located(policy=name) from None
        check_tool_ambiguity(self._action_rules, self._tools, name)
        self._review_terms = review_terms(self)
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
        self._regexes, self._sets = compile_patterns(self._patterns, self._name)
        self._all_text = any(group == "all" for group, _, _, _ in self._sets)

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
                    **terms(r),
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
                    **terms(p),
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
                {"check": c.id, "signal": c.signal.value, "reason": c.reason, **terms(c)}
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
                        **terms(r),
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


def load_policy(
    source: str | os.PathLike[str] | Mapping[str, Any] = "strict", *, name: str | None = None
) -> Policy:
    """Load a preset name, a YAML policy file or a policy mapping.

    Same as ``_policy_load.load_policy`` (imported lazily: the loader builds on
    this module).
    """
    from ._load import load_policy as _load

    return _load(source, name=name)
