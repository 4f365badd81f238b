"""Tool rules: the tools section, CEL conditions, blocked tool names, classification in verdicts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent_os.kernel_worker._wire import action_content
from agent_os.policies import Policy, PolicyLoadError, Signal, Verdict, load_policy
from agent_os.policies._cel import projection

PAYMENTS = Path(__file__).resolve().parents[3] / "examples" / "policies" / "payments.yaml"


def call(tool: str, **args: Any) -> dict[str, Any]:
    return {"agent_id": "a1", "action": "tool_call", "tool": tool, "args": args}


def test_blocked_actions_stop_a_tool_call_of_that_name() -> None:
    policy = Policy("p", blocked_actions=["send_money"])
    verdict = policy.evaluate(call("send_money", amount=10, recipient="x"))
    assert (verdict.decision.value, verdict.rule) == ("deny", "action:send_money")
    # Case and full-width spellings of the tool name do not slip past.
    assert not policy.evaluate(call("Send_Money", amount=1)).allowed
    full_width = "".join(chr(ord(c) + 0xFEE0) if c.isalpha() else c for c in "send_money")
    assert not policy.evaluate(call(full_width, amount=1)).allowed
    assert policy.evaluate(call("get_balance")).allowed


def test_a_glob_in_blocked_actions_is_a_load_error() -> None:
    with pytest.raises(PolicyLoadError, match="glob") as info:
        Policy("p", blocked_actions=["send_*"])
    assert info.value.policy == "p"


def test_a_tool_both_blocked_and_allowed_is_a_load_error() -> None:
    with pytest.raises(PolicyLoadError, match="both blocked"):
        Policy("p", blocked_actions=["send_money"], tools={"allow": ["send_money"]})


def test_a_tool_rule_a_stronger_blocked_action_always_beats_is_a_load_error() -> None:
    review = {"rules": [{"tool": "file_write", "signal": "SIGSTOP", "id": "review-writes"}]}
    with pytest.raises(PolicyLoadError, match="could never decide") as info:
        load_policy({"name": "p", "extends": "strict", "tools": review})
    assert "action:file_write" in str(info.value) and "review-writes" in str(info.value)
    # Disabling the inherited block lets the tool rule decide.
    allowed = {"disabled_rules": ["action:file_write"], "tools": review}
    policy = load_policy({"name": "p", "extends": "strict", **allowed})
    assert policy.evaluate(call("file_write", path="notes.md", content="x")).decision.value == (
        "review"
    )


def test_rules_by_name_glob_and_list_with_their_signals() -> None:
    policy = Policy(
        "p",
        tools={
            "rules": [
                {"tool": "update_password", "reason": "never", "id": "creds"},
                {"tool": ["send_email", "send_*_message"], "signal": "SIGSTOP"},
                {"tool": "log_*", "signal": "SIGWARN"},
            ]
        },
    )
    assert policy.evaluate(call("update_password")).rule == "creds"
    assert policy.evaluate(call("send_slack_message", text="hi")).signal is Signal.SIGSTOP
    assert policy.evaluate(call("SEND_EMAIL", to="a")).decision.value == "review"
    assert policy.evaluate(call("log_event", x=1)).decision.value == "warn"
    assert policy.evaluate(call("send_money_now")).allowed  # no rule names it; default allow


@pytest.mark.parametrize(
    ("default", "decision"), [("allow", "allow"), ("deny", "deny"), ("review", "review")]
)
def test_default_applies_to_tools_nothing_names(default: str, decision: str) -> None:
    policy = Policy("p", tools={"default": default, "allow": ["get_*", "read_file"]})
    verdict = policy.evaluate(call("delete_account"))
    assert verdict.decision.value == decision
    if decision != "allow":
        assert verdict.rule == "tools:default"
    assert policy.evaluate(call("get_balance")).allowed
    assert policy.evaluate(call("read_file", path="/srv/report.csv")).allowed


def test_a_tool_call_without_a_tool_name_meets_a_deny_default() -> None:
    policy = Policy("p", tools={"default": "deny"})
    assert policy.evaluate({"action": "tool_call", "args": {}}).rule == "tools:default"


def test_conditions_see_args_tool_action_agent_and_data() -> None:
    policy = Policy(
        "p",
        data={"payees": ["GB1"], "limit": 500},
        tools={
            "rules": [
                {
                    "tool": "send_money",
                    "when": "double(args.amount) > double(data.limit) || !(args.to in data.payees)",
                    "signal": "SIGSTOP",
                    "id": "pay",
                },
                {
                    "tool": "*",
                    "when": "tool.startsWith('admin_') && !('admin' in agent.capabilities)",
                    "id": "admin-only",
                },
                {"tool": "wipe", "when": "action == 'tool_call' && agent.id == 'a1'", "id": "a1"},
            ]
        },
    )
    assert policy.evaluate(call("send_money", amount=100, to="GB1")).allowed
    assert policy.evaluate(call("send_money", amount=100.5, to="FR9")).rule == "pay"
    assert policy.evaluate(call("send_money", amount=501, to="GB1")).rule == "pay"
    assert policy.evaluate(call("admin_reset")).rule == "admin-only"
    assert policy.evaluate(call("admin_reset"), capabilities=frozenset({"admin"})).allowed
    assert policy.evaluate(call("wipe")).rule == "a1"
    assert policy.evaluate({**call("wipe"), "agent_id": "a2"}).allowed


@pytest.mark.parametrize(
    "args",
    [
        {"recipient": "GB1"},  # missing field
        {"amount": "lots", "recipient": "GB1"},  # wrong type
        {"amount": (1, 2), "recipient": "GB1"},  # a value CEL takes only as a list
    ],
)
def test_a_condition_that_cannot_be_evaluated_denies(args: dict[str, Any]) -> None:
    policy = Policy(
        "p",
        tools={"rules": [{"tool": "send_money", "when": "args.amount > 500", "id": "big"}]},
    )
    verdict = policy.evaluate(call("send_money", **args))
    assert verdict.decision.value == "deny"
    assert (verdict.code, verdict.rule, verdict.signal) == (
        "condition_error",
        "big",
        Signal.SIGKILL,
    )


def test_a_non_boolean_condition_is_refused_at_load_or_denied() -> None:
    with pytest.raises(PolicyLoadError, match="boolean"):
        Policy("p", tools={"rules": [{"tool": "t", "when": "args.x + 1"}]})
    policy = Policy("p", tools={"rules": [{"tool": "t", "when": "args.x"}]})
    assert policy.evaluate(call("t", x="yes")).code == "condition_error"


def test_a_condition_that_does_not_compile_names_file_policy_rule_and_cel_message(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "policies:\n"
        "  - name: bad-cel\n"
        "    tools:\n"
        "      rules:\n"
        "        - {tool: send_money, when: 'args.amount > ', id: pay}\n",
        encoding="utf-8",
    )
    with pytest.raises(PolicyLoadError) as info:
        load_policy(path)
    message = str(info.value)
    assert info.value.file == str(path)
    assert info.value.policy == "bad-cel"
    assert "tools.rules[0] ('pay')" in message
    assert "Syntax error" in message  # CEL's own words
    with pytest.raises(PolicyLoadError, match="undeclared reference to 'argz"):
        Policy("p", tools={"rules": [{"tool": "t", "when": "argz.amount > 1"}]})


def test_unknown_keys_in_tools_suggest_the_likely_one() -> None:
    with pytest.raises(PolicyLoadError, match="did you mean 'when'"):
        Policy("p", tools={"rules": [{"tool": "t", "wehn": "true"}]})
    with pytest.raises(PolicyLoadError, match="did you mean 'default'"):
        Policy("p", tools={"defualt": "deny"})
    with pytest.raises(PolicyLoadError, match="allow, deny, review"):
        Policy("p", tools={"default": "warn"})


def test_a_tool_call_no_rule_names_never_evaluates_a_condition(tmp_path: Path) -> None:
    data = tmp_path / "data.yaml"
    data.write_text("payees: [GB1]\n", encoding="utf-8")
    policy = Policy(
        "p",
        data=data,
        tools={"rules": [{"tool": "send_money", "when": "args.to in data.payees", "id": "pay"}]},
    )
    data.write_text("payees: [unclosed\n", encoding="utf-8")
    policy.reload_data()
    # Conditions reading the broken data now fail closed...
    assert policy.evaluate(call("send_money", to="GB1")).code == "condition_error"
    # ...but a call no rule names builds no context at all.
    assert policy.evaluate(call("get_balance", account="x")).allowed


def test_projection_reads_only_the_fields_a_condition_names() -> None:
    assert projection("args.amount > 500.0 || !(args.recipient in data.payees)", "args") == {
        "amount",
        "recipient",
    }
    assert projection("has(args.x) && 'args.y' == tool", "args") == {"x"}
    assert projection("size(args) > 2", "args") is None
    assert projection("args.exists(k, k == 'a')", "args") is None
    assert projection("data.payees.exists(args, args == 'x')", "args") is None
    assert projection("tool == 'x'", "data") == frozenset()


def test_extends_inherits_tool_rules_and_data(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "policies:\n"
        "  - name: base\n"
        "    data: {limit: 10}\n"
        "    tools:\n"
        "      default: deny\n"
        "      allow: [get_*]\n"
        "      rules:\n"
        "        - {tool: pay, when: 'double(args.amount) > double(data.limit)', id: big}\n"
        "        - {tool: wipe, id: wipe}\n"
        "  - name: child\n"
        "    extends: base\n"
        "    disabled_rules: [wipe]\n"
        "    tools:\n"
        "      allow: [read_*]\n"
        "      rules:\n"
        "        - {tool: pay, when: 'double(args.amount) > 100.0', id: big, signal: SIGSTOP}\n",
        encoding="utf-8",
    )
    child = load_policy(path, name="child")
    assert child.tools.default.value == "deny"
    assert set(child.tools.allow) == {"get_*", "read_*"}
    assert child.evaluate(call("pay", amount=50)).allowed
    assert child.evaluate(call("pay", amount=500)).signal is Signal.SIGSTOP
    assert child.evaluate(call("wipe")).rule == "tools:default"
    assert child.evaluate(call("read_file", path="/srv/a")).allowed


def test_a_changed_data_file_is_picked_up_without_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "payees.json"
    data.write_text('{"payees": ["GB1"]}', encoding="utf-8")
    policy = Policy(
        "p",
        data=data,
        tools={"rules": [{"tool": "pay", "when": "!(args.to in data.payees)", "id": "new"}]},
    )
    assert policy.evaluate(call("pay", to="GB2")).rule == "new"
    data.write_text('{"payees": ["GB1", "GB2"]}', encoding="utf-8")
    # The policy looks at the file again at most every RECHECK_SECONDS; wait on the outcome.
    import time

    deadline = time.monotonic() + 10
    while not policy.evaluate(call("pay", to="GB2")).allowed:
        assert time.monotonic() < deadline, "the changed data file was never picked up"
        time.sleep(0.05)
    data.write_text('{"payees": []}', encoding="utf-8")
    assert policy.reload_data() is True
    assert policy.evaluate(call("pay", to="GB2")).rule == "new"


def test_a_data_file_that_is_missing_or_not_a_mapping_is_a_load_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyLoadError, match="cannot read data file"):
        Policy("p", data=tmp_path / "missing.yaml")
    (tmp_path / "list.yaml").write_text("[1, 2]\n", encoding="utf-8")
    with pytest.raises(PolicyLoadError, match="mapping"):
        Policy("p", data=tmp_path / "list.yaml")


def test_the_verdict_records_classification_and_old_verdicts_still_parse() -> None:
    verdict = load_policy("strict").evaluate(call("terminal", commands=["ls -la"]))
    assert verdict.kinds == ("shell_exec",)
    assert verdict.classified_by == "catalogue"
    wire = verdict.to_dict()
    assert Verdict.from_dict(wire) == verdict
    old = {k: v for k, v in wire.items() if k not in ("kinds", "classified_by")}
    parsed = Verdict.from_dict(old)
    assert (parsed.kinds, parsed.classified_by) == ((), None)


def test_hints_travel_in_the_action_content() -> None:
    content = action_content("tool_call", {"x": 1}, tool="t", hints={"action": "file_write"})
    assert content["hints"] == {"action": "file_write"}
    verdict = load_policy("strict").evaluate({**content, "agent_id": "a1"})
    assert (verdict.rule, verdict.classified_by) == ("action:file_write", "declared")


def test_policy_content_hash_covers_tools_and_data() -> None:
    a = Policy("p", tools={"rules": [{"tool": "t", "id": "x"}]})
    b = Policy("p", tools={"rules": [{"tool": "t", "id": "x", "signal": "SIGSTOP"}]})
    c = Policy("p", tools={"rules": [{"tool": "t", "id": "x"}]}, data={"k": 1})
    assert len({a.content_hash, b.content_hash, c.content_hash}) == 3
    assert Policy("p").content_hash == Policy("p", tools={}, data={}).content_hash


def test_data_must_be_json_like_and_yaml_dates_read_as_text(tmp_path: Path) -> None:
    path = tmp_path / "data.yaml"
    path.write_text("opens: 2024-01-31\nholidays: [2024-12-25]\n", encoding="utf-8")
    policy = Policy(
        "p",
        data=path,
        tools={"rules": [{"tool": "t", "when": "data.opens == '2024-01-31'", "id": "date"}]},
    )
    assert policy.evaluate(call("t")).rule == "date"
    with pytest.raises(PolicyLoadError, match="string keys"):
        Policy("p", data={"limits": {1: 2}})
    with pytest.raises(PolicyLoadError, match="not JSON-like"):
        Policy("p", data={"limit": object()})
