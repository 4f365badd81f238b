"""Claims in the shared Redis cache (real server): one verification of a request per pool,
and a claim that cannot help never keeps a request from being verified."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from agent_os.trust import AgentIdentity
from agent_os.verifier import ConsensusResult, RedisResultCache, ResultCache, VerifierError
from agent_os.verifier._claim import ClaimingCache, verify_claimed
from tests.eventually import eventually
from tests.servers import Servers, free_port

KEY = AgentIdentity.create("claim-verifier", "verifier", [])
OTHER = AgentIdentity.create("claim-other-verifier", "verifier", [])


def result(answer: str = "1889") -> ConsensusResult:
    return ConsensusResult("agreed", 1.0, 0.8, 1, answer, ("m",), (), (), 0.0, (("m",),))


@pytest.fixture
async def pair(servers: Servers) -> AsyncIterator[tuple[RedisResultCache, RedisResultCache]]:
    """Two workers' caches on one Redis (one prefix), each with its own key, trusting the other."""
    url, prefix = servers.get("redis").url, f"test:cmvk:{uuid.uuid4().hex}:"
    one = RedisResultCache(url, KEY, prefix=prefix, trusted=[OTHER.public()])
    two = RedisResultCache(url, OTHER, prefix=prefix, trusted=[KEY.public()])
    yield one, two
    await one.aclose()
    await two.aclose()


class Counted:
    """A verification that counts its calls and, once ``release`` is set, keeps its result."""

    def __init__(self, cache: RedisResultCache, key: str, answer: str) -> None:
        self.cache, self.key, self.answer = cache, key, answer
        self.calls = 0
        self.release = asyncio.Event()
        self.release.set()

    async def __call__(self) -> ConsensusResult:
        self.calls += 1
        await self.release.wait()
        found = result(self.answer)
        await self.cache.put(self.key, found)
        return found


def test_the_redis_cache_claims_the_memory_one_does_not() -> None:
    assert not isinstance(ResultCache(), ClaimingCache)


async def test_a_second_worker_waits_for_the_first_ones_result(
    pair: tuple[RedisResultCache, RedisResultCache],
) -> None:
    one, two = pair
    first, second = Counted(one, "req", "from the first"), Counted(two, "req", "from the second")
    first.release.clear()
    holder = asyncio.create_task(verify_claimed(one, "req", first, ttl=5, poll=0.01, wait=30))
    await eventually(lambda: first.calls == 1, 10, "the first verifies")
    waits: list[bool] = []
    waiter = asyncio.create_task(verify_claimed(
        two, "req", second, ttl=5, poll=0.01, wait=30, waiting=lambda: waits.append(True)
    ))  # fmt: skip
    await eventually(lambda: waits, 10, "the second waits")
    first.release.set()
    await holder
    theirs, awaited = await waiter
    assert (first.calls, second.calls) == (1, 0)
    assert awaited and theirs.cached and theirs.majority_answer == "from the first"
    # The claim is left to lapse: a redelivery meanwhile finds the result first.
    assert await one.claimed("req")
    late = Counted(two, "req", "asked again")
    again, awaited = await verify_claimed(two, "req", late, ttl=5, poll=0.01, wait=30)
    assert awaited and late.calls == 0 and again.majority_answer == "from the first"


async def test_a_lapsed_claim_does_not_keep_the_request_waiting(
    pair: tuple[RedisResultCache, RedisResultCache],
) -> None:
    one, two = pair
    # A worker that claimed the request and died: nobody renews its claim.
    assert await one.claim("req", 0.3) is not None
    assert await one.claim("req", 0.3) is None
    second = Counted(two, "req", "verified after the claim lapsed")
    found, awaited = await verify_claimed(two, "req", second, ttl=5, poll=0.02, wait=30)
    assert second.calls == 1 and not awaited
    assert found.majority_answer == "verified after the claim lapsed"


async def test_a_holder_that_fails_leaves_the_request_to_the_waiter(
    pair: tuple[RedisResultCache, RedisResultCache],
) -> None:
    one, two = pair
    started = asyncio.Event()
    fail = asyncio.Event()

    async def failing() -> ConsensusResult:
        started.set()
        await fail.wait()
        raise RuntimeError("the models' connection broke")

    holder = asyncio.create_task(verify_claimed(one, "req", failing, ttl=5, poll=0.01, wait=30))
    await started.wait()
    second = Counted(two, "req", "verified by the waiter")
    waits: list[bool] = []
    waiter = asyncio.create_task(verify_claimed(
        two, "req", second, ttl=5, poll=0.01, wait=30, waiting=lambda: waits.append(True)
    ))  # fmt: skip
    await eventually(lambda: waits, 10, "the second waits")
    fail.set()
    with pytest.raises(RuntimeError):
        await holder
    found, awaited = await waiter
    assert second.calls == 1 and not awaited
    assert found.majority_answer == "verified by the waiter"


async def test_a_failed_verification_is_not_asked_again(
    pair: tuple[RedisResultCache, RedisResultCache],
) -> None:
    one, _ = pair
    calls: list[int] = []

    async def refused() -> ConsensusResult:
        calls.append(1)
        raise VerifierError("review store down", code="review_unavailable")

    with pytest.raises(VerifierError):
        await verify_claimed(one, "req", refused, ttl=5, poll=0.01, wait=30)
    assert len(calls) == 1
    assert not await one.claimed("req")


async def test_a_claim_is_renewed_while_the_verification_runs(
    pair: tuple[RedisResultCache, RedisResultCache],
) -> None:
    one, two = pair
    first = Counted(one, "req", "slow")
    first.release.clear()
    holder = asyncio.create_task(verify_claimed(one, "req", first, ttl=0.3, poll=0.01, wait=30))
    await eventually(lambda: first.calls == 1, 10, "the first verifies")
    # Several TTLs later the claim still stands: its holder renews it.
    for _ in range(3):
        await asyncio.sleep(0.3)
        assert await two.claimed("req")
    first.release.set()
    await holder
    # Not renewed any more, the claim lapses by itself.
    for _ in range(100):
        if not await two.claimed("req"):
            break
        await asyncio.sleep(0.05)
    assert not await two.claimed("req")


async def test_redis_down_verifies_as_if_there_were_no_claim() -> None:
    down = RedisResultCache(f"redis://127.0.0.1:{free_port()}/0", KEY, socket_timeout=0.5)
    verified = Counted(down, "req", "verified without a claim")
    try:
        found, awaited = await verify_claimed(down, "req", verified, ttl=5, poll=0.01, wait=30)
    finally:
        await down.aclose()
    assert verified.calls == 1 and not awaited
    assert found.majority_answer == "verified without a claim"
    assert down.errors >= 1
