"""Fixtures for the end-to-end tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from e2e_support import Governed, governed_setup


@pytest.fixture
async def governed() -> AsyncIterator[Governed]:
    async for setup in governed_setup():
        yield setup
