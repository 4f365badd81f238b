"""CrewAI and OpenAI kernels load lazily and name the extra that is missing.

Each case runs in a fresh interpreter where the framework cannot be imported
(``sys.modules[name] = None``), whatever this environment has installed.
"""

from __future__ import annotations

import subprocess
import sys

import pytest


def fresh(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout


def test_importing_the_package_imports_no_framework() -> None:
    out = fresh(
        "import sys\nimport agent_os.integrations\n"
        "print(sorted(m for m in ('crewai', 'agents', 'openai', 'langchain') if m in sys.modules))"
    )
    assert out.strip() == "[]"


@pytest.mark.parametrize(
    ("blocked", "name", "extra"),
    [("crewai", "CrewAIKernel", "crewai"), ("openai", "OpenAIKernel", "openai")],
)
def test_a_missing_framework_names_its_extra(blocked: str, name: str, extra: str) -> None:
    out = fresh(
        f"import sys; sys.modules[{blocked!r}] = None\n"
        "import agent_os.integrations as i\n"
        f"try:\n    i.{name}\nexcept i.MissingExtra as e:\n    print(e.code, e)\n"
    )
    assert out.startswith("missing_extra") and f"agent-os[{extra}]" in out
