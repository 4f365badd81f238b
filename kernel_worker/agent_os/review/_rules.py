"""How long a held action waits and how many reviewers it needs, per policy rule.

A review deadline defaults to 15 minutes and one approval. Rules are matched
by id (globs allowed, first match wins), so a risky rule can ask for two
distinct reviewers and a short deadline::

    timeout: 15m
    rules:
      "sql:*": {approvals: 2, timeout: 1h}
      "shell:deploy": {timeout: 90s}

A SIGSTOP rule may also carry its terms in the policy itself (``approvals``,
``review_timeout``; :class:`agent_os.policies.ReviewTerms`): those win over
this file's, term by term (see :meth:`ReviewRules.with_policy`).
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from agent_os.policies import ReviewTerms, parse_duration

__all__ = ["DEFAULT_REVIEW_TIMEOUT", "ReviewRule", "ReviewRules", "parse_duration"]

#: Seconds a held action waits for a decision unless a rule says otherwise.
DEFAULT_REVIEW_TIMEOUT = 15 * 60.0


@dataclass(frozen=True, slots=True)
class ReviewRule:
    """The review terms of the rules whose id matches ``match``."""

    match: str
    timeout: float | None = None
    approvals: int | None = None


@dataclass(frozen=True, slots=True)
class ReviewRules:
    """Review terms: a default timeout and approvals, and overrides by rule id."""

    timeout: float = DEFAULT_REVIEW_TIMEOUT
    approvals: int = 1
    rules: tuple[ReviewRule, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        parse_duration(self.timeout)
        if self.approvals < 1:
            raise ValueError("approvals must be at least 1")

    def match(self, rule: str | None) -> ReviewRule | None:
        """The first entry whose glob matches ``rule`` (``None``: the defaults apply)."""
        for entry in self.rules:
            if rule is not None and fnmatch.fnmatchcase(rule, entry.match):
                return entry
        return None

    def terms(self, rule: str | None) -> tuple[float, int]:
        """``(timeout, approvals)`` for a verdict held by ``rule``."""
        entry = self.match(rule)
        if entry is None:
            return self.timeout, self.approvals
        return (
            self.timeout if entry.timeout is None else entry.timeout,
            self.approvals if entry.approvals is None else entry.approvals,
        )

    def with_policy(self, rule: str | None, policy: ReviewTerms | None) -> tuple[float, int, bool]:
        """``(timeout, approvals, overlap)``: the policy's terms win over this file's.

        ``overlap`` is true when both the policy and an entry of this file give
        terms for ``rule`` (the file's are then ignored where the policy has one).
        """
        timeout, approvals = self.terms(rule)
        if policy is None:
            return timeout, approvals, False
        return (
            timeout if policy.timeout is None else policy.timeout,
            approvals if policy.approvals is None else policy.approvals,
            self.match(rule) is not None,
        )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> ReviewRules:
        """Parse the YAML shape in this module's docstring; unknown keys are refused."""
        unknown = set(data) - {"timeout", "approvals", "rules"}
        if unknown:
            raise ValueError(f"unknown review settings {sorted(unknown)}")
        raw_rules = data.get("rules") or {}
        if not isinstance(raw_rules, Mapping):
            raise ValueError("review 'rules' must map rule ids (or globs) to settings")
        rules = []
        for match, terms in raw_rules.items():
            if not isinstance(terms, Mapping) or set(terms) - {"timeout", "approvals"}:
                raise ValueError(f"review rule {match!r}: expected {{timeout, approvals}}")
            rules.append(
                ReviewRule(
                    str(match),
                    None if "timeout" not in terms else parse_duration(terms["timeout"]),
                    None if "approvals" not in terms else _approvals(terms["approvals"], match),
                )
            )
        return cls(
            timeout=parse_duration(data.get("timeout", DEFAULT_REVIEW_TIMEOUT)),
            approvals=_approvals(data.get("approvals", 1), "default"),
            rules=tuple(rules),
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ReviewRules:
        """Read review terms from a YAML file: the whole file, or its ``review:`` section."""
        data = yaml.safe_load(Path(path).read_text("utf-8")) or {}
        if not isinstance(data, Mapping):
            raise ValueError(f"{path}: expected a mapping of review settings")
        section = data.get("review", data) if "policies" in data or "review" in data else data
        if not isinstance(section, Mapping):
            raise ValueError(f"{path}: 'review' must be a mapping of review settings")
        return cls.from_mapping(section)


def _approvals(value: object, where: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"review rule {where!r}: approvals must be a whole number >= 1")
    return value
