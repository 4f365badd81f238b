"""The LangChain examples run as a user runs them, and show what they promise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.servers import Servers

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def _run(script: str, **env: str) -> str:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / script)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_langchain_agent_example() -> None:
    out = _run("langchain_agent.py")
    assert "search    [success] Sunny in Paris." in out
    assert "terminal  [error] Tool call 'terminal' was blocked" in out
    assert "tool bodies that ran: [\"search('Paris')\"]" in out


def test_langchain_remote_nats_example(servers: Servers) -> None:
    out = _run("langchain_remote_nats.py", AGENT_OS_BUS_URL=servers.get("nats").url)
    assert "delete_file [error] Tool call 'delete_file' was blocked" in out
    assert "analyst-7 delete_file deny" in out and "analyst-7 search      allow" in out
