"""examples/human_review.py runs offline and does what it says."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "human_review.py"


def test_example_approves_one_deploy_and_denies_the_other() -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "agent: deployed to staging" in lines
    assert "reviewer: denied by alice (not on a Friday)" in lines
    assert any(line.startswith("agent: blocked (review_denied)") for line in lines)
    assert "deployed to production" not in done.stdout
