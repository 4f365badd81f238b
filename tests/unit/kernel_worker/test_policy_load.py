"""Loading policies: presets, the seed's YAML spelling, extensions and error reporting."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from agent_os.policies._errors import PolicyError, PolicyLoadError, UnknownPolicy
from agent_os.policies._load import load_policies, presets
from agent_os.policies._policy import Pattern, Policy, load_policy
from agent_os.policies._types import Decision, Signal

SEED = """\
policies:
  - name: my-policy
    blocked_actions: [file_write, database_delete]
    blocked_patterns:
      - pattern: "\\\\bpassword\\\\b"
        reason: "PII detected"
"""


def write(tmp_path: Path, text: str, name: str = "policies.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def act(action: str, **args: object) -> dict[str, object]:
    return {"agent_id": "a1", "action": action, "args": args}


def test_presets_are_listed_with_strict_first() -> None:
    assert presets() == ["strict", "audit", "permissive"]
    for name in presets():
        assert load_policy(name).name == name
    assert load_policy().name == "strict"


def test_preset_is_compiled_once_and_shared() -> None:
    assert load_policy("strict") is load_policy("strict")


def test_unknown_preset_name_is_unknown_policy() -> None:
    with pytest.raises(UnknownPolicy) as info:
        load_policy("stirct")
    assert info.value.code == "unknown_policy"
    assert "strict" in str(info.value)
    assert isinstance(info.value, PolicyError)
    assert info.value.retryable is False


def test_seed_spelling_loads_verbatim(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, SEED))
    assert policy.name == "my-policy"
    assert policy.blocked_actions == frozenset({"file_write", "database_delete"})
    (pattern,) = policy.blocked_patterns
    assert pattern.regex == r"\bpassword\b"
    assert pattern.id == "pii-detected"
    assert pattern.signal is Signal.SIGKILL
    verdict = policy.evaluate(act("tool_call", text="the Password is x"))
    assert (verdict.decision, verdict.rule) == (Decision.DENY, "pii-detected")
    assert policy.evaluate(act("database_delete")).rule == "action:database_delete"
    assert policy.evaluate(act("tool_call", text="passwords")).allowed


def test_path_given_as_str(tmp_path: Path) -> None:
    assert load_policy(str(write(tmp_path, SEED))).name == "my-policy"


def test_several_policies_first_all_and_by_name(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        policies:
          - name: one
            blocked_actions: [file_write]
          - name: two
            extends: one
            blocked_actions: [file_read]
        """,
    )
    assert load_policy(path).name == "one"
    assert [p.name for p in load_policies(path)] == ["one", "two"]
    two = load_policy(path, name="two")
    assert two.blocked_actions == frozenset({"file_write", "file_read"})
    with pytest.raises(UnknownPolicy, match="three"):
        load_policy(path, name="three")


def test_single_policy_mapping_at_top_level(tmp_path: Path) -> None:
    path = write(tmp_path, "name: solo\nblocked_actions: [shell_exec]\n")
    assert load_policy(path).blocked_actions == frozenset({"shell_exec"})
    assert load_policy({"name": "m", "blocked_actions": ["x"]}).blocked_actions == {"x"}


