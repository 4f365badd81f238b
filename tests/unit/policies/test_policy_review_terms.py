"""Review terms on SIGSTOP rules (``approvals``, ``review_timeout``): read by the one builder for
every rule kind, refused with a located load error when bad or on a rule that is not SIGSTOP,
part of the content hash and of ``to_dict``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent_os.policies import (
    ActionRule,
    Policy,
    PolicyLoadError,
    ReviewTerms,
    Signal,
    ToolRule,
    load_policies,
    load_policy,
)

STOP = {"signal": "SIGSTOP"}
# One SIGSTOP entry per rule kind, with the rule id it gets.
KINDS: list[tuple[str, dict[str, Any], str]] = [
    ("blocked_actions", {"action": "deploy", **STOP}, "action:deploy"),
    ("blocked_patterns", {"pattern": "wire", "reason": "wire", "id": "wire", **STOP}, "wire"),
    ("checks", {"check": "sql:drop", **STOP}, "sql:drop"),
    ("blocked_commands", {"command": "dd", **STOP}, "command:dd"),
    ("blocked_paths", {"path": "/etc/**", **STOP}, "path:/etc/**"),
    ("blocked_networks", {"network": "metadata", **STOP}, "net:metadata"),
    ("tools", {"tool": "send_money", **STOP}, "tool:send_money"),
]


def _policy(key: str, entry: dict[str, Any]) -> dict[str, Any]:
    if key == "tools":
        return {"name": "p", "tools": {"rules": [entry]}}
    return {"name": "p", key: [entry]}


@pytest.mark.parametrize(("key", "entry", "rule_id"), KINDS)
def test_every_rule_kind_carries_terms(key: str, entry: dict[str, Any], rule_id: str) -> None:
    policy = load_policy(_policy(key, {**entry, "approvals": 2, "review_timeout": "90s"}))
    assert policy.review_terms(rule_id) == ReviewTerms(approvals=2, timeout=90.0)
    assert policy.review_terms("other") is None and policy.review_terms(None) is None
    again = load_policy(policy.to_dict())
    assert again.review_terms(rule_id) == ReviewTerms(2, 90.0) and again == policy
    plain = load_policy(_policy(key, entry))
    assert plain.review_terms(rule_id) is None
    assert plain.content_hash != policy.content_hash
    three = load_policy(_policy(key, {**entry, "approvals": 3, "review_timeout": "90s"}))
    assert three.content_hash != policy.content_hash


@pytest.mark.parametrize(("key", "entry", "rule_id"), KINDS)
def test_terms_on_a_rule_that_does_not_stop_are_a_load_error(
    key: str, entry: dict[str, Any], rule_id: str
) -> None:
    killing = {**entry, "signal": "SIGKILL", "approvals": 2}
    with pytest.raises(PolicyLoadError) as info:
        load_policy(_policy(key, killing))
    assert info.value.field == "approvals" and "SIGSTOP" in str(info.value)
    assert info.value.rule is not None and info.value.policy == "p"


@pytest.mark.parametrize(
    ("terms", "field"),
    [
        ({"approvals": 0}, "approvals"),
        ({"approvals": "two"}, "approvals"),
        ({"approvals": True}, "approvals"),
        ({"approvals": 1.5}, "approvals"),
        ({"review_timeout": "soon"}, "review_timeout"),
        ({"review_timeout": 0}, "review_timeout"),
        ({"review_timeout": "-5m"}, "review_timeout"),
        ({"approvals": None}, "approvals"),
    ],
)
def test_a_bad_value_is_a_load_error_naming_file_policy_rule_and_field(
    tmp_path: Path, terms: dict[str, Any], field: str
) -> None:
    path = tmp_path / "payments.yaml"
    value = ", ".join(f"{k}: {'null' if v is None else v!r}" for k, v in terms.items())
    path.write_text(
        "name: payments\ntools:\n  rules:\n"
        f"    - {{tool: send_money, id: pay, signal: SIGSTOP, {value}}}\n"
    )
    with pytest.raises(PolicyLoadError) as info:
        load_policy(path)
    err = info.value
    assert (err.file, err.policy, err.field) == (str(path), "payments", field)
    assert err.rule == "tools.rules[0] ('pay')"


def test_rule_objects_carry_terms_and_are_checked_too() -> None:
    policy = Policy(
        "p",
        [ActionRule("deploy", signal=Signal.SIGSTOP, review=ReviewTerms(approvals=2))],
        tools={
            "rules": [ToolRule(("pay",), signal=Signal.SIGSTOP, review=ReviewTerms(timeout=60))]
        },
    )
    assert policy.review_terms("action:deploy") == ReviewTerms(2)
    assert policy.review_terms("tool:pay") == ReviewTerms(timeout=60.0)
    with pytest.raises(PolicyLoadError):
        Policy("p", [ActionRule("deploy", review=ReviewTerms(approvals=2))])


def test_extends_keeps_the_parents_terms(tmp_path: Path) -> None:
    path = tmp_path / "policies.yaml"
    path.write_text(
        "policies:\n"
        "  - name: base\n"
        "    blocked_actions: [{action: deploy, signal: SIGSTOP, approvals: 2}]\n"
        "  - name: child\n"
        "    extends: base\n"
        "    blocked_commands: [{command: dd, signal: SIGSTOP, review_timeout: 10m}]\n"
    )
    child = {p.name: p for p in load_policies(path)}["child"]
    assert child.review_terms("action:deploy") == ReviewTerms(2)
    assert child.review_terms("command:dd") == ReviewTerms(timeout=600.0)
