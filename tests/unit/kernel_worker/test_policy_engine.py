"""Policy.evaluate: precedence, redaction, robustness and linear-time matching."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_os.policies._policy import Pattern, Policy, load_policy
from agent_os.policies._types import ActionRule, Decision, Signal
from agent_os.policies.analysis._re import redact

STRICT = load_policy("strict")


def act(action: str = "tool_call", **args: Any) -> dict[str, Any]:
    return {"agent_id": "a1", "action": action, "args": args}


def test_allow_verdict_shape() -> None:
    verdict = STRICT.evaluate(act(text="hello"))
    assert verdict.decision is Decision.ALLOW and verdict.allowed
    assert (verdict.signal, verdict.rule, verdict.matched, verdict.code) == (None, None, None, "ok")
    assert (verdict.policy, verdict.policy_hash) == ("strict", STRICT.content_hash)


def test_deny_verdict_shape() -> None:
    verdict = STRICT.evaluate(act("sql", query="DROP TABLE users"))
    assert not verdict.allowed
    assert (verdict.decision, verdict.signal, verdict.rule) == (
        Decision.DENY,
        Signal.SIGKILL,
        "sql:drop",
    )
    assert verdict.code == "policy_violation"
    assert verdict.matched == "drop table users"  # the statement, as the SQL analyser read it
    assert verdict.reason == "destructive SQL: DROP"


def test_precedence_strongest_signal_then_rule_order() -> None:
    policy = Policy(
        "prec",
        [ActionRule("tool_call", signal=Signal.SIGWARN)],
        [
            Pattern(r"\bone\b", "first stop", Signal.SIGSTOP, id="stop-1"),
            Pattern(r"\btwo\b", "second stop", Signal.SIGSTOP, id="stop-2"),
            Pattern(r"\bthree\b", "kill", Signal.SIGKILL, id="kill"),
        ],
    )
    assert policy.evaluate(act(text="nothing")).rule == "action:tool_call"
    assert policy.evaluate(act(text="nothing")).decision is Decision.WARN
    assert policy.evaluate(act(text="two one")).rule == "stop-1"
    assert policy.evaluate(act(text="two one")).decision is Decision.REVIEW
    assert policy.evaluate(act(text="one two three")).rule == "kill"
    # Pattern rules in different field groups still obey global rule order.
    grouped = Policy(
        "groups",
        blocked_patterns=[
            Pattern(r"\bfoo\b", "all foo", Signal.SIGWARN, id="all-foo"),
            Pattern(r"\bfoo\b", "sql foo", Signal.SIGWARN, id="sql-foo", fields=("sql",)),
        ],
    )
    assert grouped.evaluate(act("sql", query="select foo")).rule == "all-foo"


def test_signal_and_decision_mapping() -> None:
    assert [s.decision for s in Signal] == [Decision.DENY, Decision.REVIEW, Decision.WARN]
    assert Decision.ALLOW.signal is None and Decision.DENY.signal is Signal.SIGKILL
    assert str(Signal.SIGKILL) == "SIGKILL" and Decision("warn") is Decision.WARN


def test_secrets_are_never_echoed() -> None:
    secrets = {
        "AKIAZ7QK2MVT4LP9XWRB": "secret:aws-access-key",
        "ghp_16C7e42F292c6912E7710c838347Ae178B4a": "secret:github-token",
        "xoxb-123456789012-abcdefghijkl": "secret:slack-token",
        "sk-abcdefghijklmnopqrstuvwxyz0123456789": "secret:openai-key",
        "password: hunter2hunter2": "secret:password",
    }
    for secret, rule in secrets.items():
        verdict = STRICT.evaluate(act(text=f"here it is: {secret} ok"))
        assert verdict.rule == rule
        assert verdict.matched is not None
        assert secret not in repr(verdict) and secret[5:] not in verdict.matched
        assert secret not in str(verdict.to_dict())
    assert STRICT.evaluate(act(text="AKIAZ7QK2MVT4LP9XWRB")).matched == "AKIA" + "*" * 16


def test_non_secret_rule_match_is_scrubbed_and_truncated() -> None:
    policy = Policy("scrub", blocked_patterns=[Pattern(r"token=\S+", "token in text", id="tok")])
    verdict = policy.evaluate(act(text="token=AKIAIOSFODNN7EXAMPLE"))
    assert verdict.matched == "token=AKIA" + "*" * 16
    long = Policy("long", blocked_patterns=[Pattern(r"x{300}", "many x", id="xs")])
    matched = long.evaluate(act(text="x" * 400)).matched
    assert matched is not None and len(matched) <= 120
    assert redact("a \n\x00\n b", secret=False) == "a b"


def test_capabilities_checked_only_when_given() -> None:
    policy = Policy("caps", required_capabilities={"shell_exec": ["shell", "root"]})
    assert policy.evaluate(act("shell_exec", command="ls")).allowed
    verdict = policy.evaluate(act("shell_exec", command="ls"), capabilities=frozenset({"shell"}))
    assert (verdict.rule, verdict.reason) == ("capability:shell_exec", "missing capabilities: root")
    ok = policy.evaluate(act("shell_exec"), capabilities=frozenset({"shell", "root", "x"}))
    assert ok.allowed


def test_field_groups_follow_nested_keys() -> None:
    policy = Policy(
        "paths",
        blocked_patterns=[Pattern(r"^/etc/", "system path", id="etc", fields=("path",))],
    )
    assert policy.evaluate(act("file_read", path="/etc/passwd")).rule == "etc"
    assert policy.evaluate(act("file_read", target={"path": ["/etc/hosts"]})).rule == "etc"
    assert policy.evaluate(act("tool_call", text="/etc/passwd")).allowed


def test_verdict_round_trip_and_replace() -> None:
    verdict = STRICT.evaluate(act("file_write", path="x"))
    stamped = dataclasses.replace(verdict, request_id="r1", kernel_id="k1", elapsed_us=3.5)
    assert type(verdict).from_dict(stamped.to_dict()) == stamped
    assert type(verdict).from_dict(verdict.to_dict()) == verdict


BAD_VERDICTS: list[Any] = [
    "not a mapping",
    {},
    {**STRICT.evaluate(act()).to_dict(), "extra": 1},
    {**STRICT.evaluate(act()).to_dict(), "decision": "maybe"},
    {**STRICT.evaluate(act()).to_dict(), "signal": "SIGTERM"},
    {**STRICT.evaluate(act()).to_dict(), "reason": 3},
    {**STRICT.evaluate(act()).to_dict(), "rule": ["x"]},
    {**STRICT.evaluate(act()).to_dict(), "elapsed_us": True},
    {**STRICT.evaluate(act()).to_dict(), "elapsed_us": float("nan")},
]


@pytest.mark.parametrize("data", BAD_VERDICTS)
def test_verdict_from_dict_is_strict(data: Any) -> None:
    from agent_os.policies._errors import PolicyError
    from agent_os.policies._types import Verdict

    with pytest.raises(PolicyError) as info:
        Verdict.from_dict(data)
    assert info.value.code == "malformed_verdict"


def test_fail_closed_deny_constructor() -> None:
    from agent_os.policies._types import Verdict

    verdict = Verdict.deny("bad_signature", "signature does not verify", policy="strict")
    assert (verdict.decision, verdict.signal, verdict.rule) == (Decision.DENY, Signal.SIGKILL, None)
    assert (verdict.code, verdict.policy, verdict.policy_hash) == ("bad_signature", "strict", "")


class ExplodingMapping(Mapping[str, Any]):
    def __getitem__(self, key: str) -> Any:
        raise RuntimeError("boom")

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("boom")

    def __len__(self) -> int:
        return 1


class BadStr:
    def __str__(self) -> str:
        raise ValueError("no text for you")


def test_hostile_inputs_fail_closed() -> None:
    cyclic: dict[str, Any] = {"a": 1}
    cyclic["self"] = cyclic
    deep: Any = "x"
    for _ in range(200):
        deep = [deep]
    hostile: list[Any] = [
        None,
        42,
        "file_write",
        ExplodingMapping(),
        {"action": "tool_call", "args": ExplodingMapping()},
        {"action": "tool_call", "args": cyclic},
        {"action": "tool_call", "args": deep},
        {"action": "tool_call", "args": {"obj": BadStr()}},
        {"action": None},
    ]
    for action in hostile:
        verdict = STRICT.evaluate(action)
        assert verdict.decision is Decision.DENY, action
        assert verdict.code == "malformed_action"


def test_bytes_and_odd_values_are_scanned() -> None:
    assert STRICT.evaluate(act(command=b"rm -rf /")).rule == "shell:rm-rf"
    assert STRICT.evaluate(act(code=("ok", "eval(x)"))).rule == "code:dynamic-eval"
    assert STRICT.evaluate(act(n=1, f=2.0, b=True, none=None)).allowed


json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    action=st.one_of(
        json_like,
        st.fixed_dictionaries(
            {"action": st.one_of(st.text(max_size=12), json_like), "args": json_like},
            optional={"tool": json_like, "agent_id": json_like},
        ),
    )
)
def test_evaluate_never_raises(action: Any) -> None:
    for policy in (STRICT, NET):
        verdict = policy.evaluate(action)
        assert verdict.decision in set(Decision)
        if not isinstance(action, dict) or not isinstance(action.get("action"), str):
            assert verdict.code == "malformed_action"


NET = load_policy(
    {
        "name": "net",
        "extends": "strict",
        "allowed_domains": ["example.com"],
        "blocked_domains": ["x.io"],
    }
)

N = 100_000
ANALYSERS = load_policy(
    {
        "name": "analysers",
        "extends": "strict",
        "disabled_rules": [f"action:{kind}" for kind in STRICT.blocked_actions],
    }
)
# (id, field the text arrives in, text, expected rule): each in a field whose meaning fits.
REDOS = [
    ("many rm flags", "command", "rm " + "-x " * (N // 3), "shell:too-complex"),
    ("many rm flags then -r", "command", "rm " + "-x " * (N // 3) + "-r", "shell:rm-rf"),
    ("unterminated comments", "sql", "/*" * (N // 2), None),
    (
        "comment markers everywhere",
        "sql",
        "--/*-- */" * (N // 9) + "\nDR/**/OP TABLE t",
        "sql:drop",
    ),
    ("eyJ soup", "text", "eyJaaa." * (N // 7 + 1), "secret:too-complex"),
    ("alter table without drop", "sql", "alter table " + "x " * (N // 2), "sql:too-complex"),
    ("curl no pipe", "command", "curl " + "a" * N, "shell:too-complex"),
    ("password no value", "text", "password" * (N // 8), None),
    ("quote storm", "code", "'\"\\" * (N // 3) + "e'v'a'l(", None),
    ("whitespace storm", "sql", "drop" + " \t\n" * (N // 3) + "table", "sql:drop"),
    ("secret at the end", "text", "a" * N + " AKIAZ7QK2MVT4LP9XWRB", "secret:aws-access-key"),
    (
        "non-ascii soup",
        "sql",
        "\uff41\u200bé" * (N // 3) + " \uff24\uff32\uff2f\uff30 table x",
        "sql:drop",
    ),
]


@pytest.mark.parametrize(
    ("field", "text", "rule"), [r[1:] for r in REDOS], ids=[r[0] for r in REDOS]
)
def test_adversarial_100kb_inputs_evaluate_correctly(
    field: str, text: str, rule: str | None
) -> None:
    assert len(text) >= N
    # The analysers' verdict: strict without its blanket action-type blocks (a command
    # field is shell execution, which strict would stop before any analysis matters).
    verdict = ANALYSERS.evaluate(act(**{field: text}))
    assert verdict.rule == rule
    assert verdict.allowed is (rule is None)
