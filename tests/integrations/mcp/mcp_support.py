"""The upstream MCP server of the tests: examples/mcp_demo_server.py in a subprocess.

Each tool body it runs appends a line to a log file, so a test reads which
calls reached the upstream.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcp import StdioServerParameters

from tests.servers import free_port, wait_until

__all__ = ["free_port", "make_upstream", "start_http", "stop"]

ROOT = Path(__file__).resolve().parents[3]
DEMO_SERVER = ROOT / "examples" / "mcp_demo_server.py"


@dataclass
class Upstream:
    """Where the demo server keeps its files and logs its tool runs."""

    root: Path
    log: Path

    def argv(self) -> list[str]:
        return [sys.executable, str(DEMO_SERVER), "--root", str(self.root), "--log", str(self.log)]

    def stdio(self) -> StdioServerParameters:
        argv = self.argv()
        return StdioServerParameters(command=argv[0], args=argv[1:])

    def ran(self) -> list[dict[str, Any]]:
        """The tool calls whose bodies ran, in order."""
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]


def make_upstream(tmp_path: Path) -> Upstream:
    root = tmp_path / "sandbox"
    root.mkdir()
    (root / "notes.txt").write_text("quarterly numbers")
    return Upstream(root, tmp_path / "ran.jsonl")


def start_http(argv: list[str], port: int, log: Path) -> subprocess.Popen[bytes]:
    """Start an HTTP-serving process and wait until its port accepts connections."""
    with log.open("ab") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)

    def listening() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"{argv[:3]} exited with {proc.returncode}; see {log}")
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True

    try:
        wait_until(listening, 30.0, " ".join(argv[:3]))
    except BaseException:
        stop(proc)
        raise
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
