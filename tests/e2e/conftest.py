"""Fixtures for the end-to-end tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from e2e_support import Governed, governed_setup

from tests.servers import Servers


@pytest.fixture
async def governed(
    request: pytest.FixtureRequest, servers: Servers, tmp_path: Path
) -> AsyncIterator[Governed]:
    """A worker and a client on ``memory``, or on the backend given by indirect parametrisation:
    ``@pytest.mark.parametrize("governed", ["nats", ...], indirect=True)``.
    """
    backend = getattr(request, "param", "memory")
    async with governed_setup(servers.bus_url(backend), tmp_path) as setup:
        yield setup
