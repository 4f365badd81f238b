"""Pieces the CMVK pool tests share."""

from __future__ import annotations

from typing import Any

from agent_os.bus import Delivery


class Unsettled:
    """A delivery the broker has taken back (or is given back): settling this copy does nothing."""

    def __init__(self, delivery: Delivery) -> None:
        self._delivery = delivery

    def __getattr__(self, name: str) -> Any:
        return getattr(self._delivery, name)

    async def ack(self) -> None:
        pass

    async def nack(self, reason: str = "") -> None:
        pass

    async def reject(self, code: str, message: str = "") -> None:
        pass
