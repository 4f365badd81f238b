"""examples/crewai_crew.py runs offline and shows what it says it shows."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "crewai_crew.py"


def test_the_example_runs_the_search_and_stops_the_shell_command() -> None:
    out = subprocess.run(
        [sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    assert "search ran: 'weather in Paris'" in out
    assert "terminal ran" not in out
    assert "Tool call 'terminal' was blocked by policy 'strict'" in out
