"""Request limits: argument shape, patterns per policy, per-agent token buckets."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from agent_os.bus import connect
from agent_os.kernel_worker import (
    LimiterUnavailable,
    Limits,
    Pattern,
    Policy,
    PolicyLoadError,
    RateLimiter,
    RedisTokenBucket,
    TokenBucket,
    Worker,
    check_args,
)
from agent_os.trust import AgentIdentity, TrustRegistry
from tests.eventually import eventually
from tests.servers import Servers, free_port


def nested(depth: int) -> Any:
    """``args`` whose containers nest ``depth`` levels (``args`` itself is level 1)."""
    value: Any = "x"
    for _ in range(depth - 1):
        value = [value]
    return {"v": value}


def test_depth_at_the_limit_passes_one_more_is_denied() -> None:
    limits = Limits(max_arg_depth=32)
    assert check_args(nested(32), limits) is None
    code, reason = check_args(nested(33), limits) or ("", "")
    assert code == "args_too_deep" and "32" in reason


def test_depth_far_past_the_recursion_limit_is_measured_not_crashed() -> None:
    assert (check_args(nested(100_000), Limits()) or ("",))[0] == "args_too_deep"


def test_value_count_limit_counts_containers_and_scalars() -> None:
    limits = Limits(max_arg_values=10)
    assert check_args({"a": list(range(8))}, limits) is None  # 1 + 1 + 8
    assert (check_args({"a": list(range(9))}, limits) or ("",))[0] == "too_many_args"
    assert (check_args({str(i): i for i in range(10)}, limits) or ("",))[0] == "too_many_args"


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Limits(max_arg_depth=0)


async def test_worker_refuses_a_policy_with_too_many_patterns() -> None:
    patterns = [Pattern(rf"\bword{i}\b", f"reason {i}") for i in range(5)]
    policy = Policy("big", blocked_patterns=patterns)
    bus = await connect("memory://")
    try:
        kwargs: dict[str, Any] = {
            "identity": AgentIdentity.create("k"),
            "registry": TrustRegistry(),
            "policies": policy,
        }
        with pytest.raises(PolicyLoadError) as caught:
            Worker(bus, limits=Limits(max_patterns=4), **kwargs)
        assert caught.value.policy == "big" and caught.value.field == "blocked_patterns"
        Worker(bus, limits=Limits(max_patterns=5), **kwargs)  # at the limit: fine
    finally:
        await bus.close()


def test_token_bucket_allows_a_burst_then_refills_at_the_rate() -> None:
    bucket = TokenBucket(rate=2.0, burst=3)
    assert isinstance(bucket, RateLimiter)
    assert [bucket.take("a", 100.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.take("b", 100.0)  # budgets are per agent
    assert not bucket.take("a", 100.4)  # 0.8 token
    assert bucket.take("a", 100.5)  # 1.0 token
    assert not bucket.take("a", 100.5)
    assert [bucket.take("a", 1000.0) for _ in range(4)] == [True, True, True, False]  # capped


def test_token_bucket_ignores_a_clock_stepping_back() -> None:
    bucket = TokenBucket(rate=1.0, burst=1)
    assert bucket.take("a", 50.0)
    assert not bucket.take("a", 10.0)
    assert not bucket.take("a", 50.5)
    assert bucket.take("a", 51.0)


def test_token_bucket_memory_is_bounded() -> None:
    bucket = TokenBucket(rate=1.0, burst=1, max_agents=100)
    for i in range(1000):
        bucket.take(f"agent-{i}", 0.0)
    assert len(bucket._buckets) == 100


def test_token_bucket_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate=0, burst=1)
    with pytest.raises(ValueError):
        TokenBucket(rate=1, burst=0.5)


async def test_redis_bucket_is_one_budget_across_workers(servers: Servers) -> None:
    url = servers.get("redis").url
    prefix = f"test:rate:{uuid.uuid4().hex}:"
    one = RedisTokenBucket(url, rate=0.01, burst=5, prefix=prefix)
    two = RedisTokenBucket(url, rate=0.01, burst=5, prefix=prefix)
    try:
        results = await asyncio.gather(*(b.allow("agent-1", 0.0) for b in (one, two) * 4))
        assert results.count(True) == 5
        assert await one.allow("agent-2", 0.0)
    finally:
        await one.close()
        await two.close()


async def test_redis_bucket_refills(servers: Servers) -> None:
    url = servers.get("redis").url
    bucket = RedisTokenBucket(url, rate=50.0, burst=1, prefix=f"test:rate:{uuid.uuid4().hex}:")
    try:
        assert await bucket.allow("a", 0.0)
        assert not await bucket.allow("a", 0.0)
        await eventually(lambda: bucket.allow("a", 0.0), 2.0, "the bucket refilled")
    finally:
        await bucket.close()


async def test_redis_bucket_unreachable_is_an_error_not_an_allow() -> None:
    bucket = RedisTokenBucket(f"redis://127.0.0.1:{free_port()}/0", 1.0, 1, socket_timeout=0.5)
    try:
        with pytest.raises(LimiterUnavailable) as caught:
            await bucket.allow("a", 0.0)
        assert (caught.value.code, caught.value.retryable) == ("rate_limiter_unavailable", True)
    finally:
        await bucket.close()
