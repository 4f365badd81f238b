"""Shared replay protection in Redis: SET NX PX on a real server."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid

import pytest
import redis

from agent_os.trust import (
    AsyncNonceStore,
    AsyncRedisNonceStore,
    MemoryNonceStore,
    NonceStore,
    RedisNonceStore,
    TrustError,
    as_async_nonce_store,
)
from tests.servers import Servers, free_port


@pytest.fixture
def redis_url(servers: Servers) -> str:
    return servers.get("redis").url


@pytest.fixture
def prefix() -> str:
    return f"test:nonce:{uuid.uuid4().hex}:"


def test_importing_trust_does_not_import_redis() -> None:
    code = "import sys, agent_os.trust; print('redis' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_sync_store_accepts_a_nonce_once(redis_url: str, prefix: str) -> None:
    store = RedisNonceStore(redis_url, prefix=prefix)
    try:
        assert isinstance(store, NonceStore)
        now = time.time()
        assert store.check_and_add("agent-1", "a" * 32, now + 30, now) is True
        assert store.check_and_add("agent-1", "a" * 32, now + 30, now) is False
        # Same nonce from another sender is a different message.
        assert store.check_and_add("agent-2", "a" * 32, now + 30, now) is True
    finally:
        store.close()


def test_key_expires_with_the_message(redis_url: str, prefix: str) -> None:
    store = RedisNonceStore(redis_url, prefix=prefix)
    raw = redis.Redis.from_url(redis_url)
    try:
        now = time.time()
        assert store.check_and_add("agent-1", "b" * 32, now + 30, now)
        ttl = raw.pttl(f"{prefix}agent-1:{'b' * 32}")
        assert 29_000 < ttl <= 30_000
        assert store.check_and_add("agent-1", "c" * 32, now + 0.05, now)
        deadline = time.monotonic() + 2
        while raw.exists(f"{prefix}agent-1:{'c' * 32}"):
            assert time.monotonic() < deadline, "nonce key never expired"
            time.sleep(0.01)
    finally:
        raw.close()
        store.close()


async def test_async_store_is_atomic_under_concurrency(redis_url: str, prefix: str) -> None:
    stores = [AsyncRedisNonceStore(redis_url, prefix=prefix) for _ in range(4)]
    try:
        assert isinstance(stores[0], AsyncNonceStore)
        now = time.time()
        results = await asyncio.gather(
            *(
                s.check_and_add("agent-1", "d" * 32, now + 30, now)
                for s in stores
                for _ in range(25)
            )
        )
        assert results.count(True) == 1
    finally:
        for s in stores:
            await s.close()


async def test_sync_and_async_stores_share_keys(redis_url: str, prefix: str) -> None:
    sync_store = RedisNonceStore(redis_url, prefix=prefix)
    async_store = AsyncRedisNonceStore(redis_url, prefix=prefix)
    try:
        now = time.time()
        assert sync_store.check_and_add("agent-1", "e" * 32, now + 30, now)
        assert not await async_store.check_and_add("agent-1", "e" * 32, now + 30, now)
    finally:
        sync_store.close()
        await async_store.close()


async def test_unreachable_redis_fails_closed() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    sync_store = RedisNonceStore(url, socket_timeout=0.5)
    async_store = AsyncRedisNonceStore(url, socket_timeout=0.5)
    now = time.time()
    try:
        with pytest.raises(TrustError) as caught:
            sync_store.check_and_add("agent-1", "f" * 32, now + 30, now)
        assert (caught.value.code, caught.value.retryable) == ("nonce_store_unavailable", True)
        with pytest.raises(TrustError) as caught:
            await async_store.check_and_add("agent-1", "f" * 32, now + 30, now)
        assert caught.value.code == "nonce_store_unavailable"
    finally:
        sync_store.close()
        await async_store.close()


async def test_sync_stores_are_adapted_async_ones_kept(redis_url: str) -> None:
    memory = MemoryNonceStore()
    adapted = as_async_nonce_store(memory)
    assert adapted is not memory and isinstance(adapted, AsyncNonceStore)
    now = time.time()
    assert await adapted.check_and_add("a", "0" * 32, now + 1, now)
    assert not await adapted.check_and_add("a", "0" * 32, now + 1, now)
    native = AsyncRedisNonceStore(redis_url)
    try:
        assert as_async_nonce_store(native) is native
    finally:
        await native.close()
