"""A nonce recorded with its owner: the same broker copy may come back, another copy may not.

Every shared store (memory, Redis sync and async, JetStream KV) on a real
server answers the same: first sight True, the same owner again True (a
redelivery of the same copy, wherever it lands), another owner or no owner
False (a replay).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from agent_os.trust import (
    AsyncNonceStore,
    AsyncRedisNonceStore,
    JetStreamNonceStore,
    MemoryNonceStore,
    RedisNonceStore,
    as_async_nonce_store,
)
from tests.servers import Servers

NOW = 1_700_000_000.0
KINDS = ("memory", "redis-sync", "redis-async", "jetstream")


@pytest.fixture(params=KINDS)
async def store(request: pytest.FixtureRequest, servers: Servers) -> AsyncIterator[AsyncNonceStore]:
    kind = request.param
    prefix = f"test:owner:{uuid.uuid4().hex}:"
    if kind == "memory":
        yield as_async_nonce_store(MemoryNonceStore())
    elif kind == "redis-sync":
        sync = RedisNonceStore(servers.get("redis").url, prefix=prefix)
        yield as_async_nonce_store(sync)
        sync.close()
    elif kind == "redis-async":
        made = AsyncRedisNonceStore(servers.get("redis").url, prefix=prefix)
        yield made
        await made.close()
    else:
        kv = JetStreamNonceStore(servers.get("nats").url, bucket=f"t_{uuid.uuid4().hex[:12]}")
        yield kv
        await kv.close()


async def test_the_same_owner_may_come_back_another_may_not(store: AsyncNonceStore) -> None:
    nonce, expires = uuid.uuid4().hex, NOW + 30
    assert await store.check_and_add("agent:1@x", nonce, expires, NOW, "stream:7")
    assert await store.check_and_add("agent:1@x", nonce, expires, NOW, "stream:7")
    assert not await store.check_and_add("agent:1@x", nonce, expires, NOW, "stream:8")
    assert not await store.check_and_add("agent:1@x", nonce, expires, NOW)
    # Without owners, the first sight wins and every other is a replay.
    other = uuid.uuid4().hex
    assert await store.check_and_add("agent:1@x", other, expires, NOW)
    assert not await store.check_and_add("agent:1@x", other, expires, NOW)
    assert not await store.check_and_add("agent:1@x", other, expires, NOW, "stream:9")
