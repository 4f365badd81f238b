"""Reading a policy's rules at construction: checks across rules, and the pattern sets.

Helpers of ``_policy``: unique rule ids, canonical domains, review terms by
rule id, blocked actions that a ``tools`` section would make ambiguous (load
errors, never no-ops), and the RE2 sets the blocked patterns compile into
(one per field group, each with the SQL-comment detector and the marks a
text must hold to be worth scanning).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import re2

from agent_os.policies.analysis._net import normalise_domain
from agent_os.policies.analysis._re import OPTIONS, compile_pattern, required_marks

from ._build import STRUCTURAL, Fail, structural_rules
from ._errors import PolicyLoadError
from ._judge import _DETECTOR, _DETECTOR_REGEX
from ._terms import ReviewTerms
from ._tools import Tools, is_glob
from ._types import ActionRule, Pattern

__all__ = [
    "check_tool_ambiguity",
    "compile_patterns",
    "dedupe_ids",
    "domains",
    "review_terms",
    "terms",
    "unique",
]


def compile_patterns(
    patterns: tuple[Pattern, ...], policy: str
) -> tuple[tuple[Any, ...], tuple[tuple[str, Any, tuple[int, ...], frozenset[str] | None], ...]]:
    """Each pattern's compiled regex, and one RE2 set per field group ("all" last)."""
    regexes = []
    by_group: dict[str, list[tuple[int, str]]] = {}
    for index, pattern in enumerate(patterns):
        rule = f"blocked_patterns[{index}] ({pattern.rule_id!r})"
        try:
            source, compiled = compile_pattern(pattern.regex)
        except ValueError as exc:
            raise PolicyLoadError(str(exc), policy=policy, rule=rule, field="pattern") from None
        regexes.append(compiled)
        for group in pattern.fields or ("all",):
            by_group.setdefault(group, []).append((index, source))
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
                policy=policy,
                field="blocked_patterns",
            ) from None
        # The binding's Match on bytes, minus the wrapper's str check.
        match = getattr(rule_set, "_set", rule_set).Match
        # A text holding none of these marks cannot match: its scan is skipped.
        marks = required_marks([_DETECTOR_REGEX, *(source for _, source in members)])
        sets.append((group, match, tuple(index_map), marks))
    # "all" last: group-specific texts are usually short and hit first.
    sets.sort(key=lambda item: item[0] == "all")
    return tuple(regexes), tuple(sets)


def terms(rule: Any) -> dict[str, Any]:
    # Only rules with terms write the keys, so older policies keep their hashes.
    return {} if rule.review is None else dict(rule.review.to_dict())


def review_terms(policy: Any) -> dict[str, ReviewTerms]:
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


def check_tool_ambiguity(rules: Mapping[str, ActionRule], tools: Tools, policy: str) -> None:
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


def domains(values: Iterable[str], policy: str, field: str) -> tuple[str, ...]:
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


def unique(values: object, field: str, fail: Fail) -> tuple[Any, ...]:
    """Rules of one structural kind, read by the builder; ids must be unique."""
    kind, spellings = STRUCTURAL[field]
    out: dict[str, Any] = {}
    for index, rule in enumerate(structural_rules(values, field, kind, spellings, fail)):
        if rule.rule_id in out:
            raise fail(f"duplicate rule id {rule.rule_id!r}", "id", f"{field}[{index}]")
        out[rule.rule_id] = rule
    return tuple(out.values())


def dedupe_ids(patterns: tuple[Pattern, ...], policy: str) -> tuple[Pattern, ...]:
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
