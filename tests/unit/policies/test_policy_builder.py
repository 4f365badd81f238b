"""One builder: a policy from Python mappings, from YAML and from a preset is the same policy."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from agent_os.policies import (
    ActionRule,
    Check,
    CommandRule,
    Pattern,
    Policy,
    PolicyLoadError,
    Signal,
    load_policy,
)
from agent_os.policies._presets import preset_mapping

BODY = {
    "blocked_actions": ["file_delete", {"action": "payment_refund", "signal": "SIGSTOP"}],
    "blocked_patterns": [{"id": "ssn", "pattern": r"\b\d{3}-\d{2}-\d{4}\b", "reason": "SSN"}],
    "checks": ["sql", {"check": "shell:rm-rf", "signal": "SIGSTOP"}],
    "blocked_commands": ["rm", {"command": "dd", "signal": "SIGSTOP"}],
    "blocked_paths": [{"path": ["~/.ssh/**"], "id": "path:keys"}],
    "tools": {"default": "review", "rules": [{"tool": "send_*", "when": "size(args) > 3"}]},
    "data": {"limit": 5},
}


def test_python_mappings_and_yaml_build_the_same_policy(tmp_path: Path) -> None:
    from_python = Policy("same", **BODY)  # type: ignore[arg-type]
    path = tmp_path / "same.yaml"
    path.write_text(yaml.safe_dump({"policies": [{"name": "same", **BODY}]}), encoding="utf-8")
    assert load_policy(path).content_hash == from_python.content_hash
    objects = Policy(
        "same",
        blocked_actions=["file_delete", ActionRule("payment_refund", signal=Signal.SIGSTOP)],
        blocked_patterns=[Pattern(r"\b\d{3}-\d{2}-\d{4}\b", "SSN", id="ssn")],
        checks=["sql", Check("shell:rm-rf", signal=Signal.SIGSTOP)],
        blocked_commands=["rm", CommandRule(("dd",), signal=Signal.SIGSTOP)],
        blocked_paths=[{"path": ["~/.ssh/**"], "id": "path:keys"}],
        tools=BODY["tools"],  # type: ignore[arg-type]
        data={"limit": 5},
    )
    assert objects.content_hash == from_python.content_hash


def test_a_preset_is_built_by_the_same_builder() -> None:
    mapping = preset_mapping("strict")
    assert Policy(**mapping) == load_policy("strict")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"blocked_actions": [{"actoin": "x"}]}, "did you mean 'action'"),
        ({"blocked_patterns": [{"pattern": "x"}]}, "missing 'reason'"),
        ({"checks": ["sqll"]}, "unknown check"),
        ({"blocked_commands": "rm"}, "must be a list"),
        ({"blocked_paths": [{"path": "/etc/**", "paths": "/x"}]}, "exactly one of"),
    ],
)
def test_python_and_yaml_get_the_same_errors(
    tmp_path: Path, body: dict[str, object], message: str
) -> None:
    with pytest.raises(PolicyLoadError, match=message) as from_python:
        Policy("p", **body)  # type: ignore[arg-type]
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"policies": [{"name": "p", **body}]}), encoding="utf-8")
    with pytest.raises(PolicyLoadError, match=message) as from_yaml:
        load_policy(path)
    assert from_python.value.detail == from_yaml.value.detail
    assert from_python.value.rule == from_yaml.value.rule
    assert from_yaml.value.file == str(path)


def test_a_data_file_is_named_relative_to_the_policy_file(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "payees.yaml").write_text("payees: [GB1]\n", encoding="utf-8")
    (tmp_path / "sub" / "p.yaml").write_text(
        "name: p\n"
        "data: payees.yaml\n"
        "tools:\n"
        "  rules: [{tool: pay, when: '!(args.to in data.payees)', id: new}]\n",
        encoding="utf-8",
    )
    policy = load_policy(tmp_path / "sub" / "p.yaml")
    assert policy.data.path == str(tmp_path / "sub" / "payees.yaml")
    call = {"action": "tool_call", "tool": "pay", "args": {"to": "GB1"}}
    assert policy.evaluate(call).allowed
    assert policy.evaluate({**call, "args": {"to": "GB2"}}).rule == "new"


def test_to_dict_round_trips_tools_and_data(tmp_path: Path) -> None:
    data = tmp_path / "d.json"
    data.write_text('{"limit": 3}', encoding="utf-8")
    for source in ({"limit": 3}, data):
        policy = Policy("rt", tools=BODY["tools"], data=source)  # type: ignore[arg-type]
        again = load_policy(policy.to_dict())
        assert again.content_hash == policy.content_hash
        assert again.tools == policy.tools


def test_tools_and_tool_rules_are_exported() -> None:
    from agent_os.policies import ToolRule, Tools

    section = Tools("deny", ("get_*",), (ToolRule(("send_money",), when="args.amount > 1"),))
    assert Policy("p", tools=section).evaluate({"action": "tool_call", "tool": "x"}).rule == (
        "tools:default"
    )
