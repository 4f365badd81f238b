"""Two CMVK workers on one bus (real NATS and Redis) sharing a Redis cache: a request
handed to the second worker while the first still asks the models is not asked twice.

The first worker takes the request, stops consuming and gives the delivery back
while it still verifies it (a lost lease, a worker draining): the broker
redelivers the request to the second worker. The models are loopback servers
that hold their answers until the test lets them go, and count the calls.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from pool_support import PROMPT, SCRIPTS, Unsettled, pool_keys

from agent_os.bus import Bus, Delivery, SubscribeOptions, connect
from agent_os.verifier import (
    CallSettings,
    LexicalJudge,
    RedisResultCache,
    RemoteVerifier,
    VerifierWorker,
)
from tests.eventually import eventually
from tests.servers import Servers
from tests.unit.verifier.vendor_server import Held, three, vendor_server

HELD = {model: [Held(answer)] for model, (answer,) in SCRIPTS.items()}
OPTIONS = SubscribeOptions(ack_wait=4.0, concurrency=8)


@pytest.fixture(params=["nats", "redis"])
def backend_url(request: pytest.FixtureRequest, servers: Servers) -> str:
    return servers.get(str(request.param)).url


class HandsOver(VerifierWorker):
    """Verifies its first request, but stops consuming and gives the delivery back
    at once: the broker redelivers the request to another worker of the pool."""

    first: asyncio.Task[None] | None = None
    handed: asyncio.Task[None] | None = None

    async def _handle(self, delivery: Delivery) -> None:
        if self.first is not None:
            await delivery.nack("handed_over")
            return
        self.first = asyncio.create_task(super()._handle(Unsettled(delivery)))  # type: ignore[arg-type]
        self.handed = asyncio.create_task(self._hand_over(delivery))

    async def _hand_over(self, delivery: Delivery) -> None:
        await self._subscription.unsubscribe()
        await delivery.nack("handed_over")


async def test_a_request_handed_to_another_worker_waits_for_the_first(
    backend_url: str, servers: Servers
) -> None:
    agent, key, registry = pool_keys("cmvk-claim")
    redis_url = servers.get("redis").url
    prefix = f"test:cmvk:{uuid.uuid4().hex}:"
    caches = [RedisResultCache(redis_url, key, prefix=prefix) for _ in range(2)]
    buses: list[Bus] = [await connect(backend_url) for _ in range(3)]
    subject = f"agentos.v1.cmvk-claim-{uuid.uuid4().hex[:8]}"
    settings = CallSettings(timeout=30, retries=0)
    first = HandsOver(buses[1], key, registry, judge=LexicalJudge(), settings=settings,
                      cache=caches[0], subject=subject, options=OPTIONS)  # fmt: skip
    second = VerifierWorker(buses[2], key, registry, judge=LexicalJudge(), settings=settings,
                            cache=caches[1], subject=subject, options=OPTIONS)  # fmt: skip
    workers = [first, second]
    asking: asyncio.Future[Any] | None = None
    with vendor_server(HELD) as server:
        try:
            await first.start()
            client = RemoteVerifier(buses[0], agent, [key.public()], timeout=60, subject=subject)
            asking = asyncio.ensure_future(client.verify(PROMPT, three(server), 0.8, 2))
            await eventually(lambda: first.handed is not None and first.handed.done(), 20,
                             "the first worker took the request and gave it back")  # fmt: skip
            # Only now the second worker: the request reaches it as a redelivery.
            await second.start()
            await eventually(
                lambda: second.claim_waits + server.calls("gpt-local") > 1,
                20,
                "the second worker waits for the first, or asks the models itself",
            )
            server.release.set()
            result = await asking
            await eventually(lambda: second.awaited + second.verifications == 1, 20,
                             "the second worker answered")  # fmt: skip
            assert first.first is not None
            await first.first
        finally:
            server.release.set()
            if asking is not None:
                asking.cancel()
            for w in workers:
                await w.shutdown()
            for bus in buses:
                await bus.close()
            for cache in caches:
                await cache.aclose()
    assert result.dissenting_models == ("gemini:gemini-local",)
    assert [server.calls(m) for m in SCRIPTS] == [1, 1, 1]
    assert (first.verifications, second.verifications, second.awaited) == (1, 0, 1)
