"""Fixtures for the bus contract suite: every test runs once per backend.

``AGENT_OS_TEST_BACKENDS=memory,nats`` restricts the run to those backends
(default: all five). A selected backend whose server module
(``tests/servers/<name>.py``) is missing or cannot start FAILS; it never skips.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from contract_support import CAPS, BackendCaps, BusFactory

from agent_os.bus import Bus
from agent_os.bus.backends._memory import reset_memory_brokers
from tests.buses import BusOpener
from tests.servers import Servers, selected_backends

_ROOT = Path(__file__).resolve().parents[2]
if str(_ROOT) not in sys.path:  # so ``tests.servers`` imports without an installed ``tests``
    sys.path.insert(0, str(_ROOT))


def _selected_backends() -> list[str]:
    try:
        return selected_backends()
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "restarts_server: restarts the shared server; runs last for its backend"
    )


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Within each run of one backend, move server-restarting tests to the end.

    Runs after pytest groups items by the session-scoped ``backend`` parameter.
    """

    def backend_of(item: pytest.Item) -> str | None:
        callspec = getattr(item, "callspec", None)
        return None if callspec is None else callspec.params.get("backend")

    result: list[pytest.Item] = []
    run: list[pytest.Item] = []

    def flush() -> None:
        run.sort(key=lambda it: it.get_closest_marker("restarts_server") is not None)
        result.extend(run)
        run.clear()

    for item in items:
        if run and backend_of(item) != backend_of(run[-1]):
            flush()
        run.append(item)
    flush()
    items[:] = result


@pytest.fixture(scope="session", params=_selected_backends())
def backend(request: pytest.FixtureRequest) -> str:
    """The backend under test (pytest id = its name)."""
    name: str = request.param
    return name


@pytest.fixture(scope="session")
def backend_caps(backend: str) -> BackendCaps:
    return CAPS[backend]


@pytest.fixture(scope="session")
def server(backend: str, servers: Servers) -> Any:
    """The session's server for ``backend`` (``None`` for memory)."""
    return None if backend == "memory" else servers.get(backend)


@pytest.fixture
def subject() -> str:
    """A subject prefix unique to this test, so tests never see each other's messages."""
    return f"t.{uuid.uuid4().hex[:16]}"


@pytest.fixture
def group() -> str:
    """A consumer-group name unique to this test (Kafka group ids are global)."""
    return f"g{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def bus_factory(
    backend: str, servers: Servers, backend_caps: BackendCaps
) -> AsyncIterator[BusFactory]:
    """``await bus_factory(**options)`` → a connected Bus, closed at test end.

    All buses of one test reach the same broker (for memory, one named broker
    unique to the test), so two connects talk like two processes.
    """
    url = servers.bus_url(backend)
    opener = BusOpener()

    async def factory(**options: Any) -> Bus:
        return await opener(url, **options)

    yield factory
    await opener.close_all(max(30.0, 2 * backend_caps.timeout))
    if backend == "memory":
        reset_memory_brokers()
