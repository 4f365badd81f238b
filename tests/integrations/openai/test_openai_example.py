"""examples/openai_agents.py runs offline and shows what it says it shows."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "openai_agents.py"


def test_the_example_runs_the_search_stops_the_shell_and_holds_the_deploy() -> None:
    out = subprocess.run(
        [sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    lines = out.splitlines()
    assert "  search ran: 'weather in Paris'" in lines
    assert "terminal ran" not in out
    assert "Tool call 'terminal' was blocked by policy 'ops'" in out
    held = lines.index('held for review: release {"target": "deploy to production"} -> approving')
    ran = [i for i, line in enumerate(lines) if line.startswith("  release ran:")]
    assert ran and ran[0] > held
