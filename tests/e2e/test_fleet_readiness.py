"""A worker's readiness sees its broker go away, on every backend.

Readiness used to read what the bus client knew of its connection, and only
NATS's client knows much: a worker on Redis, Kafka or SQS stayed "ready"
with its server gone. Now a bus that can ask its broker cheaply does
(``Pingable``: Redis PING, a Kafka metadata request, a one-result SQS
ListQueues), and the worker's ``bus`` check is that round trip. Each test
stops a server of its own, started here, and starts it again.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from fleet_support import fleet

from agent_os.bus import Pingable, connect, probe
from agent_os.kernel_worker import Worker
from agent_os.trust import MemoryNonceStore
from tests.eventually import eventually
from tests.servers import TEST_QUERY, selected_backends

BACKENDS = selected_backends(("redis", "kafka", "sqs"))


async def _bus_check(worker: Worker) -> bool | str:
    return await worker.health_checks()["bus"]()  # type: ignore[no-any-return,misc]


@pytest.mark.parametrize("backend", BACKENDS)
async def test_readiness_fails_while_the_broker_is_down(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A server of its own, even where the environment names one: this test stops it.
    monkeypatch.delenv(f"AGENT_OS_TEST_{backend.upper()}_URL", raising=False)
    server = importlib.import_module(f"tests.servers.{backend}").start(tmp_path)
    query = TEST_QUERY.get(backend)
    url = server.url if query is None else server.url + ("&" if "?" in server.url else "?") + query
    try:
        async with fleet(url, tmp_path) as f:
            worker = await f.start_worker(nonces=MemoryNonceStore())
            assert isinstance(worker._bus, Pingable)
            assert await _bus_check(worker) is True

            server.stop()

            async def down() -> str | None:
                ready = await _bus_check(worker)
                return ready if isinstance(ready, str) else None

            why = await eventually(down, 60.0, f"{backend} readiness failing")
            assert "broker" in why
            server.start()  # the same port: the clients reconnect
            await eventually(lambda: _bus_check(worker), 60.0, f"{backend} ready again")
    finally:
        server.stop()


async def test_a_bus_without_ping_is_judged_by_what_it_knows() -> None:
    bus = await connect("memory://liveness")
    assert not isinstance(bus, Pingable)
    assert await probe(bus) is True
    await bus.close()
    assert await probe(bus) in ("bus closing", "bus disconnected")
