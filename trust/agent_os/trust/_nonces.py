"""Replay protection: remembering which (sender, nonce) pairs were already seen."""

from __future__ import annotations

import heapq
import inspect
import threading
from typing import Protocol, runtime_checkable


@runtime_checkable
class NonceStore(Protocol):
    """Where a verifier records nonces it has accepted.

    ``check_and_add`` must be atomic: of two concurrent calls with the same
    ``(sender_id, nonce)``, at most one may answer True. A nonce needs to be
    kept only until ``expires_at``; after that the message is stale anyway.

    ``owner`` (optional) names the broker's copy of the message that carried
    the nonce (``Delivery.origin``). A second check by the same owner answers
    True: that is a redelivery of the same copy, which a broker may hand to
    another worker as a first delivery after a crash; the same bytes
    published again have another owner and are a replay.
    """

    def check_and_add(
        self, sender_id: str, nonce: str, expires_at: float, now: float, owner: str | None = None
    ) -> bool:
        """True if the nonce is fresh (and is now recorded), False if already seen."""
        ...


class MemoryNonceStore:
    """A process-local ``NonceStore`` with bounded memory.

    Expired nonces are dropped as time passes. When ``max_entries`` unexpired
    nonces are held, new nonces are **refused** (``check_and_add`` answers
    False, which a registry reports as a replay): the store fails closed
    rather than forget a nonce that could still be replayed. ``refused``
    counts such refusals so an operator can tell a flood from real replays.
    Only one process sees this store: replicas that share traffic need a
    shared store (for example Redis ``SET NX PX``).
    """

    def __init__(self, max_entries: int = 1_000_000) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self.refused = 0
        self._seen: dict[tuple[str, str], str | None] = {}
        self._expiry: list[tuple[float, str, str]] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._seen)

    def check_and_add(
        self, sender_id: str, nonce: str, expires_at: float, now: float, owner: str | None = None
    ) -> bool:
        """True if fresh (recorded until ``expires_at``) or seen with the same ``owner``."""
        key = (sender_id, nonce)
        with self._lock:
            self._prune(now)
            if key in self._seen:
                return owner is not None and self._seen[key] == owner
            if len(self._seen) >= self.max_entries:
                self.refused += 1
                return False
            self._seen[key] = owner
            heapq.heappush(self._expiry, (expires_at, sender_id, nonce))
            return True

    def _prune(self, now: float) -> None:
        expiry, seen = self._expiry, self._seen
        while expiry and expiry[0][0] < now:
            _, sender_id, nonce = heapq.heappop(expiry)
            seen.pop((sender_id, nonce), None)


@runtime_checkable
class AsyncNonceStore(Protocol):
    """A ``NonceStore`` whose check is a coroutine (a network store such as Redis).

    The same contract as :class:`NonceStore`: atomic, True only for the first
    sight of ``(sender_id, nonce)``. A store that cannot answer raises
    ``TrustError`` (code "nonce_store_unavailable", retryable) rather than
    guess: the caller denies.
    """

    async def check_and_add(
        self, sender_id: str, nonce: str, expires_at: float, now: float, owner: str | None = None
    ) -> bool:
        """True if the nonce is fresh (and is now recorded), False if already seen."""
        ...


class _SyncNonceStoreAdapter:
    """Presents a synchronous ``NonceStore`` as an ``AsyncNonceStore``.

    The call runs inline on the event loop: right for an in-memory store
    (about a microsecond), wrong for one that does network I/O.
    """

    __slots__ = ("store",)

    def __init__(self, store: NonceStore) -> None:
        self.store = store

    async def check_and_add(
        self, sender_id: str, nonce: str, expires_at: float, now: float, owner: str | None = None
    ) -> bool:
        return self.store.check_and_add(sender_id, nonce, expires_at, now, owner)


def as_async_nonce_store(store: NonceStore | AsyncNonceStore) -> AsyncNonceStore:
    """``store`` itself if its ``check_and_add`` is a coroutine function, else a wrapper."""
    if inspect.iscoroutinefunction(type(store).check_and_add):
        return store  # type: ignore[return-value]
    return _SyncNonceStoreAdapter(store)  # type: ignore[arg-type]
