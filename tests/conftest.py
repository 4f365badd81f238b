"""Session-wide fixtures: one real server per backend, started on first use."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.buses import BusOpener
from tests.servers import Servers


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    registry = Servers(tmp_path_factory.mktemp("servers"))
    try:
        yield registry
    finally:
        registry.stop_all()


@pytest.fixture
async def open_bus() -> AsyncIterator[BusOpener]:
    """``await open_bus(url, **options)`` → a connected Bus; all are closed at test end."""
    opener = BusOpener()
    try:
        yield opener
    finally:
        await opener.close_all()
