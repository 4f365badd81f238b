"""Result caches: one interface, kept in process or in Redis.

A :class:`Cache` keeps :class:`ConsensusResult` objects under a key, each
for a time to live, and holds at most a bounded number. Two keep it:

* :class:`ResultCache` — this process's memory, least recently used first out.
* :class:`~._cache_redis.RedisResultCache` — shared by every process that
  names the same Redis; each entry is signed, and an entry that does not
  verify is a miss (see that module).

:func:`open_cache` picks one by URL (``memory://`` or ``redis://``), as the
``agent-os verifier --cache`` option does. Keys are digests
(:func:`cache_key`, :func:`request_key`): a cache never sees a prompt's text
as a key, and a value is only served under a key it was kept under. One
result can be kept under several keys at once (a question and the request
that asked it) and looked up under several (the first found wins): one
round trip each way, one signature, in Redis.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ._consensus import ConsensusResult
from ._errors import ConfigurationError

if TYPE_CHECKING:
    from agent_os.trust import AgentIdentity, PublicIdentity


def _digest(*parts: object) -> str:
    raw = json.dumps(parts, ensure_ascii=False)
    return hashlib.blake2b(raw.encode(), digest_size=20).hexdigest()


def cache_key(prompt: str, models: Sequence[str], threshold: float, quorum: int) -> str:
    """The key of a verification: its prompt, models, threshold and quorum."""
    return _digest(prompt, list(models), threshold, quorum)


def request_key(sender_id: str, request_id: str, key: str) -> str:
    """The key of one signed request's answer: a redelivery finds it, another request cannot."""
    return _digest("request", sender_id, request_id, key)


@runtime_checkable
class Cache(Protocol):
    """Where results are kept; a failing cache misses, it never raises to the verifier."""

    ttl: float

    def key(self, prompt: str, models: Sequence[str], threshold: float, quorum: int) -> str:
        """The key a verification's result is kept under (:func:`cache_key`)."""
        ...

    async def get(self, *keys: str) -> ConsensusResult | None:
        """The result kept under the first of ``keys`` that has one, marked ``cached``.

        ``None`` when each is absent, expired or unverifiable.
        """
        ...

    async def put(
        self, keys: str | Sequence[str], result: ConsensusResult, ttl: float | None = None
    ) -> None:
        """Keep ``result`` under ``keys`` for ``ttl`` seconds (the cache's own when ``None``)."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class ResultCache:
    """Least-recently-used results, each kept ``ttl`` seconds, at most ``size`` of them.

    ``clock`` is injectable for tests. Only this process sees it: a pool of
    workers shares results through :class:`~._cache_redis.RedisResultCache`.
    """

    def __init__(
        self, *, ttl: float = 300.0, size: int = 1024, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if ttl <= 0 or size <= 0:
            raise ValueError("ttl and size must be positive")
        self.ttl = ttl
        self.size = size
        self._clock = clock
        self._items: OrderedDict[str, tuple[float, ConsensusResult]] = OrderedDict()

    key = staticmethod(cache_key)

    async def get(self, *keys: str) -> ConsensusResult | None:
        """The result under the first of ``keys`` kept and unexpired, marked ``cached``."""
        now = self._clock()
        for key in keys:
            item = self._items.get(key)
            if item is None:
                continue
            expires, result = item
            if now >= expires:
                del self._items[key]
                continue
            self._items.move_to_end(key)
            return replace(result, cached=True)
        return None

    async def put(
        self, keys: str | Sequence[str], result: ConsensusResult, ttl: float | None = None
    ) -> None:
        """Keep ``result`` under ``keys``; the least recently used go when full."""
        expires = self._clock() + (self.ttl if ttl is None else ttl)
        for key in (keys,) if isinstance(keys, str) else keys:
            self._items[key] = (expires, result)
            self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    async def aclose(self) -> None:
        return None

    def __len__(self) -> int:
        return len(self._items)


def open_cache(
    url: str,
    *,
    identity: AgentIdentity | None = None,
    trusted: Sequence[PublicIdentity] = (),
    ttl: float = 300.0,
    size: int = 10_000,
) -> Cache:
    """The cache a URL names: ``memory://`` in process, ``redis://`` / ``rediss://`` shared.

    A Redis cache signs what it keeps with ``identity`` and serves only
    entries signed by it or by one of ``trusted``; without ``identity`` it
    is a :class:`ConfigurationError`.
    """
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme == "memory":
        return ResultCache(ttl=ttl, size=size)
    if scheme in ("redis", "rediss", "unix"):
        if identity is None:
            raise ConfigurationError("a Redis result cache signs its entries: it needs a key")
        from ._cache_redis import RedisResultCache

        return RedisResultCache(url, identity, trusted=trusted, ttl=ttl, size=size)
    raise ConfigurationError(
        f"unknown result cache scheme {scheme or '(none)'!r}: use memory:// or redis://"
    )
