"""The result cache in Redis: shared, signed, a TTL per entry, a bounded count (real server)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aredis

from agent_os.trust import AgentIdentity
from agent_os.verifier import (
    Cache,
    ConfigurationError,
    ConsensusResult,
    ConsensusVerifier,
    LexicalJudge,
    RedisResultCache,
    ResultCache,
    VerifierError,
    open_cache,
)
from agent_os.verifier._cache_redis import DOMAIN, MAGIC
from tests.servers import Servers, free_port
from tests.unit.verifier.vendor_server import three, vendor_server

PROMPT = "In which year was the Eiffel Tower completed?"
KEY = AgentIdentity.create("cache-verifier", "verifier", [])
SPLIT = {"gpt-local": ["1889"], "claude-local": ["1889."], "gemini-local": ["1925"]}


def result(answer: str = "1889", outcome: str = "agreed") -> ConsensusResult:
    return ConsensusResult(outcome, 1.0, 0.8, 1, answer, ("m",), (), (), 0.0, (("m",),))  # type: ignore[arg-type]


@pytest.fixture
def redis_url(servers: Servers) -> str:
    return servers.get("redis").url


@pytest.fixture
def prefix() -> str:
    return f"test:cmvk:{uuid.uuid4().hex}:"


@pytest.fixture
async def raw(redis_url: str) -> AsyncIterator[aredis.Redis]:
    client = aredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def cache(redis_url: str, prefix: str) -> AsyncIterator[RedisResultCache]:
    made = RedisResultCache(redis_url, KEY, prefix=prefix, ttl=60, size=100)
    yield made
    await made.aclose()


async def test_two_verifiers_share_results(redis_url: str, prefix: str) -> None:
    first = RedisResultCache(redis_url, KEY, prefix=prefix)
    second = RedisResultCache(redis_url, KEY, prefix=prefix)
    assert isinstance(first, Cache) and isinstance(second, Cache)
    with vendor_server(SPLIT) as server:
        one = ConsensusVerifier(models=three(server), judge=LexicalJudge(), cache=first)
        two = ConsensusVerifier(models=three(server), judge=LexicalJudge(), cache=second)
        async with one, two:
            asked = await one.verify_consensus(PROMPT)
            shared = await two.verify_consensus(PROMPT)
    await first.aclose()
    await second.aclose()
    assert server.calls("gpt-local") == 1
    assert not asked.cached and shared.cached
    assert shared.dissenting_models == asked.dissenting_models == ("gemini:gemini-local",)
    assert shared.models == asked.models


async def test_each_entry_has_its_ttl(cache: RedisResultCache, raw: aredis.Redis) -> None:
    await cache.put("k1", result())
    await cache.put("k2", result(), ttl=5)
    assert 55_000 < await raw.pttl(f"{cache.prefix}e:k1") <= 60_000
    assert 0 < await raw.pttl(f"{cache.prefix}e:k2") <= 5_000


async def test_one_signed_value_under_several_keys(
    cache: RedisResultCache, raw: aredis.Redis
) -> None:
    await cache.put(["request", "question"], result("1889"))
    assert await raw.zcard(f"{cache.prefix}index") == 2
    value = await raw.get(f"{cache.prefix}e:request")
    assert value == await raw.get(f"{cache.prefix}e:question")
    # The first key found wins; a key never kept is passed over.
    got = await cache.get("absent", "question", "request")
    assert got is not None and got.majority_answer == "1889" and got.cached
    assert await cache.get("absent") is None and await cache.get() is None
    # A poisoned first key is passed over too (and counted), not served.
    await raw.set(f"{cache.prefix}e:absent", value)
    assert await cache.get("absent", "question") is not None
    assert cache.rejected == 1


async def test_in_process_cache_takes_several_keys() -> None:
    memory = ResultCache(ttl=10)
    await memory.put(["request", "question"], result("1889"))
    await memory.put("other", result("1925"))
    first = await memory.get("absent", "question", "other")
    assert first is not None and first.majority_answer == "1889"
    assert len(memory) == 3


async def test_signed_expiry_holds_when_redis_would_keep_it(
    redis_url: str, prefix: str, raw: aredis.Redis
) -> None:
    now = [1_000_000.0]
    cache = RedisResultCache(redis_url, KEY, prefix=prefix, ttl=10, clock=lambda: now[0])
    await cache.put("k", result())
    await raw.persist(f"{prefix}e:k")  # someone lifts the TTL in Redis
    assert await cache.get("k") is not None
    now[0] += 10
    assert await cache.get("k") is None
    assert cache.rejected == 1
    await cache.aclose()


async def test_size_bound_evicts_the_oldest(redis_url: str, prefix: str, raw: aredis.Redis) -> None:
    cache = RedisResultCache(redis_url, KEY, prefix=prefix, size=3)
    for name in ("a", "b", "c", "d", "e"):
        await cache.put(name, result(name))
    assert await raw.zcard(f"{prefix}index") == 3
    assert len(await raw.keys(f"{prefix}e:*")) == 3
    assert await cache.get("a") is None and await cache.get("b") is None
    kept = [await cache.get(name) for name in ("c", "d", "e")]
    assert [r.majority_answer for r in kept if r is not None] == ["c", "d", "e"]
    # Putting a key again refreshes it: it is no longer the oldest.
    await cache.put("c", result("c2"))
    await cache.put("f", result("f"))
    assert await cache.get("d") is None
    again = await cache.get("c")
    assert again is not None and again.majority_answer == "c2"
    await cache.aclose()


async def _forge(cache: RedisResultCache, raw: aredis.Redis, key: str, how: str) -> None:
    entry = f"{cache.prefix}e:{key}"
    if how == "garbage":
        await raw.set(entry, b"not an entry")
        return
    if how == "unsigned-json":
        await raw.set(entry, MAGIC + b"\0" * 64 + b'{"k": ["%s"]}' % key.encode())
        return
    if how == "deep":
        # Never parsed: the signature is checked first.
        await raw.set(entry, MAGIC + b"\0" * 64 + b"[" * 500_000)
        return
    if how == "other-key":
        stranger = AgentIdentity.create("cache-stranger", "stranger", [])
        forger = RedisResultCache(cache._client, stranger, prefix=cache.prefix)
        await forger.put(key, result("1925"))
        return
    if how == "moved":
        # A genuine entry, signed by the trusted key, copied under another key.
        await cache.put("elsewhere", result("1925"))
        await raw.set(entry, await raw.get(f"{cache.prefix}e:elsewhere"))
        return
    assert how == "tampered"
    await cache.put(key, result("1925"))
    value = await raw.get(entry)
    assert b'"1925"' in value
    await raw.set(entry, value.replace(b'"1925"', b'"1889"'))


@pytest.mark.parametrize(
    "how", ["garbage", "unsigned-json", "deep", "other-key", "moved", "tampered"]
)
async def test_a_poisoned_entry_is_a_miss_and_the_models_are_asked(
    cache: RedisResultCache, raw: aredis.Redis, how: str
) -> None:
    with vendor_server(SPLIT) as server:
        verifier = ConsensusVerifier(models=three(server), judge=LexicalJudge(), cache=cache)
        key = cache.key(PROMPT, verifier.models, 0.8, verifier.quorum)
        await _forge(cache, raw, key, how)
        async with verifier:
            got = await verifier.verify_consensus(PROMPT)
    assert cache.rejected == 1
    assert server.calls("gpt-local") == 1
    assert not got.cached and got.outcome == "flagged"
    assert got.dissenting_models == ("gemini:gemini-local",)
    # The verifier's own result replaced the poisoned entry.
    kept = await cache.get(key)
    assert kept is not None and kept.cached
    assert (kept.outcome, kept.dissenting_models) == ("flagged", ("gemini:gemini-local",))


async def test_entries_signed_by_a_trusted_pool_key_are_served(redis_url: str, prefix: str) -> None:
    other = AgentIdentity.create("cache-verifier-2", "verifier", [])
    writer = RedisResultCache(redis_url, other, prefix=prefix)
    reader = RedisResultCache(redis_url, KEY, prefix=prefix, trusted=[other.public()])
    alone = RedisResultCache(redis_url, KEY, prefix=prefix)
    await writer.put("k", result("1889"))
    got = await reader.get("k")
    assert got is not None and got.cached and got.majority_answer == "1889"
    assert await alone.get("k") is None and alone.rejected == 1
    for c in (writer, reader, alone):
        await c.aclose()


async def test_redis_down_is_a_miss_never_an_error() -> None:
    cache = RedisResultCache(f"redis://127.0.0.1:{free_port()}/0", KEY, socket_timeout=0.5)
    with vendor_server(SPLIT) as server:
        verifier = ConsensusVerifier(models=three(server), judge=LexicalJudge(), cache=cache)
        async with verifier:
            got = await verifier.verify_consensus(PROMPT)
    assert got.outcome == "flagged" and not got.cached
    assert cache.errors == 2  # the read and the write
    with pytest.raises(VerifierError) as info:
        await cache.ping()
    assert info.value.code == "cache_unavailable"
    await cache.aclose()


def test_signature_domain_is_not_a_message_domain() -> None:
    from agent_os.trust._identity import MESSAGE_DOMAIN

    assert not DOMAIN.startswith(MESSAGE_DOMAIN)


async def test_open_cache_by_url(redis_url: str) -> None:
    memory = open_cache("memory://", ttl=5, size=3)
    assert isinstance(memory, ResultCache) and (memory.ttl, memory.size) == (5, 3)
    shared = open_cache(redis_url, identity=KEY, ttl=7, size=9)
    assert isinstance(shared, RedisResultCache) and (shared.ttl, shared.size) == (7, 9)
    await shared.aclose()
    with pytest.raises(ConfigurationError, match="signs its entries"):
        open_cache(redis_url)
    with pytest.raises(ConfigurationError, match="'memcached'"):
        open_cache("memcached://u:secret@h:1")


async def test_metrics_count_hits_and_refused_entries(
    cache: RedisResultCache, raw: aredis.Redis
) -> None:
    from prometheus_client import CollectorRegistry

    from agent_os.verifier import Metrics

    registry = CollectorRegistry()
    metrics = Metrics(registry)
    metrics.watch_cache(cache)
    with vendor_server(SPLIT) as server:
        verifier = ConsensusVerifier(
            models=three(server), judge=LexicalJudge(), cache=cache, metrics=metrics
        )
        key = cache.key(PROMPT, verifier.models, 0.8, verifier.quorum)
        await _forge(cache, raw, key, "other-key")
        async with verifier:
            await verifier.verify_consensus(PROMPT)  # the forged entry refused: models asked
            await verifier.verify_consensus(PROMPT)  # now the cache answers
    value = registry.get_sample_value
    assert value("agent_os_cmvk_cache_refused_total") == 1.0
    assert value("agent_os_cmvk_cache_errors_total") == 0.0
    assert value("agent_os_cmvk_cache_hits_total") == 1.0
    assert value("agent_os_cmvk_verifications_total", {"outcome": "flagged"}) == 1.0
