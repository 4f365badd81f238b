"""Limits on what a request may cost a worker; each one exceeded is a deny with a stable code.

=========================  ==============================  ====================================
limit                      where                           when exceeded
=========================  ==============================  ====================================
request bytes              ``Worker(max_request_bytes=)``  deny "payload_too_large" (first check)
JSON nesting of ``args``   ``Limits.max_arg_depth``        deny "args_too_deep"
values in ``args``         ``Limits.max_arg_values``       deny "too_many_args"
patterns per policy        ``Limits.max_patterns``         ``PolicyLoadError`` at worker start
requests per agent         a ``RateLimiter``               deny "rate_limited"
=========================  ==============================  ====================================

The argument and rate checks run **after** the signature, freshness and
nonce checks: an unauthenticated flood (or a replay of captured bytes) is
refused before it can spend a real agent's rate budget, and the cost of
walking ``args`` is paid only for authenticated requests. A rate limiter
that cannot answer (Redis down) raises :class:`LimiterUnavailable`; the
worker denies with its code rather than let the request through unmetered.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from agent_os.policies._errors import PolicyError, PolicyLoadError
from agent_os.policies._policy import Policy
from agent_os.trust import RedisChecks

if TYPE_CHECKING:
    import redis.asyncio

DEFAULT_MAX_ARG_DEPTH = 32
DEFAULT_MAX_ARG_VALUES = 10_000
DEFAULT_MAX_PATTERNS = 1_000


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-request limits a worker enforces (besides ``max_request_bytes``)."""

    #: Deepest nesting of objects/arrays in ``args``; ``args`` itself is depth 1.
    max_arg_depth: int = DEFAULT_MAX_ARG_DEPTH
    #: Most values (containers and scalars, keys not counted) in ``args``.
    max_arg_values: int = DEFAULT_MAX_ARG_VALUES
    #: Most ``blocked_patterns`` a policy may have; checked once, when the worker is built.
    max_patterns: int = DEFAULT_MAX_PATTERNS

    def __post_init__(self) -> None:
        if min(self.max_arg_depth, self.max_arg_values, self.max_patterns) < 1:
            raise ValueError(f"limits must be positive: {self}")


class LimiterUnavailable(PolicyError):
    """A shared rate limiter (Redis) did not answer; the request is denied, not let through."""

    code = "rate_limiter_unavailable"
    retryable = True


def _limiter_unavailable(exc: Exception) -> LimiterUnavailable:
    return LimiterUnavailable(f"rate limiter unavailable: {exc!r}")


def check_args(args: Any, limits: Limits) -> tuple[str, str] | None:
    """``(code, reason)`` if ``args`` exceeds the depth or size limit, else None.

    Iterative, so an argument nested deeper than Python's recursion limit is
    measured, not crashed on; it stops at the first limit crossed.
    """
    max_depth, max_values = limits.max_arg_depth, limits.max_arg_values
    stack: list[tuple[Any, int]] = [(args, 1)]
    count = 0
    while stack:
        value, depth = stack.pop()
        count += 1
        if count > max_values:
            return "too_many_args", f"args hold more than {max_values} values"
        if isinstance(value, Mapping):
            children: Any = value.values()
        elif isinstance(value, list | tuple):
            children = value
        else:
            continue
        if depth > max_depth:
            return "args_too_deep", f"args nest deeper than {max_depth} levels"
        stack.extend((child, depth + 1) for child in children)
    return None


def check_policy_limits(policy: Policy, limits: Limits) -> None:
    """Raise ``PolicyLoadError`` if ``policy`` has more patterns than ``limits`` allows.

    Every request is matched against every pattern, so the pattern count is a
    per-request cost the policy author controls; a worker refuses to start
    with a policy past the limit rather than slow every verdict down.
    """
    count = len(policy.blocked_patterns)
    if count > limits.max_patterns:
        raise PolicyLoadError(
            f"{count} blocked patterns exceed the limit of {limits.max_patterns}",
            policy=policy.name,
            field="blocked_patterns",
        )


