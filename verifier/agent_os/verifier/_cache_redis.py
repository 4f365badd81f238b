"""Results shared through Redis: each entry signed, kept for its TTL, their number bounded.

Layout (``prefix`` defaults to ``agentos:cmvk:cache:``):

* ``{prefix}e:{key}`` — one entry, ``SET ... PX ttl``: Redis drops it when it expires.
* ``{prefix}index`` — the keys in a sorted set scored by when they were put.
  Each put is one script: set the entries (one per key, the same signed
  value), add their keys to the index and, while the index holds more than
  ``size`` keys, drop the oldest with their entries. So at most ``size``
  entries live, whatever Redis's own ``maxmemory`` policy is. A get under
  several keys is one ``MGET``.

The script names entries from the prefix, so all of a cache's keys must live on
one server (under Redis Cluster, put a hash tag in the prefix: ``agentos:{cmvk}:``).

An entry is ``AOSC1 | signature (64 bytes) | payload``, the payload JSON
``{"k": [keys], "by": signer id, "exp": Unix seconds, "r": result}``, signed
with Ed25519 over a domain prefix and the payload. A read serves an entry only
when it parses, its signer is this cache's key or a trusted one, the
signature holds, it names the key it was read under (an entry copied to
another key is refused) and its signed expiry is ahead (a TTL lifted with
``PERSIST`` does not make it live longer). Anything else is a miss, counted
in ``rejected``, and the models are asked: whoever can write to Redis cannot
make a verifier serve a result it did not sign. A Redis error is a miss too
(counted in ``errors``) and a failed put only logs: the cache can make
verification cheaper, never wrong.

Claims (:class:`~._claim.Claims`): ``{prefix}claim:{key}`` holds a random
token while one verifier of the pool asks the models for ``key`` (``SET NX
PX``); only the token's holder renews (``PEXPIRE``) or deletes it, by script.
A claim is a hint that saves model calls, never a result: a Redis error is a
``cache_unavailable`` :class:`VerifierError` and the caller verifies itself.
"""

from __future__ import annotations

import json
import logging
import math
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from agent_os.trust import AgentIdentity, PublicIdentity
from agent_os.trust._redis_checks import client_for

from ._cache import cache_key
from ._consensus import ConsensusResult
from ._errors import ConfigurationError, VerifierError

if TYPE_CHECKING:
    import redis.asyncio

log = logging.getLogger("agent_os.verifier.cache")

DEFAULT_PREFIX = "agentos:cmvk:cache:"
MAGIC = b"AOSC1"
#: What a cache signature covers before the payload: no other signed bytes start so.
DOMAIN = b"agentos.cmvk.cache.v1\n"
#: Largest entry read; a bigger value is refused unread.
MAX_ENTRY = 1024 * 1024
_SIGNATURE = 64

#: KEYS: index, entries. ARGV: value, ttl ms, now ms, size, entry prefix, keys.
_PUT = """
for i = 2, #KEYS do
  redis.call('SET', KEYS[i], ARGV[1], 'PX', ARGV[2])
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[i + 4])
end
local over = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[4])
if over > 0 then
  local gone = redis.call('ZPOPMIN', KEYS[1], over)
  for i = 1, #gone, 2 do
    redis.call('DEL', ARGV[5] .. gone[i])
  end
end
return math.max(over, 0)
"""


#: KEYS: claim. ARGV: token, ttl ms. Renew the claim if this token holds it.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
#: KEYS: claim. ARGV: token. Drop the claim if this token holds it.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class _Refused(Exception):
    """An entry that must not be served; the message says why."""


