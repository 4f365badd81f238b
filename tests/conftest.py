"""Session-wide fixtures: one real server per backend, started on first use."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers import Servers


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    registry = Servers(tmp_path_factory.mktemp("servers"))
    try:
        yield registry
    finally:
        registry.stop_all()
