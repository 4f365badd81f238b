"""With the openai SDK installed but not the Agents SDK, wrap_agent names what is missing.

Runs in the openai environment, where ``openai`` is importable; a fresh
interpreter blocks ``agents`` (``sys.modules["agents"] = None``).
"""

from __future__ import annotations

import subprocess
import sys


def test_wrap_agent_without_the_agents_sdk_names_it() -> None:
    code = (
        "import sys; sys.modules['agents'] = None\n"
        "import agent_os.integrations as i\n"
        "try:\n    i.OpenAIKernel().wrap_agent(object())\n"
        "except i.MissingExtra as e:\n    print(e.code, e)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    out = done.stdout
    assert out.startswith("missing_extra") and "openai-agents" in out and "agent-os[openai]" in out
