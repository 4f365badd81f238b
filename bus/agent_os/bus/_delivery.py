"""The delivery every backend hands to fan-out subscribers."""

from __future__ import annotations

from ._envelope import Envelope


class FanoutDelivery:
    """A fan-out delivery: at most once, so ack / nack / reject settle nothing."""

    __slots__ = ("_envelope",)

    def __init__(self, envelope: Envelope) -> None:
        self._envelope = envelope

    @property
    def envelope(self) -> Envelope:
        return self._envelope

    @property
    def attempt(self) -> int:
        return 1

    @property
    def origin(self) -> str | None:
        return None

    async def ack(self) -> None:
        return None

    async def nack(self, error_code: str = "nack", *, delay: float = 0.0) -> None:
        return None

    async def reject(self, error_code: str, detail: str = "") -> None:
        return None
