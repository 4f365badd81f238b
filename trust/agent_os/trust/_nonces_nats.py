"""Replay protection shared by every worker: nonces kept in a NATS JetStream key-value bucket.

``KeyValue.create`` writes a key only if it does not exist (the server checks
the subject's last sequence), so of two workers that see the same signed
bytes at once exactly one succeeds; the other gets "wrong last sequence",
which is a replay. The bucket's ``ttl`` removes a nonce once the message it
came with is stale anyway, so the bucket holds at most the message rate times
``ttl`` entries.

On a NATS deployment this is the default nonce store of ``agent-os worker``:
the broker the workers already share is the shared memory they need.
``nats`` is imported when a store is built. A failure of the server raises
``TrustError`` (code "nonce_store_unavailable", retryable): the caller denies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from ._errors import TrustError

log = logging.getLogger("agent_os.trust")

DEFAULT_BUCKET = "agentos_nonces"
#: Seconds a nonce is kept: above any registry's max_age + max_skew (30 s + 5 s by default).
DEFAULT_TTL = 120.0
DEFAULT_TIMEOUT = 2.0


def _unavailable(exc: BaseException) -> TrustError:
    return TrustError(
        f"nonce store unavailable: {exc!r}", code="nonce_store_unavailable", retryable=True
    )


class JetStreamNonceStore:
    """An ``AsyncNonceStore`` in a JetStream key-value bucket.

    ``url`` is a ``nats://`` server URL (the store opens its own connection).
    An existing bucket is used with its settings, so every worker shares the
    first one's ``ttl``; a bucket whose ``ttl`` is shorter than ``min_ttl``
    is refused, since it would forget nonces that can still be replayed.
    """

    def __init__(
        self,
        url: str,
        *,
        bucket: str = DEFAULT_BUCKET,
        ttl: float = DEFAULT_TTL,
        min_ttl: float = 35.0,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if ttl < min_ttl:
            raise ValueError(f"ttl {ttl} s is shorter than min_ttl {min_ttl} s")
        self.url, self.bucket, self.ttl, self.min_ttl = url, bucket, ttl, min_ttl
        self._timeout = timeout
        self._nc: Any = None
        self._kv: Any = None
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"JetStreamNonceStore(bucket={self.bucket!r}, ttl={self.ttl})"

    async def _bucket(self) -> Any:
        if self._kv is not None:
            return self._kv
        async with self._lock:
            if self._kv is None:
                self._kv = await self._open()
        return self._kv

    async def _open(self) -> Any:
        import nats
        import nats.js.errors

        async def quiet(exc: Exception) -> None:
            # Reconnect attempts fail every reconnect_time_wait; the checks report it.
            log.debug("nonce store %s: %r", self.url, exc)

        try:
            # Bounded at first so that a dead server fails the start; unbounded after.
            self._nc = await nats.connect(
                self.url,
                connect_timeout=self._timeout,
                max_reconnect_attempts=2,
                reconnect_time_wait=0.25,
                error_cb=quiet,
            )
            self._nc.options["max_reconnect_attempts"] = -1
            js = self._nc.jetstream(timeout=self._timeout)
            try:
                kv = await js.key_value(self.bucket)
            except nats.js.errors.BucketNotFoundError:
                kv = await js.create_key_value(bucket=self.bucket, ttl=self.ttl, history=1)
            status = await kv.status()
        except (nats.errors.Error, OSError, TimeoutError) as exc:
            await self._drop_connection()
            raise _unavailable(exc) from exc
        ttl = status.ttl
        if ttl is not None and 0 < ttl < self.min_ttl:
            await self._drop_connection()
            raise TrustError(
                f"nonce bucket {self.bucket!r} keeps entries {ttl} s, less than the "
                f"{self.min_ttl} s a nonce must be kept",
                code="nonce_store_unavailable",
            )
        return kv

    async def _drop_connection(self) -> None:
        nc, self._nc = self._nc, None
        if nc is not None:
            # Closing a half-open connection: nothing more to do if it fails.
            with contextlib.suppress(Exception):
                await nc.close()

    async def ping(self) -> None:
        """Open the bucket now; ``TrustError`` ("nonce_store_unavailable") if it cannot be."""
        kv = await self._bucket()
        if not self._nc.is_connected:
            raise _unavailable(ConnectionError(f"not connected to {self.url}"))
        try:
            await kv.status()
        except Exception as exc:
            raise _unavailable(exc) from exc

    async def check_and_add(
        self, sender_id: str, nonce: str, expires_at: float, now: float, owner: str | None = None
    ) -> bool:
        """True if fresh (now recorded) or recorded by the same ``owner``; else False."""
        import nats.js.errors

        kv = await self._bucket()
        # Agent ids may hold ':' and '@', which keys may not: the hex of the id cannot collide.
        key = f"{sender_id.encode().hex()}.{nonce}"
        value = b"1" if owner is None else owner.encode()
        try:
            await kv.create(key, value)
        except nats.js.errors.KeyWrongLastSequenceError:
            if owner is None:
                return False
            try:
                entry = await kv.get(key)
            except nats.js.errors.KeyNotFoundError:
                return False  # expired in between: still not this copy's to claim
            except Exception as exc:
                raise _unavailable(exc) from exc
            return bool(entry.value == value)
        except Exception as exc:
            raise _unavailable(exc) from exc
        return True

    async def close(self) -> None:
        """Close the store's own connection."""
        self._kv = None
        await self._drop_connection()
