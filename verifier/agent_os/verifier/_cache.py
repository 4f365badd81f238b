"""An in-process result cache with a TTL and a size bound."""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import replace

from ._consensus import ConsensusResult


class ResultCache:
    """Least-recently-used results, each kept ``ttl`` seconds, at most ``size`` of them.

    The key is a digest of the prompt, the models, the threshold and the
    quorum; only decided results (agreed or flagged) are kept, so a model
    outage is asked again next time. ``clock`` is injectable for tests.
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

    @staticmethod
    def key(prompt: str, models: Sequence[str], threshold: float, quorum: int) -> str:
        """The digest a result is kept under."""
        raw = json.dumps([prompt, list(models), threshold, quorum], ensure_ascii=False)
        return hashlib.blake2b(raw.encode(), digest_size=20).hexdigest()

    def get(self, key: str) -> ConsensusResult | None:
        """The kept result, marked ``cached``, or ``None`` when absent or expired."""
        item = self._items.get(key)
        if item is None:
            return None
        expires, result = item
        if self._clock() >= expires:
            del self._items[key]
            return None
        self._items.move_to_end(key)
        return replace(result, cached=True)

    def put(self, key: str, result: ConsensusResult) -> None:
        """Keep ``result``; the least recently used goes when full."""
        self._items[key] = (self._clock() + self.ttl, result)
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)
