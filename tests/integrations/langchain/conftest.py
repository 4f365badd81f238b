"""Fixtures of the LangChain integration tests (run in the langchain environment)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integrations.support import LoopThread


@pytest.fixture
def loop_thread() -> Iterator[LoopThread]:
    """Where a remote kernel's bus lives while the test drives the agent sync or async."""
    thread = LoopThread()
    try:
        yield thread
    finally:
        thread.close()