@runtime_checkable
class RateLimiter(Protocol):
    """Decides whether an authenticated agent may make one more request now."""

    async def allow(self, agent_id: str, now: float) -> bool:
        """Take one token for ``agent_id``; False when its budget is spent."""
        ...


def _check_rate(rate: float, burst: float) -> None:
    if not (rate > 0 and math.isfinite(rate)):
        raise ValueError("rate must be a positive number of requests per second")
    if not (burst >= 1 and math.isfinite(burst)):
        raise ValueError("burst must be at least 1")


class TokenBucket:
    """A per-agent token bucket in this process: ``rate`` tokens/s, at most ``burst``.

    Each worker replica has its own buckets, so N replicas let an agent
    through at up to N times the rate; use :class:`RedisTokenBucket` for one
    budget across replicas. At most ``max_agents`` buckets are kept (least
    recently used dropped); only authenticated agents get a bucket, so the
    bound is the number of registered agents in practice.
    """

    def __init__(self, rate: float, burst: float, *, max_agents: int = 100_000) -> None:
        _check_rate(rate, burst)
        self.rate, self.burst, self.max_agents = float(rate), float(burst), max_agents
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, agent_id: str, now: float) -> bool:
        """The synchronous check: take one token if there is one."""
        buckets = self._buckets
        state = buckets.get(agent_id)
        if state is None:
            tokens, last = self.burst, now
            if len(buckets) >= self.max_agents:
                buckets.popitem(last=False)
        else:
            tokens, last = state
            # A clock that steps back must neither mint tokens nor take them away:
            # time is measured from the latest instant seen.
            if now > last:
                tokens = min(self.burst, tokens + (now - last) * self.rate)
                last = now
            buckets.move_to_end(agent_id)
        allowed = tokens >= 1.0
        buckets[agent_id] = (tokens - 1.0 if allowed else tokens, last)
        return allowed

    async def allow(self, agent_id: str, now: float) -> bool:
        """``take`` as a ``RateLimiter``."""
        return self.take(agent_id, now)


# Token bucket in one atomic step on the server. Redis's clock, not the
# workers', so replicas with skewed clocks share one consistent budget.
_BUCKET_LUA = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
if now > ts then
  tokens = math.min(burst, tokens + (now - ts) * rate)
  ts = now
end
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(ts))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return allowed
"""


class RedisTokenBucket:
    """A per-agent token bucket in Redis shared by every worker (one Lua script per check).

    ``url_or_client`` is a ``redis://`` URL or a ``redis.asyncio.Redis``
    client (then the caller owns it). A bucket's key expires once it would
    be full again, so idle agents cost no memory. Redis errors raise
    :class:`LimiterUnavailable`. Checks that arrive in the same loop
    iteration go to Redis as one pipeline (up to ``max_batch``): one script
    call per request would cost the worker about 40% of its throughput.
    """

    def __init__(
        self,
        url_or_client: str | redis.asyncio.Redis,
        rate: float,
        burst: float,
        *,
        prefix: str = "agentos:rate:",
        socket_timeout: float = 2.0,
        max_batch: int = 256,
    ) -> None:
        _check_rate(rate, burst)
        self.rate, self.burst, self.prefix = float(rate), float(burst), prefix
        self._checks = RedisChecks(
            url_or_client,
            self._take,
            _limiter_unavailable,
            socket_timeout=socket_timeout,
            max_batch=max_batch,
        )
        self._script: Any = self._checks.client.register_script(_BUCKET_LUA)
        self._args = [repr(self.rate), repr(self.burst)]

    @property
    def max_batch(self) -> int:
        return self._checks.max_batch

    async def allow(self, agent_id: str, now: float) -> bool:
        """Take one token from ``agent_id``'s bucket (``now`` is unused: Redis keeps time)."""
        return await self._checks.check(self.prefix + agent_id)

    async def _take(self, pipe: Any, key: str, _: object) -> None:
        await self._script(keys=[key], args=self._args, client=pipe)

    async def close(self) -> None:
        """Finish checks in flight; close the connection pool if this limiter created it."""
        await self._checks.close()
