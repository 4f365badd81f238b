"""agent-os policy test / lint and check --explain, run as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

AGENT_OS = str(Path(sys.executable).parent / "agent-os")
EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "policies"


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([AGENT_OS, *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def test_the_payments_example_passes_its_cases() -> None:
    done = run("policy", "test", str(EXAMPLES / "payments_test.yaml"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().endswith("passed, 0 failed")
    assert "FAIL" not in done.stdout


def test_a_case_fails_when_a_rule_is_removed(tmp_path: Path) -> None:
    text = (EXAMPLES / "payments.yaml").read_text(encoding="utf-8")
    start = text.index('        - tool: ["send_email"')
    end = text.index("        - tool: update_password")
    (tmp_path / "payments.yaml").write_text(text[:start] + text[end:], encoding="utf-8")
    cases = (EXAMPLES / "payments_test.yaml").read_text(encoding="utf-8")
    (tmp_path / "payments_test.yaml").write_text(cases, encoding="utf-8")

    done = run("policy", "test", str(tmp_path / "payments_test.yaml"))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAIL payments_test: mail to an outside address waits for a human" in done.stdout
    # Without its rule, mail is a tool nothing names: the default refuses it.
    assert "rule: want 'mail:external', got 'tools:default'" in done.stdout
    assert "| classified 'send_email'" in done.stdout  # the explanation comes with it
    assert "11 passed, 3 failed" in done.stdout


def test_a_case_file_with_a_typo_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cases.yaml"
    path.write_text(
        "- note: x\n  input: {action: tool_call, tool: t}\n  wnat: {decision: allow}\n",
        encoding="utf-8",
    )
    done = run("policy", "test", str(path))
    assert done.returncode == 2
    assert "did you mean 'want'" in done.stderr


def test_check_explain_prints_classification_rules_and_decider() -> None:
    action = {
        "action": "tool_call",
        "tool": "send_money",
        "args": {"amount": 900, "recipient": "X"},
    }
    done = run(
        "check", json.dumps(action), "--policy", str(EXAMPLES / "payments.yaml"), "--explain"
    )
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("review SIGSTOP payments:review-payment")
    assert any("classified 'send_money'" in line for line in lines)
    assert any("payments:non-positive: when" in line and "False" in line for line in lines)
    assert lines[-1].strip().startswith("decided by payments:review-payment: review")


def test_lint_warns_about_rules_that_cannot_matter(tmp_path: Path) -> None:
    path = tmp_path / "lax.yaml"
    path.write_text(
        "policies:\n"
        "  - name: lax\n"
        "    extends: strict\n"
        "    tools:\n"
        "      allow: [terminal]\n"
        "      rules:\n"
        "        - {tool: terminal, signal: SIGSTOP, id: review-terminal}\n"
        "        - {tool: 'Send Money', id: spaced}\n"
        "        - {tool: fetch_url, id: first}\n"
        "        - {tool: fetch_url, when: 'args.url != \"\"', id: second}\n"
        "        - {tool: fetch_url, when: 'args.to in data.payees', id: no-data}\n",
        encoding="utf-8",
    )
    done = run("policy", "lint", str(path), "--tool", "terminal", "--tool", "fetch_url")
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout
    assert "review-terminal: can never decide: action:shell_exec" in out
    assert "spaced: no framework sends a tool named 'Send Money'" in out
    assert "spaced: 'Send Money' matches none of the agent's tools" in out
    assert "second: can never decide: first always applies first" in out
    assert "tools.default: extends strict but tools.default is allow" in out
    assert "'terminal' is allowed but classified shell_exec" in out
    assert "no-data: reads data.payees, which data does not have" in out

    clean = run("policy", "lint", str(EXAMPLES / "payments.yaml"))
    assert clean.returncode == 0, clean.stdout
    assert "0 warning(s)" in clean.stdout
