"""A recursive delete is judged by what it removes: a build's output is cleanup, anything else
is destruction.

A coding agent cleans build, cache and dependency output all day (``rm -rf ./dist
node_modules``, ``find . -name __pycache__ -exec rm -rf {} +``); the same commands aimed
at a home, the root, the whole working tree, a path outside it or a name only known at
run time stay ``shell:rm-rf``. Judged by the analysers alone (a policy that lets the
agent run shell), typed and through LangChain's ``terminal`` and an MCP
``run_command``. A recursive rm inside a script another program runs (awk, perl) or
inside a command wrapped in JSON is still read; text another program only prints is
data.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from agent_os.policies.analysis._shell_words import _scratch
from tests.unit.policies.test_shell_host_classes import mcp, terminal, typed

Channel = Callable[[str], tuple[str, str | None]]

CLEANUP = [
    "rm -rf ./dist ./build *.egg-info",
    "rm -rf node_modules && npm ci",
    "rm -rf web/node_modules web/.next",
    "rm -rf .pytest_cache .mypy_cache .ruff_cache htmlcov .coverage",
    "rm -rf -- target",
    "rm -rf /tmp/pytest-of-dev",
    "rm -rf /tmp/build-1234 /var/tmp/ci-cache",
    "find . -name '*.pyc' -delete",
    "find . -name __pycache__ -type d -exec rm -rf {} +",
    "find src -name '*.egg-info' -prune -exec rm -rf {} +",
    "bash -c 'rm -rf ./dist'",
    "echo 'rm -rf / is dangerous'",
    "grep -rn 'rm -rf /' docs",
]

DESTRUCTION = [
    "rm -rf /",
    "rm -rf ~",
    "rm -rf *",
    "rm -rf .",
    "rm -rf ./*",
    "rm -rf src",
    "rm -rf .git",
    "rm -rf ../dist",
    "rm -rf dist/../..",
    "rm -rf $BUILD_DIR/dist",
    "rm -rf /tmp",
    "rm -rf /tmp/*",
    "rm -rf /tmp/../etc",
    "rm -rf /home/dev/project/dist",
    "rm -fr build /etc",
    "sudo rm -rf /var/lib/postgresql",
    "find . -delete",
    "find / -name '*.pyc' -delete",
    "find . -name '*.pyc' -o -name '*' -delete",
    "find . -name src -exec rm -rf {} +",
    "find ~ -name node_modules -exec rm -rf {} +",
    "xargs rm -rf < dirs.txt",
    "bash -c 'rm -rf /srv/app'",
    "awk 'BEGIN{system(\"rm -rf /opt/app\")}'",
    "perl -e 'system(\"rm -rf /var/www\")'",
    '{"command": "rm -rf /var/www"}',
]


@pytest.mark.parametrize("command", CLEANUP)
@pytest.mark.parametrize("channel", [typed, terminal, mcp])
def test_cleaning_build_output_is_allowed(command: str, channel: Channel) -> None:
    assert channel(command) == ("allow", None)


@pytest.mark.parametrize("command", DESTRUCTION)
@pytest.mark.parametrize("channel", [typed, terminal, mcp])
def test_a_recursive_delete_of_anything_else_is_stopped(command: str, channel: Channel) -> None:
    decision, rule = channel(command)
    assert decision == "deny", (command, rule)
    assert rule in ("shell:rm-rf", "shell:rm-root"), (command, rule)


@pytest.mark.parametrize(
    ("text", "scratch"),
    [
        ("dist", True),
        ("./web/node_modules/", True),
        ("*.egg-info", True),
        ("pkg/*/build", True),
        ("/tmp/pytest-of-dev", True),
        ("/var/tmp/x", True),
        ("/tmp", False),
        ("/tmp/", False),
        ("/tmp/*", False),
        ("/tmp/../etc", False),
        ("*", False),
        ("*.py", False),
        ("src", False),
        ("../dist", False),
        ("~/dist", False),
        ("$D/dist", False),
        ("dist/..", False),
        ("-rf", False),
    ],
)
def test_what_counts_as_build_output(text: str, scratch: bool) -> None:
    assert _scratch(text) is scratch
