"""The ``tools`` section of a policy: which framework tools an agent may call, and when.

::

    tools:
      default: deny                  # a tool nothing below names: allow | deny | review
      allow: [get_balance, "get_*"]
      rules:
        - tool: send_money           # a name, a glob, or a list of them
          when: "args.amount > 500.0 || !(args.recipient in data.payees)"
          signal: SIGSTOP
          reason: large or new-payee payment

Tool names match exactly or by glob (``*``, ``?``), case-insensitively. A rule
without ``when`` always applies to its tools; a rule whose CEL condition
(see ``_cel``) is true applies; one whose condition fails to evaluate is a
deny with code ``condition_error``. A tool named by a rule or by ``allow``
is governed by the rest of the policy; a tool nothing here names gets
``default`` (rule id ``tools:default``). Rules carry ``signal`` (SIGKILL
unless given), ``reason`` and ``id`` (``tool:<first name>`` unless given),
with the same precedence as every other rule.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import re2

from agent_os.policies.analysis._re import OPTIONS

from ._cel import Condition, Plan, build_context, compile_condition, evaluate
from ._data import PolicyData
from ._errors import PolicyLoadError, unknown_key
from ._rules import _entries
from ._terms import TERM_KEYS, ReviewTerms, check_terms
from ._types import Decision, Signal, _coerce_signal

__all__ = ["TOOL_DEFAULTS", "ToolRule", "ToolSection", "Tools"]

#: Decisions ``tools.default`` may take.
TOOL_DEFAULTS = ("allow", "deny", "review")
_RULE_KEYS = ("tool", "tools", "when", "signal", "reason", "id", *TERM_KEYS)
_SECTION_KEYS = ("default", "allow", "rules")
_CACHE_MAX = 4096
_GLOB_CHARS = re.compile(r"[*?]")

Offer = Callable[[int, Signal, str, str, str | None], None]


def is_glob(name: str) -> bool:
    """True when ``name`` holds a glob character (``*`` or ``?``)."""
    return _GLOB_CHARS.search(name) is not None


def glob_source(glob: str) -> str:
    """An anchored RE2 regex for a tool-name glob (``*`` any run, ``?`` one character)."""
    out = []
    for char in glob:
        out.append(".*" if char == "*" else "." if char == "?" else re.escape(char))
    return "^" + "".join(out) + "$"


@dataclass(frozen=True, slots=True)
class ToolRule:
    """A rule over tool calls: the tools it names, an optional CEL condition, a signal."""

    tools: tuple[str, ...]
    when: str | None = None
    signal: Signal = Signal.SIGKILL
    reason: str = ""
    id: str | None = None
    #: Review terms of a SIGSTOP rule (``approvals``, ``review_timeout``).
    review: ReviewTerms | None = None

    def __post_init__(self) -> None:
        label = repr(self.id) if isinstance(self.id, str) else None
        object.__setattr__(self, "tools", _entries(self.tools, label, "tool"))
        object.__setattr__(self, "signal", _coerce_signal(self.signal, label))
        check_terms(self.review, self.signal, label)
        if self.id is None:
            object.__setattr__(self, "id", f"tool:{self.tools[0]}")
        elif not isinstance(self.id, str) or not self.id.strip():
            raise PolicyLoadError("id must be a non-empty string", rule=label, field="id")
        if self.when is not None and (not isinstance(self.when, str) or not self.when.strip()):
            raise PolicyLoadError(
                "when must be a non-empty CEL expression", rule=repr(self.id), field="when"
            )
        if not isinstance(self.reason, str):
            raise PolicyLoadError("reason must be a string", rule=repr(self.id), field="reason")
        if not self.reason:
            names = ", ".join(self.tools)
            reason = (
                f"tool {names} is blocked" if self.when is None else f"tool {names}: {self.when}"
            )
            object.__setattr__(self, "reason", reason)

    @property
    def rule_id(self) -> str:
        """The rule id (``tool:<first name>`` unless given)."""
        assert self.id is not None
        return self.id

    @classmethod
    def from_value(cls, value: object, rule: str) -> ToolRule:
        """A rule from its mapping form (``tool`` or ``tools``, ``when``, ``signal``, ...)."""
        if isinstance(value, ToolRule):
            return value
        if not isinstance(value, Mapping):
            raise PolicyLoadError("must be a mapping with 'tool'", rule=rule)
        if isinstance(value.get("id"), str):
            rule = f"{rule} ({value['id']!r})"
        for key in value:
            if key not in _RULE_KEYS:
                raise unknown_key(key, _RULE_KEYS, rule=rule)
        given = [k for k in ("tool", "tools") if k in value]
        if len(given) != 1:
            raise PolicyLoadError("give exactly one of tool, tools", rule=rule, field="tool")
        try:
            return cls(
                value[given[0]],
                when=value.get("when"),
                signal=value.get("signal", Signal.SIGKILL),
                reason=value.get("reason", ""),
                id=value.get("id"),
                review=ReviewTerms.read(value),
            )
        except PolicyLoadError as exc:
            raise PolicyLoadError(exc.detail, rule=rule, field=exc.field) from None

    def to_dict(self) -> dict[str, Any]:
        """The mapping form (round-trips through :meth:`from_value`)."""
        out: dict[str, Any] = {"tool": list(self.tools), "id": self.rule_id}
        if self.when is not None:
            out["when"] = self.when
        out["signal"] = self.signal.value
        out["reason"] = self.reason
        if self.review is not None:
            out.update(self.review.to_dict())
        return out


@dataclass(frozen=True, slots=True)
class Tools:
    """The ``tools`` section: a default for unnamed tools, an allow list, rules."""

    default: Decision = Decision.ALLOW
    allow: tuple[str, ...] = ()
    rules: tuple[ToolRule, ...] = ()

    def __post_init__(self) -> None:
        default = self.default
        if isinstance(default, str) and default.strip().lower() in TOOL_DEFAULTS:
            object.__setattr__(self, "default", Decision(default.strip().lower()))
        else:
            raise PolicyLoadError(
                f"expected one of {', '.join(TOOL_DEFAULTS)}, got {default!r}", field="default"
            )
        allow = () if self.allow in ((), []) else _entries(self.allow, "tools.allow", "allow")
        object.__setattr__(self, "allow", allow)
        rules = []
        seen: set[str] = set()
        for index, value in enumerate(self.rules):
            rule = ToolRule.from_value(value, f"tools.rules[{index}]")
            if rule.rule_id in seen:
                raise PolicyLoadError(
                    f"duplicate rule id {rule.rule_id!r}", rule=f"tools.rules[{index}]", field="id"
                )
            seen.add(rule.rule_id)
            rules.append(rule)
        object.__setattr__(self, "rules", tuple(rules))

    @classmethod
    def from_value(cls, value: object) -> Tools:
        """The section from its mapping form; every problem is a :class:`PolicyLoadError`."""
        if isinstance(value, Tools):
            return value
        if not isinstance(value, Mapping):
            raise PolicyLoadError("must be a mapping with default, allow, rules", field="tools")
        for key in value:
            if key not in _SECTION_KEYS:
                raise unknown_key(key, _SECTION_KEYS, rule="tools")
        rules = value.get("rules", [])
        if not isinstance(rules, list):
            raise PolicyLoadError("must be a list of rules", rule="tools", field="rules")
        return cls(value.get("default", "allow"), value.get("allow", ()), tuple(rules))

    def extended(self, child: Mapping[str, Any], disabled: Iterable[str] = ()) -> Tools:
        """This section as inherited by ``child``: own rules replace same-id ones, allow adds up."""
        own = Tools.from_value(child)
        rules = {rule.rule_id: rule for rule in self.rules}
        for rule_id in disabled:
            rules.pop(rule_id, None)
        for rule in own.rules:
            rules[rule.rule_id] = rule
        return Tools(
            child.get("default", self.default.value),
            tuple(dict.fromkeys((*self.allow, *own.allow))),
            tuple(rules.values()),
        )

    @property
    def empty(self) -> bool:
        """True for the section a policy without ``tools`` has."""
        return self.default is Decision.ALLOW and not self.allow and not self.rules

    def to_dict(self) -> dict[str, Any]:
        """The mapping form (round-trips through :meth:`from_value`)."""
        return {
            "default": self.default.value,
            "allow": list(self.allow),
            "rules": [rule.to_dict() for rule in self.rules],
        }


class _Matcher:
    """Which of a list of names/globs a tool name matches (case-insensitive, memoised)."""

    __slots__ = ("_cache", "_exact", "_globs")

    def __init__(self, entries: list[tuple[str, int]]) -> None:
        self._exact: dict[str, list[int]] = {}
        globs = []
        for name, index in entries:
            if is_glob(name):
                globs.append((re2.compile(glob_source(name), OPTIONS), index))
            else:
                self._exact.setdefault(name.casefold(), []).append(index)
        self._globs = tuple(globs)
        self._cache: dict[str, tuple[int, ...]] = {}

    def match(self, tool: str) -> tuple[int, ...]:
        found = self._cache.get(tool)
        if found is not None:
            return found
        key = tool.casefold()
        hits = set(self._exact.get(key, ()))
        for regex, index in self._globs:
            if regex.search(key) is not None:
                hits.add(index)
        found = tuple(sorted(hits))
        if len(self._cache) >= _CACHE_MAX:
            self._cache.clear()  # tool names are few; a flood of new ones must not grow memory
        self._cache[tool] = found
        return found


class ToolSection:
    """A compiled ``tools`` section bound to the policy's ``data``."""

    __slots__ = (
        "_allow",
        "_conditions",
        "_data",
        "_default",
        "_plans",
        "_rules",
        "_rules_match",
        "active",
        "tools",
    )

    def __init__(self, tools: Tools, data: PolicyData) -> None:
        self.tools = tools
        self._rules = tools.rules
        self._data = data
        conditions: list[Condition | None] = []
        for index, rule in enumerate(tools.rules):
            if rule.when is None:
                conditions.append(None)
                continue
            try:
                conditions.append(compile_condition(rule.when))
            except ValueError as exc:
                raise PolicyLoadError(
                    f"CEL: {exc}", rule=f"tools.rules[{index}] ({rule.rule_id!r})", field="when"
                ) from None
        self._conditions = tuple(conditions)
        self._rules_match = _Matcher(
            [(name, index) for index, rule in enumerate(tools.rules) for name in rule.tools]
        )
        self._allow = _Matcher([(name, 0) for name in tools.allow])
        self._default = tools.default.signal
        self._plans: dict[tuple[int, ...], Plan] = {}
        #: False for a section that can never offer anything (no rules, default allow).
        self.active = not tools.empty

    @property
    def rule_count(self) -> int:
        """Number of tool rules (the default counts as one more order slot)."""
        return len(self._rules)

    def named(self, tool: str) -> bool:
        """True when a rule or the allow list names ``tool``."""
        return bool(self._rules_match.match(tool) or self._allow.match(tool))

    def evaluate(
        self,
        tool: str,
        action: Mapping[str, Any],
        kind: str,
        capabilities: frozenset[str] | None,
        offer: Offer,
        base: int,
        explain: list[str] | None = None,
    ) -> tuple[str, str] | None:
        """Offer the hits for one call of ``tool``; return ``(rule, reason)`` on a condition error.

        The context for conditions is converted once, and only when a rule
        with a condition names the tool.
        """
        matched = self._rules_match.match(tool)
        if not matched:
            if self._default is not None and not self._allow.match(tool):
                default = self.tools.default.value
                reason = f"tool {tool!r} is not named in the policy's tools (default {default})"
                offer(base + len(self._rules), self._default, "tools:default", reason, tool)
                if explain is not None:
                    explain.append(f"tools:default -> {self.tools.default.value}")
            elif explain is not None:
                explain.append(f"tools: {tool!r} allowed by tools.allow or the default")
            return None
        context: Any = None
        for index in matched:
            rule = self._rules[index]
            condition = self._conditions[index]
            if condition is not None:
                if context is None:
                    try:
                        context = self._context(tool, action, kind, capabilities, matched)
                    except ValueError as exc:
                        return rule.rule_id, f"condition of {rule.rule_id} cannot run: {exc}"
                result = evaluate(condition, context)
                if type(result) is str:
                    return rule.rule_id, f"condition of {rule.rule_id} failed: {result}"
                if explain is not None:
                    explain.append(f"{rule.rule_id}: when {rule.when!r} -> {result}")
                if not result:
                    continue
            elif explain is not None:
                explain.append(f"{rule.rule_id}: no condition -> applies")
            offer(base + index, rule.signal, rule.rule_id, rule.reason, tool)
        return None

    def _context(
        self,
        tool: str,
        action: Mapping[str, Any],
        kind: str,
        capabilities: frozenset[str] | None,
        matched: tuple[int, ...],
    ) -> Any:
        plan = self._plans.get(matched)
        if plan is None:
            plan = Plan.of([c for c in (self._conditions[i] for i in matched) if c is not None])
            if len(self._plans) < _CACHE_MAX:
                self._plans[matched] = plan
        data = self._data.current() if "data" in plan.names else {}
        return build_context(
            plan, action.get("args"), tool, kind, action.get("agent_id"), capabilities, data
        )
