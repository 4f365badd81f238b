"""Framework integration tests run in their framework's own environment (see scripts/test).

Frameworks whose pins conflict cannot share one environment, so each folder
named in ``FRAMEWORKS`` is collected only where ``AGENT_OS_TEST_FRAMEWORK``
names it: scripts/test sets it for ``.venv-<framework>``. The main
environment collects none of them (and skips nothing it collects); the MCP
tests run there.
"""

from __future__ import annotations

import os

FRAMEWORKS = ("langchain", "crewai", "openai")

collect_ignore = [name for name in FRAMEWORKS if name != os.environ.get("AGENT_OS_TEST_FRAMEWORK")]