class RedisResultCache:
    """A :class:`~._cache.Cache` in Redis, shared by every verifier that names it.

    ``url_or_client`` is a ``redis://`` URL or a ``redis.asyncio.Redis``
    client (then the caller owns it). Entries are signed with ``identity``
    and served when signed by it or by one of ``trusted`` (the other keys of
    a pool). ``clock`` (Unix seconds) is injectable for tests.
    """

    def __init__(
        self,
        url_or_client: str | redis.asyncio.Redis,
        identity: AgentIdentity,
        *,
        trusted: Sequence[PublicIdentity] = (),
        ttl: float = 300.0,
        size: int = 10_000,
        prefix: str = DEFAULT_PREFIX,
        socket_timeout: float = 2.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if ttl <= 0 or size <= 0:
            raise ValueError("ttl and size must be positive")
        try:
            import redis as redis_lib
            import redis.asyncio as aredis
        except ImportError:
            raise ConfigurationError(
                "a Redis result cache needs redis: pip install 'agent-os[redis]'"
            ) from None
        self.ttl = ttl
        self.size = size
        self.prefix = prefix
        self._client, self._owned = client_for(url_or_client, aredis.Redis, socket_timeout)
        self._errors: tuple[type[Exception], ...] = (redis_lib.RedisError, OSError)
        self._put = self._client.register_script(_PUT)
        self._renew = self._client.register_script(_RENEW)
        self._release = self._client.register_script(_RELEASE)
        self._identity = identity
        self._trusted = {key.agent_id: key for key in (identity.public(), *trusted)}
        self._clock = clock
        self.rejected = 0
        self.errors = 0

    key = staticmethod(cache_key)

    def __repr__(self) -> str:
        return f"RedisResultCache(prefix={self.prefix!r}, ttl={self.ttl:g}, size={self.size})"

    def _entry(self, key: str) -> str:
        return f"{self.prefix}e:{key}"

    @property
    def _index(self) -> str:
        return f"{self.prefix}index"

    async def get(self, *keys: str) -> ConsensusResult | None:
        """The verified result under the first of ``keys`` that has one, marked ``cached``.

        ``None`` when each is absent or unverifiable, or when Redis fails.
        """
        if not keys:
            return None
        try:
            found = await self._client.mget([self._entry(k) for k in keys])
        except self._errors as exc:
            self.errors += 1
            log.warning("result cache unavailable, asking the models: %s", exc)
            return None
        for key, raw in zip(keys, found, strict=True):
            if raw is None:
                continue
            try:
                return self._open(raw, key)
            except _Refused as exc:
                self.rejected += 1
                log.warning("result cache entry %s refused (%s)", key[:12], exc)
        return None

    async def put(
        self, keys: str | Sequence[str], result: ConsensusResult, ttl: float | None = None
    ) -> None:
        """Sign ``result`` once and keep it under ``keys`` for ``ttl`` seconds."""
        names = [keys] if isinstance(keys, str) else list(keys)
        life = self.ttl if ttl is None else ttl
        if not names or not life > 0:
            return
        now = self._clock()
        value = self._seal(names, replace(result, cached=False), now + life)
        args = [value, _ms(life), int(now * 1000), self.size, self._entry("")]
        entries = [self._entry(k) for k in names]
        try:
            await self._put(keys=[self._index, *entries], args=[*args, *names])
        except self._errors as exc:
            self.errors += 1
            log.warning("result cache unavailable, result not kept: %s", exc)

    def _seal(self, keys: list[str], result: ConsensusResult, expires: float) -> bytes:
        payload = json.dumps(
            {"k": keys, "by": self._identity.agent_id, "exp": expires, "r": result.to_dict()},
            separators=(",", ":"),
            ensure_ascii=False,
            sort_keys=True,
        ).encode()
        return MAGIC + self._identity.sign(DOMAIN + payload) + payload

    def _open(self, raw: bytes, key: str) -> ConsensusResult:
        if len(raw) > MAX_ENTRY or not raw.startswith(MAGIC):
            raise _Refused("not a cache entry")
        head = len(MAGIC)
        signature, payload = raw[head : head + _SIGNATURE], raw[head + _SIGNATURE :]
        # The signature first: nothing unsigned is parsed (our own key is tried first).
        signed = DOMAIN + payload
        if not any(public.verify(signed, signature) for public in self._trusted.values()):
            raise _Refused("not signed by a trusted key")
        try:
            data: Any = json.loads(payload)
        except (ValueError, RecursionError):
            raise _Refused("unreadable") from None
        if not isinstance(data, dict):
            raise _Refused("unreadable")
        kept = data.get("k")
        if not isinstance(kept, list) or key not in kept:
            raise _Refused("kept under another key")
        expires = data.get("exp")
        if not isinstance(expires, int | float) or not expires > self._clock():
            raise _Refused("expired")
        try:
            result = ConsensusResult.from_dict(data["r"])
        except (KeyError, TypeError, ValueError, AttributeError):
            raise _Refused("not a result") from None
        return replace(result, cached=True)

    def _claim(self, key: str) -> str:
        return f"{self.prefix}claim:{key}"

    async def claim(self, key: str, ttl: float) -> str | None:
        """A token if this call now holds the claim on ``key`` for ``ttl`` seconds, else None."""
        token = secrets.token_hex(16)
        try:
            taken = await self._client.set(self._claim(key), token, nx=True, px=_ms(ttl))
        except self._errors as exc:
            raise self._unavailable(exc) from exc
        return token if taken else None

    async def renew(self, key: str, token: str, ttl: float) -> bool:
        """Keep the claim ``token`` holds for ``ttl`` more seconds; False if it lapsed."""
        try:
            return bool(await self._renew(keys=[self._claim(key)], args=[token, _ms(ttl)]))
        except self._errors as exc:
            raise self._unavailable(exc) from exc

    async def release(self, key: str, token: str) -> None:
        """Drop the claim if ``token`` still holds it (a lapsed one may be another's now)."""
        try:
            await self._release(keys=[self._claim(key)], args=[token])
        except self._errors as exc:
            raise self._unavailable(exc) from exc

    async def claimed(self, key: str) -> bool:
        """Whether anyone holds the claim on ``key``."""
        try:
            return bool(await self._client.exists(self._claim(key)))
        except self._errors as exc:
            raise self._unavailable(exc) from exc

    def _unavailable(self, exc: Exception) -> VerifierError:
        self.errors += 1
        return VerifierError(f"result cache unavailable: {exc}", code="cache_unavailable")

    async def ping(self) -> None:
        """One round trip; ``VerifierError`` ("cache_unavailable") if Redis does not answer."""
        try:
            await self._client.ping()
        except self._errors as exc:
            raise VerifierError(
                f"result cache unavailable: {exc}", code="cache_unavailable"
            ) from exc

    async def aclose(self) -> None:
        """Close the connection pool if this cache made it."""
        if self._owned:
            await self._client.aclose()


def _ms(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))