def test_extensions(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        policies:
          - name: ext
            version: 3
            description: everything at once
            default: review
            extends: strict
            allowed_domains: ["*.example.com", corp.internal]
            blocked_domains: [pastebin.com]
            required_capabilities: {shell_exec: [shell], http_request: net}
            disabled_rules: ["action:file_write"]
            blocked_actions:
              - {action: file_read, signal: SIGSTOP, reason: reads need review, id: read-review}
            blocked_patterns:
              - {pattern: "\\\\bsecret-project\\\\b", reason: codename, id: codename,
                 signal: sigwarn, fields: [all]}
              - {regex: "^select", reason: no selects, fields: sql}
        """,
    )
    policy = load_policy(path)
    assert policy.version == "3"
    assert policy.description == "everything at once"
    assert policy.default is Decision.REVIEW
    assert policy.allowed_domains == ("example.com", "corp.internal")
    assert policy.blocked_domains == ("pastebin.com",)
    assert policy.required_capabilities == {
        "shell_exec": frozenset({"shell"}),
        "http_request": frozenset({"net"}),
    }
    assert "file_write" not in policy.blocked_actions
    assert "file_delete" in policy.blocked_actions  # inherited from strict
    read = policy.evaluate(act("file_read", path="a.txt"))
    assert (read.decision, read.rule, read.signal) == (
        Decision.REVIEW,
        "read-review",
        Signal.SIGSTOP,
    )
    warn = policy.evaluate(act("tool_call", text="about secret-project"))
    assert (warn.decision, warn.rule) == (Decision.WARN, "codename")
    sql = policy.evaluate(act("sql", query="SELECT 1"))
    assert (sql.decision, sql.rule) == (Decision.DENY, "no-selects")
    nothing = policy.evaluate(act("tool_call", text="hello"))
    assert (nothing.decision, nothing.code) == (Decision.REVIEW, "policy_default")
    caps = policy.evaluate(
        act("http_request", url="https://x.example.com"), capabilities=frozenset()
    )
    assert caps.rule == "capability:http_request"


def test_explicit_id_replaces_inherited_rule() -> None:
    policy = load_policy(
        {
            "name": "soft-drop",
            "extends": "strict",
            "blocked_patterns": [
                {
                    "id": "sql:drop",
                    "pattern": r"\bdrop ?table\b",
                    "reason": "logged",
                    "signal": "SIGWARN",
                }
            ],
        }
    )
    assert [p.id for p in policy.blocked_patterns].count("sql:drop") == 1
    verdict = policy.evaluate(act("sql", query="DROP TABLE t"))
    assert (verdict.decision, verdict.rule) == (Decision.WARN, "sql:drop")


def test_reason_derived_ids_are_made_unique() -> None:
    policy = Policy(
        "p", blocked_patterns=[Pattern("aa", "Same reason"), Pattern("bb", "Same reason")]
    )
    assert [p.id for p in policy.blocked_patterns] == ["same-reason", "same-reason-2"]
    with pytest.raises(PolicyLoadError, match="duplicate rule id 'x'"):
        Policy("p", blocked_patterns=[Pattern("aa", "r", id="x"), Pattern("bb", "s", id="x")])


def test_backreference_is_refused_naming_the_rule(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        policies:
          - name: refs
            blocked_patterns:
              - {pattern: ok, reason: fine}
              - {pattern: '(a)\\1', reason: repeated, id: repeat}
        """,
    )
    with pytest.raises(PolicyLoadError) as info:
        load_policy(path)
    err = info.value
    assert err.code == "invalid_policy"
    assert (err.file, err.policy, err.field) == (str(path), "refs", "pattern")
    assert err.rule is not None and "blocked_patterns[1]" in err.rule and "repeat" in err.rule
    message = str(err)
    for part in ("policies.yaml", "refs", "blocked_patterns[1]", "repeat", "pattern", "RE2"):
        assert part in message


def test_backreference_refused_by_the_constructor_too() -> None:
    with pytest.raises(PolicyLoadError) as info:
        Policy("p", blocked_patterns=[Pattern(r"(a)\1", "dup letters", id="dups")])
    assert "dups" in str(info.value) and info.value.field == "pattern"


