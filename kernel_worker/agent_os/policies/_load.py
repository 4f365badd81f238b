"""Loading policies from presets, YAML files and mappings.

The seed's spelling is accepted verbatim::

    policies:
      - name: my-policy
        blocked_actions: [file_write, database_delete]
        blocked_patterns:
          - pattern: "\\\\bpassword\\\\b"
            reason: "PII detected"

plus these keys per policy: ``version``, ``description``, ``default``
(allow/deny/review/warn), ``extends`` (a preset or a policy earlier in the
same file: its rules are inherited, a rule with the same ``id`` or action
replaces the inherited one), ``disabled_rules`` (ids of inherited rules to
drop), ``allowed_domains``, ``blocked_domains``, ``required_capabilities``
(``{shell_exec: [shell]}``). A pattern may carry ``signal``, ``id`` and
``fields``; a blocked action may be a mapping ``{action, signal, reason, id}``.
A file may also hold one policy mapping at top level.

Structural rule kinds (see ``_policy_rules``), each entry a string or a
mapping with ``signal``, ``reason`` and ``id``::

    checks: [sql, shell, {check: "sql:update-all-rows", signal: SIGSTOP}]
    blocked_commands: [rm, "mkfs*", {command: dd, signal: SIGSTOP}]
    blocked_paths: ["/etc/**", {path: ["~/.ssh/**", "~/.aws/**"], id: "path:keys"}]
    blocked_networks: [metadata, {network: [private, loopback], signal: SIGSTOP}]

Inherited structural rules are replaced by an own rule with the same id and
dropped by ``disabled_rules`` like any other rule. A regex pattern and a
structural check may share an id (strict's ``sql:drop`` is both); an own rule
with that id replaces, and ``disabled_rules`` drops, both.

Tool calls are governed by ``tools`` (``default``, ``allow``, ``rules`` with
``tool``, ``when``, ``signal``, ``reason``, ``id``; see ``_tools``), whose CEL
conditions read ``data``: a mapping, or a YAML / JSON file named relative to
the policy file (re-read when it changes; see ``_data``). An extending
policy inherits both; its own tool rules replace inherited ones with the
same id, ``disabled_rules`` drops them, ``allow`` lists add up and its own
``data`` replaces the inherited one. Validation of the rules themselves is
the builder's (``Policy`` and the rule types), the same for Python, YAML and
presets; this module parses and resolves ``extends``.

Unknown keys, duplicate keys and bad values raise :class:`PolicyLoadError`
naming the file, the policy, the rule and the field, so a typo never silently
drops a rule.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

import yaml

from ._build import STRUCTURAL, action_rules, structural_rules
from ._build import checks as checks_of
from ._build import patterns as patterns_of
from ._errors import PolicyLoadError, UnknownPolicy, unknown_key
from ._policy import Policy
from ._presets import PRESETS, preset_mapping
from ._rules import Check
from ._types import ActionRule, Pattern

__all__ = ["load_policies", "load_policy", "presets"]

_POLICY_KEYS = (
    "name",
    "version",
    "description",
    "default",
    "extends",
    "disabled_rules",
    "blocked_actions",
    "blocked_patterns",
    "allowed_domains",
    "blocked_domains",
    "required_capabilities",
    "checks",
    "blocked_commands",
    "blocked_paths",
    "blocked_networks",
    "tools",
    "data",
)


def presets() -> list[str]:
    """Names of the built-in policies (``"strict"`` first: it is the default)."""
    return list(PRESETS)


@functools.cache
def _preset(name: str) -> Policy:
    # Policies are immutable, so one compiled instance per preset is shared.
    return _build(preset_mapping(name), file=None, label=name, earlier={})


def load_policy(
    source: str | os.PathLike[str] | Mapping[str, Any] = "strict", *, name: str | None = None
) -> Policy:
    """Load one policy.

    ``source`` is a preset name (``"strict"``, ``"audit"``, ``"permissive"``),
    the path of a YAML file, or an already parsed mapping. From a file or
    mapping holding several policies the first is returned, or the one called
    ``name``. Raises :class:`UnknownPolicy` for an unknown preset or name and
    :class:`PolicyLoadError` for an invalid policy.
    """
    if isinstance(source, str) and source in PRESETS and not _is_path(source):
        if name is not None and name != source:
            raise UnknownPolicy(f"preset {source!r} holds no policy named {name!r}")
        return _preset(source)
    policies = load_policies(source)
    if name is None:
        return policies[0]
    for policy in policies:
        if policy.name == name:
            return policy
    raise UnknownPolicy(
        f"no policy named {name!r} in {_describe(source)}; it holds {[p.name for p in policies]}"
    )


def load_policies(source: str | os.PathLike[str] | Mapping[str, Any]) -> list[Policy]:
    """Load every policy of a YAML file or mapping (a preset name gives one)."""
    if isinstance(source, Mapping):
        return _build_document(source, file=None)
    if isinstance(source, str) and source in PRESETS and not _is_path(source):
        return [_preset(source)]
    if not isinstance(source, os.PathLike) and not (isinstance(source, str) and _is_path(source)):
        raise UnknownPolicy(
            f"unknown policy {source!r}: not a preset ({', '.join(PRESETS)}) or a policy file"
        )
    path = os.fspath(source)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyLoadError(f"cannot read: {exc}", file=path) from exc
    try:
        document = yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise PolicyLoadError(f"not valid YAML{where}: {exc.problem}", file=path) from exc
    except yaml.YAMLError as exc:
        raise PolicyLoadError(f"not valid YAML: {exc}", file=path) from exc
    if not isinstance(document, Mapping):
        raise PolicyLoadError(
            f"expected a mapping with 'policies', got {type(document).__name__}", file=path
        )
    return _build_document(document, file=path)


def _is_path(source: str) -> bool:
    return (
        os.sep in source
        or "/" in source
        or source.endswith((".yaml", ".yml", ".json"))
        or os.path.exists(source)
    )


def _describe(source: object) -> str:
    return "the mapping" if isinstance(source, Mapping) else f"{os.fspath(source)!r}"  # type: ignore[call-overload]


def _build_document(document: Mapping[str, Any], *, file: str | None) -> list[Policy]:
    if "policies" not in document:
        return [_build(document, file=file, label=_label(document, 0), earlier={})]
    for key in document:
        if key != "policies":
            raise unknown_key(key, ("policies",), file=file, policy=None)
    entries = document["policies"]
    if not isinstance(entries, list) or not entries:
        raise PolicyLoadError("must be a non-empty list", file=file, field="policies")
    earlier: dict[str, Policy] = {}
    out = []
    for index, entry in enumerate(entries):
        label = _label(entry, index)
        if not isinstance(entry, Mapping):
            raise PolicyLoadError("must be a mapping", file=file, policy=label)
        policy = _build(entry, file=file, label=label, earlier=earlier)
        if policy.name in earlier:
            raise PolicyLoadError("duplicate policy name", file=file, policy=label, field="name")
        earlier[policy.name] = policy
        out.append(policy)
    return out


def _label(entry: object, index: int) -> str:
    if isinstance(entry, Mapping) and isinstance(entry.get("name"), str):
        return str(entry["name"])
    return f"policies[{index}]"


def _build(
    data: Mapping[str, Any], *, file: str | None, label: str, earlier: Mapping[str, Policy]
) -> Policy:
    def fail(detail: str, field: str | None = None, rule: str | None = None) -> PolicyLoadError:
        return PolicyLoadError(detail, file=file, policy=label, rule=rule, field=field)

    for key in data:
        if key not in _POLICY_KEYS:
            raise unknown_key(key, _POLICY_KEYS, file=file, policy=label)
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise fail("a policy needs a non-empty string 'name'", "name")

    parent: Policy | None = None
    if "extends" in data:
        base = data["extends"]
        if not isinstance(base, str):
            raise fail("must be the name of a preset or an earlier policy", "extends")
        if base in earlier:
            parent = earlier[base]
        elif base in PRESETS:
            parent = _preset(base)
        else:
            raise fail(
                f"unknown policy {base!r}; presets: {', '.join(PRESETS)}; "
                f"earlier in this file: {', '.join(earlier) or 'none'}",
                "extends",
            )

    actions: dict[str, ActionRule] = {}
    patterns: dict[str, Pattern] = {}
    if parent is not None:
        actions = {rule.action: rule for rule in parent.action_rules}
        patterns = {pattern.rule_id: pattern for pattern in parent.blocked_patterns}
    for rule in action_rules(data.get("blocked_actions", []), fail):
        actions[rule.action] = rule
    auto = 0
    own: set[str] = set()
    for index, (pattern, explicit) in enumerate(
        patterns_of(data.get("blocked_patterns", []), fail)
    ):
        key = pattern.rule_id
        if explicit and key in own:
            raise fail(f"duplicate rule id {key!r}", "id", f"blocked_patterns[{index}]")
        own.add(key)
        if not explicit:
            auto += 1
            key = f"\x00auto{auto}"  # only explicit ids replace inherited rules
        patterns[key] = pattern

    checks: dict[str, Check] = {}
    structural: dict[str, dict[str, Any]] = {key: {} for key in STRUCTURAL}
    if parent is not None:
        checks = {c.id: c for c in parent.checks}
        structural["blocked_commands"] = {r.rule_id: r for r in parent.blocked_commands}
        structural["blocked_paths"] = {r.rule_id: r for r in parent.blocked_paths}
        structural["blocked_networks"] = {r.rule_id: r for r in parent.blocked_networks}
    own_checks = checks_of(data.get("checks", []), fail)
    for check in own_checks:
        checks[check.id] = check
    # One id is one rule: a regex and a structural check may share it
    # (``sql:drop``), so an own rule with that id replaces both inherited ones.
    for rule_id in own - {c.id for c in own_checks}:
        if parent is not None and any(c.id == rule_id for c in parent.checks):
            del checks[rule_id]
    for check in own_checks:
        if check.id not in own and parent is not None:
            patterns.pop(check.id, None)
    for key, (kind, spellings) in STRUCTURAL.items():
        seen: set[str] = set()
        for index, rule in enumerate(
            structural_rules(data.get(key, []), key, kind, spellings, fail)
        ):
            if rule.rule_id in seen:
                raise fail(f"duplicate rule id {rule.rule_id!r}", "id", f"{key}[{index}]")
            seen.add(rule.rule_id)
            structural[key][rule.rule_id] = rule

    disabled = data.get("disabled_rules", [])
    if not isinstance(disabled, list) or not all(isinstance(d, str) for d in disabled):
        raise fail("must be a list of rule ids", "disabled_rules")
    tool_ids = set() if parent is None else {r.rule_id for r in parent.tools.rules}
    for rule_id in disabled:
        action_keys = [k for k, r in actions.items() if r.rule_id == rule_id]
        found = rule_id in tool_ids
        tables: list[dict[str, Any]] = [patterns, checks, *structural.values()]
        for table in tables:
            if rule_id in table:
                del table[rule_id]
                found = True
        if action_keys:
            del actions[action_keys[0]]
        elif not found:
            raise fail(f"no inherited rule with id {rule_id!r}", "disabled_rules")

    allowed: Any = parent.allowed_domains if parent is not None else None
    if "allowed_domains" in data:
        allowed = data["allowed_domains"]
        if allowed is not None and not isinstance(allowed, list):
            raise fail("must be a list of domains or null", "allowed_domains")
    blocked = list(parent.blocked_domains) if parent is not None else []
    extra_blocked = data.get("blocked_domains", [])
    if not isinstance(extra_blocked, list):
        raise fail("must be a list of domains", "blocked_domains")
    blocked.extend(extra_blocked)

    required: dict[str, set[str]] = {}
    if parent is not None:
        required = {k: set(v) for k, v in parent.required_capabilities.items()}
    caps = data.get("required_capabilities", {})
    if not isinstance(caps, Mapping):
        raise fail("must map an action type to a list of capabilities", "required_capabilities")
    for action, needed in caps.items():
        field = f"required_capabilities.{action}"
        if isinstance(needed, str):
            needed = [needed]
        if not isinstance(action, str) or not isinstance(needed, list):
            raise fail("must be a list of capability names", field)
        if not all(isinstance(c, str) and c for c in needed):
            raise fail("capability names must be non-empty strings", field)
        required.setdefault(action.strip().casefold(), set()).update(needed)

    version = data.get("version", "1")
    if isinstance(version, bool) or not isinstance(version, str | int | float):
        raise fail("must be a string", "version")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise fail("must be a string", "description")
    default = data.get("default", parent.default.value if parent is not None else "allow")
    if not isinstance(default, str):
        raise fail("must be one of allow, deny, review, warn", "default")
    tools: Any = data.get("tools")
    if parent is not None:
        try:
            tools = parent.tools.extended(tools or {}, disabled)
        except PolicyLoadError as exc:
            raise exc.located(file=file, policy=label) from None
    policy_data: Any = data.get("data")
    if "data" not in data and parent is not None:
        policy_data = parent.data.path or parent.data.inline()
    elif isinstance(policy_data, str) and file is not None:
        # A data file is named relative to the policy file that names it.
        policy_data = os.path.join(os.path.dirname(os.path.abspath(file)), policy_data)
    try:
        return Policy(
            name,
            list(actions.values()),
            list(patterns.values()),
            allowed_domains=allowed,
            blocked_domains=blocked,
            required_capabilities=required,
            default=default.strip().lower(),
            version=str(version),
            description=description,
            checks=list(checks.values()),
            blocked_commands=list(structural["blocked_commands"].values()),
            blocked_paths=list(structural["blocked_paths"].values()),
            blocked_networks=list(structural["blocked_networks"].values()),
            tools=tools,
            data=policy_data,
        )
    except PolicyLoadError as exc:
        raise exc.located(file=file, policy=label) from None


def _is_hashable(value: object) -> bool:
    return isinstance(value, Hashable)


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys (a silent overwrite hides rules)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if _is_hashable(key):
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
    return loader.construct_mapping(node, deep=True)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
