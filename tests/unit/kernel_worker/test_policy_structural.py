"""Structural rule kinds in policies: loading, errors, inheritance and evaluation."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from agent_os.policies._errors import PolicyLoadError
from agent_os.policies._policy import Policy, load_policy
from agent_os.policies._rules import Check, CommandRule, NetworkRule, PathRule
from agent_os.policies._types import Decision, Signal

GUARD = """\
policies:
  - name: guard
    extends: strict
    disabled_rules: [action:shell_exec]
    checks: [{check: "sql:update-all-rows", signal: SIGSTOP}]
    blocked_commands: [rm, "mkfs*", {command: [dd, shred], signal: SIGSTOP, id: "cmd:disk"}]
    blocked_paths: ["/srv/secret/**", {path: "*.pem", reason: "keys", id: "path:pem"}]
    blocked_networks: ["203.0.113.0/24", {network: private, signal: SIGKILL, id: "net:internal"}]
"""


def act(action: str, **args: object) -> dict[str, object]:
    return {"agent_id": "a1", "action": action, "args": args}


@pytest.fixture
def guard(tmp_path: Path) -> Policy:
    path = tmp_path / "guard.yaml"
    path.write_text(GUARD, encoding="utf-8")
    return load_policy(path)


def test_yaml_rule_kinds_load_and_apply(guard: Policy) -> None:
    cases = [
        (act("shell_exec", command="ls -la"), Decision.ALLOW, None),
        (act("shell_exec", command="sudo /bin/rm x"), Decision.DENY, "command:rm"),
        (act("shell_exec", command="mkfs.xfs /dev/sdb"), Decision.DENY, "shell:mkfs"),
        (act("shell_exec", command="dd if=a of=b"), Decision.REVIEW, "cmd:disk"),
        (
            act("file_read", path="/srv/secret/../secret/db.txt"),
            Decision.DENY,
            "path:/srv/secret/**",
        ),
        (act("file_read", path="certs/server.PEM"), Decision.DENY, "path:pem"),
        (act("http_request", url="http://203.0.113.9/"), Decision.DENY, "net:203.0.113.0/24"),
        (act("http_request", url="http://10.1.2.3/"), Decision.DENY, "net:internal"),
        (act("sql", query="UPDATE t SET a = 1"), Decision.REVIEW, "sql:update-all-rows"),
    ]
    for action, decision, rule in cases:
        verdict = guard.evaluate(action)
        assert (verdict.decision, verdict.rule) == (decision, rule), action


def test_to_dict_round_trips_structural_rules(guard: Policy) -> None:
    again = load_policy(guard.to_dict())
    assert again.content_hash == guard.content_hash
    assert again.blocked_commands == guard.blocked_commands
    assert again.blocked_paths == guard.blocked_paths
    assert again.blocked_networks == guard.blocked_networks
    assert again.checks == guard.checks


def test_structural_rules_change_the_content_hash() -> None:
    base = {"name": "p", "blocked_actions": ["file_write"]}
    assert load_policy(base).content_hash != load_policy({**base, "checks": ["sql"]}).content_hash
    assert "checks" not in load_policy(base).to_dict()


@pytest.mark.parametrize(
    ("body", "rule", "field", "words"),
    [
        ("checks: [sql:nope]", "checks[0]", "check", "unknown check"),
        ("checks: [{check: sql, signal: LOUD}]", "checks[0]", "signal", "SIGKILL"),
        ("checks: [{check: sql, colour: red}]", "checks[0]", "colour", "unknown key"),
        ("blocked_commands: [{commands: []}]", "blocked_commands[0]", "command", "non-empty"),
        ("blocked_commands: [{command: rm, path: x}]", "blocked_commands[0]", "path", "unknown"),
        ("blocked_commands: [{reason: x}]", "blocked_commands[0]", "command", "exactly one"),
        ("blocked_paths: ['']", "blocked_paths[0]", "path", "non-empty"),
        ("blocked_networks: [300.1.1.0/24]", "blocked_networks[0]", "network", "CIDR"),
        (
            "blocked_networks: [{network: intranet, id: n1}]",
            "blocked_networks[0]",
            "network",
            "CIDR",
        ),
        ("blocked_paths: [a, {path: b, id: 'path:a'}]", "blocked_paths[1]", "id", "duplicate"),
    ],
)
def test_errors_name_file_rule_and_field(
    tmp_path: Path, body: str, rule: str, field: str, words: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(f"name: bad\n{textwrap.dedent(body)}\n", encoding="utf-8")
    with pytest.raises(PolicyLoadError) as info:
        load_policy(path)
    err = info.value
    assert err.file == str(path) and err.policy == "bad"
    assert err.rule is not None and err.rule.startswith(rule), err
    assert err.field == field, err
    assert words in str(err)


def test_disabled_rules_drop_checks_and_structural_rules() -> None:
    policy = load_policy(
        {
            "name": "lenient",
            "extends": "strict",
            "disabled_rules": ["sql:update-all-rows", "path:dotenv", "net:internal"],
        }
    )
    assert policy.evaluate(act("sql", query="UPDATE t SET a = 1")).decision is Decision.ALLOW
    assert policy.evaluate(act("file_read", path=".env")).decision is Decision.ALLOW
    assert policy.evaluate(act("http_request", url="http://127.0.0.1/")).allowed
    assert not policy.evaluate(act("http_request", url="http://169.254.169.254/")).allowed


def test_shared_id_replaces_regex_and_check_together() -> None:
    policy = load_policy(
        {
            "name": "soft",
            "extends": "strict",
            "checks": [{"check": "sql:delete", "signal": "SIGWARN"}],
        }
    )
    verdict = policy.evaluate(act("sql", query="DELETE FROM t"))
    assert (verdict.decision, verdict.rule) == (Decision.WARN, "sql:delete")


def test_rule_objects_can_be_passed_directly() -> None:
    policy = Policy(
        "direct",
        checks=["shell"],
        blocked_commands=[CommandRule(("curl",), signal=Signal.SIGSTOP)],
        blocked_paths=[PathRule(("~/.ssh/**",))],
        blocked_networks=[NetworkRule(("metadata",))],
    )
    assert policy.evaluate(act("tool_call", cmd="env curl x")).rule == "command:curl"
    assert policy.evaluate(act("tool_call", cmd="cat $HOME/.ssh/config")).rule == "path:~/.ssh/**"
    assert policy.evaluate(act("tool_call", url="http://0xa9fea9fe/")).rule == "net:metadata"
    assert Check("sql:drop").reason.startswith("destructive")


def test_code_fields_are_code_analysed_but_not_shell_lexed() -> None:
    strict = load_policy("strict")
    js = "const f = (id) => api.delete(`/users/${id}`);"
    assert strict.evaluate(act("tool_call", code=js)).decision is Decision.ALLOW
    assert strict.evaluate(act("tool_call", command=js)).rule == "shell:dynamic-command"
    assert strict.evaluate(act("tool_call", code="os.system('ls')")).rule == "code:process-exec"
    assert strict.evaluate(act("tool_call", code="print('os.system is data')")).allowed


def test_code_exec_language_decides_shell_analysis() -> None:
    policy = load_policy({"name": "c", "extends": "strict", "disabled_rules": ["action:code_exec"]})
    bash = policy.evaluate(act("code_exec", language="bash", source="{rm,-r,/srv}"))
    assert bash.rule == "shell:rm-rf"
    python = policy.evaluate(act("code_exec", language="python", source="{rm,-r,/srv}"))
    assert python.decision is Decision.ALLOW


def test_audit_preset_only_warns_on_structural_findings() -> None:
    verdict = load_policy("audit").evaluate(act("sql", query="UPDATE t SET a = 1"))
    assert (verdict.decision, verdict.rule) == (Decision.WARN, "sql:update-all-rows")


def test_a_regex_sigkill_skips_the_structural_analysis() -> None:
    strict = load_policy("strict")
    verdict = strict.evaluate(act("sql", query="DROP TABLE t; UPDATE t SET a = 1"))
    assert verdict.rule == "sql:drop"  # the regex hit first; the parser was not needed


def test_urls_in_commands_meet_the_domain_rules() -> None:
    # A command line in a tool call is shell execution (strict blocks it outright):
    # with that rule off, the URLs in it meet the domain rules.
    policy = load_policy(
        {
            "name": "n",
            "extends": "strict",
            "allowed_domains": ["example.com"],
            "disabled_rules": ["action:shell_exec"],
        }
    )
    ok = policy.evaluate(act("tool_call", command="curl -s https://api.example.com/x"))
    assert ok.decision is Decision.ALLOW
    bad = policy.evaluate(act("tool_call", command="curl -s https://evil.io/x | jq ."))
    assert bad.rule == "net:domain-not-allowed"


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("https://httpbin.org/redirect-to?url=http://169.254.169.254/latest/meta-data/",
         "net:metadata"),
        ("https://r.example/go?to=http%253A%252F%252F169.254.169.254%252Flatest", "net:metadata"),
        ("https://app.example.com/cb#next=http://10.0.0.5/admin", "net:internal"),
        ("http://192.0.0.192/latest/meta-data/", "net:metadata"),
        ("https://www.google.com/search?q=https://example.com/docs", None),
        ("https://api.github.com/repos/org/app?page=2", None),
    ],
)  # fmt: skip
def test_an_open_redirects_target_meets_the_address_ranges(url: str, rule: str | None) -> None:
    verdict = load_policy("strict").evaluate(act("tool_call", url=url))
    assert verdict.rule == rule


def test_a_link_in_a_query_is_not_held_to_allowed_domains() -> None:
    policy = load_policy({"name": "n", "extends": "strict", "allowed_domains": ["google.com"]})
    link = "https://www.google.com/search?q=https://example.com/docs"
    assert policy.evaluate(act("tool_call", url=link)).decision is Decision.ALLOW


@pytest.mark.parametrize(
    ("tool", "rule"),
    [
        ("eval(payload)", "code:dynamic-eval"),
        ("DROP TABLE users", "sql:drop"),
        ("rm -rf /", "shell:rm-rf"),
        ("tavily_search_results_json", None),
        ("mcp/server:fetch-page", None),
    ],
)
def test_a_tools_name_alone_is_data_the_analysers_read(tool: str, rule: str | None) -> None:
    # A plain name nothing finds anything in is left out of the data (once for each plan);
    # any other name is read, alone or with the other data.
    policy = load_policy("strict")
    action = {"agent_id": "a", "action": "tool_call", "tool": tool, "args": {"q": "hello"}}
    for _ in range(2):  # the second evaluation uses the remembered plan
        assert policy.evaluate(action).rule == rule
