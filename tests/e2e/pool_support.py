"""Pieces the CMVK pool tests share."""

from __future__ import annotations

from typing import Any

from agent_os.bus import Delivery
from agent_os.trust import AgentIdentity, TrustLevel, TrustRegistry

#: The question the pool tests ask, and what three loopback models answer: two agree.
PROMPT = "In which year was the Eiffel Tower completed?"
SCRIPTS = {
    "gpt-local": ["It was completed in 1889."],
    "claude-local": ["1889"],
    "gemini-local": ["The Eiffel Tower was completed in 1925."],
}


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


def pool_keys(
    name: str, capabilities: tuple[str, ...] = ()
) -> tuple[AgentIdentity, AgentIdentity, TrustRegistry]:
    """A client, a verifier key, and a registry that knows the client."""
    agent = AgentIdentity.create(f"{name}-client", "client", list(capabilities))
    key = AgentIdentity.create(f"{name}-verifier", "verifier", [])
    registry = TrustRegistry()
    registry.register(agent.public(), TrustLevel.STANDARD)
    return agent, key, registry
