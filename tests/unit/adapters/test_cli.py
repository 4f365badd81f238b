"""The agent-os command line, run as a user would run it."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

AGENT_OS = str(Path(sys.executable).parent / "agent-os")


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [AGENT_OS, *args], input=stdin, capture_output=True, text=True, timeout=60
    )


def test_demo_blocks_the_dangerous_actions() -> None:
    done = run("demo")
    assert done.returncode == 0, done.stderr
    assert "DROP" not in done.stderr
    lines = done.stdout.splitlines()
    rows = [ln for ln in lines if re.match(r"\d+ {2,}\S", ln)]
    assert len(rows) == 16
    assert "DENY" in next(r for r in lines if "drop the users table" in r)
    assert "ALLOW" in next(r for r in lines if "read the README" in r)
    assert "ALLOW" in next(r for r in lines if "list a folder" in r)
    assert "shell:rm-rf" in next(r for r in lines if "LangChain's terminal" in r)
    assert "DENY" in next(r for r in lines if "delete the database file" in r)
    assert "10 of 16 actions blocked" in done.stdout


@pytest.mark.parametrize(
    ("action", "code", "decision"),
    [
        ({"action": "sql", "args": {"query": "SELECT 1"}}, 0, "allow"),
        ({"action": "sql", "args": {"query": "drop table t"}}, 1, "deny"),
        ({"action": "file_delete", "args": {"path": "/tmp/x"}}, 1, "deny"),
    ],
)
def test_check_json(action: dict[str, object], code: int, decision: str) -> None:
    done = run("check", json.dumps(action), "--json")
    assert done.returncode == code, done.stderr
    out = json.loads(done.stdout)
    assert set(out) == {"decision", "signal", "rule", "reason"}
    assert out["decision"] == decision


def test_check_reads_stdin() -> None:
    done = run("check", "--json", stdin='{"action": "shell_exec", "args": {"command": "ls"}}')
    assert done.returncode == 1
    assert json.loads(done.stdout)["signal"] == "SIGKILL"


@pytest.mark.parametrize("bad", ["not json", "[]", '{"args": {}}'])
def test_check_bad_input_exits_2(bad: str) -> None:
    done = run("check", bad)
    assert done.returncode == 2
    assert "error" in done.stderr


def test_check_with_a_yaml_policy(tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(
        "policies:\n  - name: my-policy\n    blocked_actions: [file_write]\n"
        '    blocked_patterns:\n      - pattern: "\\\\bpassword\\\\b"\n'
        '        reason: "PII detected"\n'
    )
    done = run("check", '{"action": "tool_call", "args": {"q": "my password"}}',
               "--policy", str(policy), "--json")  # fmt: skip
    assert done.returncode == 1
    assert json.loads(done.stdout)["reason"] == "PII detected"


def test_check_invalid_policy_exits_2(tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text("policies:\n  - name: x\n    blocked_patternz: []\n")
    done = run("check", '{"action": "sql", "args": {}}', "--policy", str(policy))
    assert done.returncode == 2
    assert "blocked_patternz" in done.stderr


def test_keygen_writes_a_private_key_file(tmp_path: Path) -> None:
    key = tmp_path / "agent.key"
    registry = tmp_path / "registry.json"
    done = run("keygen", "--id", "agent-7", "--cap", "web", "--out", str(key),
               "--registry", str(registry))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert json.loads(done.stdout)["agent_id"] == "agent-7"
    assert "agent-7" in registry.read_text()
    again = run("keygen", "--id", "agent-7", "--out", str(key))
    assert again.returncode != 0  # never overwrite a key silently
