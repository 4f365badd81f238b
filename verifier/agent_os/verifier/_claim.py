"""One verification of a request across the pool: a short claim in the shared cache.

Within one worker, deliveries of a request handled at the same moment join
one verification (see :mod:`._worker`). Across workers that share a cache
which can claim (:class:`Claims`: :class:`~._cache_redis.RedisResultCache`),
:func:`verify_claimed` keeps a request redelivered to (or duplicated onto)
another worker from asking the models a second time:

* The worker about to ask the models claims the request's key
  (:func:`~._cache.request_key`) for ``ttl`` seconds and renews the claim
  every third of that while it verifies. The verification keeps its result
  in the cache (whatever its outcome) before it returns; the claim then
  lapses by itself, since whoever comes later finds the result first. A
  verification that fails drops its claim at once.
* A worker that finds the claim held waits: every ``poll`` seconds it reads
  the cache, where the result lands signed and is served only if it
  verifies like any cached entry. When the claim is gone and no result came
  (the holder failed, or crashed and its claim lapsed) or ``wait`` seconds
  pass, it claims again and verifies itself.

Fail closed: a claim is a hint that saves model calls, never an answer. A
cache that cannot take, renew or read a claim (Redis down) makes the worker
verify as if there were none; nothing is answered without a signed result,
and no wait outlives the claim it waits on, nor ``wait``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol, runtime_checkable

from ._cache import Cache
from ._consensus import ConsensusResult
from ._errors import VerifierError

__all__ = ["ClaimingCache", "Claims", "verify_claimed"]

log = logging.getLogger("agent_os.verifier.claim")


@runtime_checkable
class Claims(Protocol):
    """A cache that can also hold short claims; each method raises ``VerifierError``
    (``cache_unavailable``) when its store fails."""

    async def claim(self, key: str, ttl: float) -> str | None:
        """A token if this call now holds the claim on ``key``; None if another holds it."""
        ...

    async def renew(self, key: str, token: str, ttl: float) -> bool:
        """Keep the claim ``token`` holds for ``ttl`` more seconds; False if it lapsed."""
        ...

    async def release(self, key: str, token: str) -> None:
        """Drop the claim if ``token`` still holds it."""
        ...

    async def claimed(self, key: str) -> bool:
        """Whether anyone holds the claim on ``key``."""
        ...


@runtime_checkable
class ClaimingCache(Cache, Claims, Protocol):
    """A shared cache that holds claims too."""


async def verify_claimed(
    cache: Cache,
    key: str,
    verify: Callable[[], Awaitable[ConsensusResult]],
    *,
    ttl: float,
    poll: float,
    wait: float,
    waiting: Callable[[], None] | None = None,
) -> tuple[ConsensusResult, bool]:
    """``verify()`` under the claim on ``key``, or the result its holder kept in ``cache``.

    The second item tells whether the result is another worker's (this one waited for it);
    ``waiting`` is called once if this call starts to wait for one.
    """
    if not isinstance(cache, ClaimingCache):
        return await verify(), False
    give_up = time.monotonic() + wait
    while time.monotonic() < give_up:
        try:
            token = await cache.claim(key, ttl)
        except VerifierError as exc:
            log.warning("claim on %s unavailable, verifying: %s", key[:12], exc)
            break
        if token is not None:
            # Outside the try: the verification's own errors are its caller's, not a claim's.
            return await _holding(cache, key, token, ttl, verify), False
        if waiting is not None:
            waiting()
            waiting = None
        try:
            found = await _kept(cache, key, poll, give_up)
        except VerifierError as exc:
            log.warning("claim on %s unreadable, verifying: %s", key[:12], exc)
            break
        if found is not None:
            return found, True
    return await verify(), False


async def _kept(
    cache: ClaimingCache, key: str, poll: float, give_up: float
) -> ConsensusResult | None:
    """The result kept under ``key`` once it lands; None when its claim went without one."""
    while True:
        found = await cache.get(key)
        if found is not None:
            return found
        if not await cache.claimed(key):
            # The holder keeps its result before it drops the claim: one more look.
            return await cache.get(key)
        if time.monotonic() >= give_up:
            return None
        await asyncio.sleep(poll)


async def _holding(
    cache: Claims,
    key: str,
    token: str,
    ttl: float,
    verify: Callable[[], Awaitable[ConsensusResult]],
) -> ConsensusResult:
    loop = asyncio.get_running_loop()
    renewing: list[asyncio.Task[None]] = []
    # Most verifications end before the first renewal is due: a timer, not a task, until then.
    timer = loop.call_later(
        ttl / 3, lambda: renewing.append(loop.create_task(_renew(cache, key, token, ttl)))
    )
    kept = False
    try:
        result = await verify()
        kept = True
        return result
    finally:
        timer.cancel()
        for task in renewing:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if not kept:
            # Nothing kept: waiters must not wait out the claim. A kept result needs no
            # release (whoever comes later finds the result first), which saves a round trip.
            try:
                await cache.release(key, token)
            except VerifierError as exc:
                # It lapses by itself within ttl; waiters then look once more and verify.
                log.warning("claim on %s not released: %s", key[:12], exc)


async def _renew(cache: Claims, key: str, token: str, ttl: float) -> None:
    while True:
        await asyncio.sleep(ttl / 3)
        try:
            held = await cache.renew(key, token, ttl)
        except VerifierError as exc:
            log.warning("claim on %s not renewed: %s", key[:12], exc)
            return
        if not held:
            log.warning("claim on %s lapsed while verifying", key[:12])
            return
