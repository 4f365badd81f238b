"""The one builder of policy rules: every rule entry, from Python, YAML or a preset, is read here.

A rule entry may be the rule object itself (``ActionRule``, ``Pattern``,
``Check``, ``CommandRule``...), its short string form (``"file_write"``,
``"sql"``, ``"rm"``) or its mapping form (``{action, signal, reason, id}``,
``{pattern, reason, ...}``, ``{check, signal}``, ``{command, ...}``). The same
functions serve :class:`~agent_os.policies.Policy` (Python) and the YAML
loader (which adds only parsing and ``extends``), so a rule is validated
once, the same way, wherever it comes from. Every problem is a
:class:`PolicyLoadError` naming the rule and the field, with the likely key
suggested for a typo; ``fail`` adds what the caller knows (file, policy).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from agent_os.policies.analysis._re import compile_pattern

from ._errors import PolicyLoadError, unknown_key
from ._rules import CHECK_GROUPS, Check, CommandRule, NetworkRule, PathRule
from ._terms import TERM_KEYS, ReviewTerms
from ._types import ActionRule, Pattern, slug

__all__ = [
    "STRUCTURAL",
    "Fail",
    "action_rules",
    "checks",
    "fail_in",
    "patterns",
    "structural_rules",
]

#: ``fail(detail, field, rule)``: the caller's way to build a located load error.
Fail = Callable[..., PolicyLoadError]

#: Structural kind -> (rule class, accepted spellings of its entries' key).
STRUCTURAL: dict[str, tuple[Any, tuple[str, ...]]] = {
    "blocked_commands": (CommandRule, ("command", "commands")),
    "blocked_paths": (PathRule, ("path", "paths")),
    "blocked_networks": (NetworkRule, ("network", "networks")),
}
# Any rule entry may carry review terms (``approvals``, ``review_timeout``; SIGSTOP only).
_CHECK_KEYS = ("check", "signal", "reason", *TERM_KEYS)
_PATTERN_KEYS = ("pattern", "regex", "reason", "signal", "id", "fields", *TERM_KEYS)
_ACTION_KEYS = ("action", "reason", "signal", "id", *TERM_KEYS)


def fail_in(*, file: str | None = None, policy: str | None = None) -> Fail:
    """A ``fail`` that names ``file`` and ``policy``."""

    def fail(detail: str, field: str | None = None, rule: str | None = None) -> PolicyLoadError:
        return PolicyLoadError(detail, file=file, policy=policy, rule=rule, field=field)

    return fail


def _entries(entries: object, fail: Fail, field: str, what: str = "a list") -> list[Any]:
    # Any iterable from Python; a string or mapping here is a mistake, never a list of one.
    if isinstance(entries, str | bytes | Mapping) or not isinstance(entries, Iterable):
        raise fail(f"must be {what}", field)
    return list(entries)


def action_rules(entries: object, fail: Fail) -> list[ActionRule]:
    """``blocked_actions`` entries: action types / tool names, mappings or :class:`ActionRule`."""
    rules = []
    for index, entry in enumerate(_entries(entries, fail, "blocked_actions")):
        rule = f"blocked_actions[{index}]"
        try:
            short = _short_form(entry, ActionRule)
            if short is not None:
                rules.append(short)
                continue
            entry = _mapping(entry, fail, rule, "must be an action type or a mapping", _ACTION_KEYS)
            if "action" not in entry:
                raise fail("missing 'action'", "action", rule)
            rules.append(_from_mapping(ActionRule, entry["action"], entry))
        except PolicyLoadError as exc:
            raise _relabel(exc, fail, rule) from None
    return rules


def patterns(entries: object, fail: Fail) -> list[tuple[Pattern, bool]]:
    """``blocked_patterns`` entries with whether each id was given (not derived from the reason)."""
    out = []
    for index, entry in enumerate(_entries(entries, fail, "blocked_patterns")):
        rule = f"blocked_patterns[{index}]"
        try:
            if isinstance(entry, Pattern):
                rule = f"{rule} ({entry.rule_id!r})"
                compile_pattern(entry.regex)
                out.append((entry, entry.rule_id != slug(entry.reason)))
                continue
            rule = _named(rule, entry)
            entry = _mapping(
                entry, fail, rule, "must be a mapping with 'pattern' and 'reason'", _PATTERN_KEYS
            )
            if "pattern" in entry and "regex" in entry:
                raise fail("give 'pattern' or 'regex', not both", "regex", rule)
            regex = entry.get("pattern", entry.get("regex"))
            if regex is None:
                raise fail("missing 'pattern'", "pattern", rule)
            if "reason" not in entry:
                raise fail("missing 'reason'", "reason", rule)
            fields = entry.get("fields")
            if isinstance(fields, str):
                fields = [fields]
            explicit = entry.get("id") is not None
            reason = entry["reason"]
            rule_id = (
                entry["id"] if explicit else (slug(reason) if isinstance(reason, str) else None)
            )
            pattern = Pattern(
                regex,
                reason,
                signal=entry.get("signal", "SIGKILL"),
                id=rule_id,
                fields=None
                if fields is None
                else tuple(fields)
                if isinstance(fields, list)
                else fields,
                review=ReviewTerms.read(entry),
            )
            compile_pattern(pattern.regex)
        except PolicyLoadError as exc:
            raise _relabel(exc, fail, rule) from None
        except ValueError as exc:
            raise fail(str(exc), "pattern", rule) from None
        out.append((pattern, explicit))
    return out


def checks(entries: object, fail: Fail) -> list[Check]:
    """``checks`` entries: check ids, group names (``sql``...), mappings or :class:`Check`."""
    out: list[Check] = []
    for index, entry in enumerate(
        _entries(entries, fail, "checks", "a list of check ids or groups")
    ):
        rule = f"checks[{index}]"
        try:
            if isinstance(entry, Check):
                out.append(entry)
                continue
            if isinstance(entry, str) and entry in CHECK_GROUPS:
                out.extend(Check(c) for c in CHECK_GROUPS[entry])
                continue
            if isinstance(entry, str):
                out.append(Check(entry))
                continue
            entry = _mapping(
                entry, fail, rule, "must be a check id, a group or a mapping", _CHECK_KEYS
            )
            if "check" not in entry:
                raise fail("missing 'check'", "check", rule)
            ids = CHECK_GROUPS.get(entry["check"], (entry["check"],))
            for check_id in ids:
                out.append(
                    Check(
                        check_id,
                        signal=entry.get("signal", "SIGKILL"),
                        reason=entry.get("reason", ""),
                        review=ReviewTerms.read(entry),
                    )
                )
        except PolicyLoadError as exc:
            raise _relabel(exc, fail, rule) from None
    return out


def structural_rules(
    entries: object,
    key: str,
    kind: Any,
    spellings: tuple[str, ...],
    fail: Fail,
) -> list[Any]:
    """Entries of one structural kind (``blocked_commands``...): strings, mappings or rules."""
    valid = (*spellings, "reason", "signal", "id", *TERM_KEYS)
    out = []
    for index, entry in enumerate(_entries(entries, fail, key)):
        rule = f"{key}[{index}]"
        try:
            short = _short_form(entry, kind)
            if short is not None:
                out.append(short)
                continue
            rule = _named(rule, entry)
            must = f"must be a string or a mapping with {spellings[0]!r}"
            entry = _mapping(entry, fail, rule, must, valid)
            given = [s for s in spellings if s in entry]
            if len(given) != 1:
                raise fail(f"give exactly one of {', '.join(spellings)}", spellings[0], rule)
            out.append(_from_mapping(kind, entry[given[0]], entry))
        except PolicyLoadError as exc:
            raise _relabel(exc, fail, rule) from None
    return out


def _short_form(entry: object, kind: Any) -> Any:
    # The rule object itself, or its string form; None for anything else (a mapping).
    if isinstance(entry, kind):
        return entry
    if isinstance(entry, str):
        return kind(entry)
    return None


def _from_mapping(kind: Any, value: object, entry: Mapping[str, Any]) -> Any:
    # A rule of the mapping form {<kind's key>, reason, signal, id, review terms}.
    return kind(
        value,
        reason=entry.get("reason", ""),
        signal=entry.get("signal", "SIGKILL"),
        id=entry.get("id"),
        review=ReviewTerms.read(entry),
    )


def _named(rule: str, entry: object) -> str:
    # A mapping's own id names the rule in errors, once the id is known to be a string.
    if isinstance(entry, Mapping) and isinstance(entry.get("id"), str):
        return f"{rule} ({entry['id']!r})"
    return rule


def _mapping(
    entry: object, fail: Fail, rule: str, must: str, valid: tuple[str, ...]
) -> Mapping[str, Any]:
    # The mapping form of a rule entry, every key one the rule kind knows.
    if not isinstance(entry, Mapping):
        raise fail(must, None, rule)
    for key in entry:
        if key not in valid:
            raise unknown_key(key, valid, rule=rule)
    return entry


def _relabel(exc: PolicyLoadError, fail: Fail, rule: str) -> PolicyLoadError:
    err: PolicyLoadError = fail(exc.detail, exc.field, rule)
    return err