BAD = [
    ("typo in policy key", "- name: p\n  blocked_patern: []\n", "blocked_patern", "did you mean"),
    (
        "typo in pattern key",
        "- name: p\n  blocked_patterns:\n  - {pattern: x, resaon: r}\n",
        "resaon",
        "blocked_patterns[0]",
    ),
    (
        "missing reason",
        "- name: p\n  blocked_patterns:\n  - {pattern: x}\n",
        "reason",
        "blocked_patterns[0]",
    ),
    (
        "bad signal",
        "- name: p\n  blocked_patterns:\n  - {pattern: x, reason: r, id: rx, signal: SIGTERM}\n",
        "signal",
        "SIGTERM",
    ),
    (
        "bad field group",
        "- name: p\n  blocked_patterns:\n  - {pattern: x, reason: r, fields: [sqll]}\n",
        "fields",
        "sqll",
    ),
    (
        "pattern matching everything",
        "- name: p\n  blocked_patterns:\n  - {pattern: 'a*', reason: r}\n",
        "pattern",
        "empty string",
    ),
    (
        "action entry not a string",
        "- name: p\n  blocked_actions: [3]\n",
        "blocked_actions[0]",
        "mapping",
    ),
    (
        "action mapping typo",
        "- name: p\n  blocked_actions:\n  - {action: x, sginal: SIGKILL}\n",
        "sginal",
        "blocked_actions[0]",
    ),
    (
        "allowed domain with a path",
        "- name: p\n  allowed_domains: [example.com, 'http://x.com/a']\n",
        "allowed_domains[1]",
        "bare domain",
    ),
    (
        "capabilities not a list",
        "- name: p\n  required_capabilities: {shell_exec: {a: 1}}\n",
        "required_capabilities.shell_exec",
        "list",
    ),
    ("bad default", "- name: p\n  default: maybe\n", "default", "maybe"),
    ("unknown parent", "- name: p\n  extends: nope\n", "extends", "nope"),
    ("duplicate policy", "- name: p\n- name: p\n", "name", "duplicate"),
    ("missing name", "- blocked_actions: [x]\n", "name", "policies[0]"),
    (
        "unknown disabled rule",
        "- name: p\n  disabled_rules: [sql:nope]\n",
        "disabled_rules",
        "sql:nope",
    ),
    (
        "duplicate explicit ids",
        "- name: p\n  blocked_patterns:\n  - {pattern: a, reason: r, id: x}\n"
        "  - {pattern: b, reason: r, id: x}\n",
        "id",
        "duplicate",
    ),
]


@pytest.mark.parametrize(("body", "field", "detail"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_errors_name_file_policy_rule_and_field(
    tmp_path: Path, body: str, field: str, detail: str
) -> None:
    path = write(tmp_path, "policies:\n" + textwrap.indent(body, "  "), "bad.yaml")
    with pytest.raises(PolicyLoadError) as info:
        load_policy(path)
    message = str(info.value)
    assert "bad.yaml" in message
    assert field in message
    assert detail in message
    assert info.value.file == str(path)
    assert info.value.policy in {"p", "policies[0]", "policies[1]"}


def test_duplicate_yaml_key_is_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path, "policies:\n  - name: p\n    blocked_actions: [a]\n    blocked_actions: [b]\n"
    )
    with pytest.raises(PolicyLoadError, match=r"line 4.*duplicate key 'blocked_actions'"):
        load_policy(path)


def test_invalid_yaml_and_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyLoadError, match="not valid YAML"):
        load_policy(write(tmp_path, "policies: [\n"))
    with pytest.raises(PolicyLoadError, match=r"missing\.yaml"):
        load_policy(tmp_path / "missing.yaml")
    with pytest.raises(PolicyLoadError, match="mapping with 'policies'"):
        load_policy(write(tmp_path, "- just a list\n"))


def test_document_level_errors(tmp_path: Path) -> None:
    with pytest.raises(PolicyLoadError, match="unknown key 'polices'"):
        load_policy({"policies": [{"name": "p"}], "polices": []})
    with pytest.raises(PolicyLoadError, match="non-empty list"):
        load_policy({"policies": []})


def test_to_dict_round_trips() -> None:
    for name in presets():
        policy = load_policy(name)
        again = load_policy(policy.to_dict())
        assert again == policy
        assert again.content_hash == policy.content_hash


def test_content_hash_is_stable_and_tracks_content() -> None:
    strict = load_policy("strict")
    assert len(strict.content_hash) == 64
    code = (
        "from agent_os.policies._policy import load_policy;"
        "print(load_policy('strict').content_hash)"
    )
    other = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert other == strict.content_hash  # same in a fresh process (no hash randomisation)
    base = {"name": "h", "blocked_actions": ["a", "b"], "required_capabilities": {"x": ["p", "q"]}}
    same = {"required_capabilities": {"x": ["q", "p"]}, "blocked_actions": ["a", "b"], "name": "h"}
    assert load_policy(base).content_hash == load_policy(same).content_hash
    described = {**base, "description": "docs only"}
    assert load_policy(described).content_hash == load_policy(base).content_hash
    changed = {**base, "blocked_actions": ["a", "c"]}
    assert load_policy(changed).content_hash != load_policy(base).content_hash
