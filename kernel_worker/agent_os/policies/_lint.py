"""Warnings about policies that load but do not do what their author likely meant.

* a tool rule that can never decide: its tools are always killed first by a
  ``blocked_actions`` entry of the same name, or by the blocked action of
  the kind they are classified into (a SIGSTOP rule on ``terminal`` under
  ``strict``), or an earlier unconditional rule of the same tools is at
  least as strong;
* a tool rule naming tools nothing produces: a name no framework can send
  (OpenAI and MCP tool names are ``[A-Za-z0-9_.-]``, at most 64 characters)
  or, when the agent's tool names are given, a name or glob none of them
  matches;
* ``tools.default`` left at ``allow`` in a policy that extends ``strict``:
  every tool nothing names runs, which is rarely what a tools list means;
* a tool listed in ``tools.allow`` that ``blocked_actions`` blocks anyway;
* a condition reading a ``data`` key the policy's data does not have (every
  call it names would be denied with ``condition_error``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ._cel import projection
from ._classify import classify
from ._load import load_policies
from ._policy import Policy
from ._tools import ToolRule, glob_source, is_glob
from ._types import ActionRule, Signal

__all__ = ["LintWarning", "lint_file", "lint_policy"]

_TOOL_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


@dataclass(frozen=True, slots=True)
class LintWarning:
    """One finding: the policy, the rule it is about (if any) and what is wrong."""

    policy: str
    rule: str | None
    message: str

    def __str__(self) -> str:
        where = self.policy if self.rule is None else f"{self.policy} {self.rule}"
        return f"{where}: {self.message}"


def _matches(name: str, tool: str) -> bool:
    if is_glob(name):
        return re.match(glob_source(name), tool, re.IGNORECASE) is not None
    return name.casefold() == tool.casefold()


def _stopper(tool: str, rule: ToolRule, blocked: Mapping[str, ActionRule]) -> str | None:
    """The blocked action that always beats ``rule`` on ``tool``, if any."""
    own = blocked.get(tool.casefold())
    if own is not None and own.signal is Signal.SIGKILL:
        return own.rule_id  # a SIGKILL on the tool name is judged before any tool rule
    for kind in classify(tool, {}, None).kinds:
        found = blocked.get(kind)
        if found is not None and found.signal.rank < rule.signal.rank:
            return found.rule_id
    return None


def lint_policy(
    policy: Policy, *, extends_strict: bool = False, tools: Iterable[str] | None = None
) -> list[LintWarning]:
    """Warnings for one loaded policy (``tools``: the agent's tool names, when known)."""
    out: list[LintWarning] = []
    name = policy.name
    section = policy.tools
    blocked = {rule.action: rule for rule in policy.action_rules}
    known = None if tools is None else list(tools)
    seen: list[ToolRule] = []
    for rule in section.rules:
        rid = rule.rule_id
        for tool in rule.tools:
            if not is_glob(tool) and not _TOOL_NAME.match(tool):
                out.append(LintWarning(name, rid, f"no framework sends a tool named {tool!r}"))
            if known is not None and not any(_matches(tool, k) for k in known):
                out.append(LintWarning(name, rid, f"{tool!r} matches none of the agent's tools"))
        exact = [t for t in rule.tools if not is_glob(t)]
        if exact and len(exact) == len(rule.tools):
            stoppers = [_stopper(tool, rule, blocked) for tool in exact]
            if all(stoppers):
                ids = ", ".join(sorted({s for s in stoppers if s}))
                out.append(
                    LintWarning(name, rid, f"can never decide: {ids} stops these tools first")
                )
        for earlier in seen:
            if (
                earlier.when is None
                and set(rule.tools) <= set(earlier.tools)
                and earlier.signal.rank <= rule.signal.rank
            ):
                out.append(
                    LintWarning(
                        name, rid, f"can never decide: {earlier.rule_id} always applies first"
                    )
                )
                break
        seen.append(rule)
    for tool in section.allow:
        if not is_glob(tool):
            for kind in classify(tool, {}, None).kinds:
                stop = blocked.get(kind)
                if stop is not None and stop.signal is Signal.SIGKILL:
                    out.append(
                        LintWarning(
                            name,
                            "tools.allow",
                            f"{tool!r} is allowed but classified {kind}, "
                            f"which {stop.rule_id} blocks",
                        )
                    )
    try:
        data = policy.data.current()
    except ValueError:
        data = None  # a data file that does not parse is a load-time problem, reported there
    for rule in section.rules:
        if rule.when is None or data is None:
            continue
        missing = sorted((projection(rule.when, "data") or frozenset()) - set(data))
        if missing:
            out.append(
                LintWarning(
                    name,
                    rule.rule_id,
                    f"reads data.{missing[0]}, which data does not have: every call it "
                    "names is denied (condition_error)",
                )
            )
    if extends_strict and section.default.value == "allow":
        out.append(
            LintWarning(
                name,
                "tools.default",
                "extends strict but tools.default is allow: every tool nothing names runs "
                "(set default: deny or review)",
            )
        )
    return out


def _extends_strict(entries: list[Mapping[str, Any]]) -> dict[str, bool]:
    """Policy name -> whether it extends ``strict``, directly or through earlier policies."""
    out: dict[str, bool] = {}
    for entry in entries:
        name = entry.get("name")
        base = entry.get("extends")
        if isinstance(name, str):
            out[name] = base == "strict" or (isinstance(base, str) and out.get(base, False))
    return out


def lint_file(
    path: str | os.PathLike[str], *, tools: Iterable[str] | None = None
) -> list[LintWarning]:
    """Warnings for every policy of a YAML file (load errors raise ``PolicyLoadError``)."""
    policies = load_policies(path)
    document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    entries = document.get("policies", [document]) if isinstance(document, Mapping) else []
    strict = _extends_strict([e for e in entries if isinstance(e, Mapping)])
    known = None if tools is None else list(tools)
    out: list[LintWarning] = []
    for policy in policies:
        out.extend(lint_policy(policy, extends_strict=strict.get(policy.name, False), tools=known))
    return out
