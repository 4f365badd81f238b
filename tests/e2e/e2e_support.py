"""A governed setup: a kernel worker and an agent's client on one bus, on any backend."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from fleet_support import Fleet, fleet

from agent_os.adapters import KernelClient
from agent_os.bus import Bus
from agent_os.kernel_worker import DenyAfterTimeout, MemoryAuditLog, Worker, load_policy
from agent_os.trust import AgentIdentity, FileTrustStore, TrustRegistry

#: Strict, web access to example.com, and ``deploy`` held for a review nobody answers.
POLICY = {
    "name": "t",
    "extends": "strict",
    "allowed_domains": ["example.com"],
    "blocked_actions": [{"action": "deploy", "signal": "SIGSTOP", "reason": "needs a human"}],
}
#: Seconds a held ``deploy`` waits for a reviewer before it is denied.
REVIEW_TIMEOUT = 0.5


@dataclass
class Governed:
    """One worker and an agent's client on one bus, with their own subject and group."""

    fleet: Fleet
    bus: Bus
    registry: TrustRegistry
    worker: Worker
    client: KernelClient
    audit: MemoryAuditLog

    @property
    def url(self) -> str:
        return self.fleet.url

    @property
    def subject(self) -> str:
        return self.fleet.subject

    @property
    def kernel(self) -> AgentIdentity:
        return self.fleet.kernel

    @property
    def agent(self) -> AgentIdentity:
        return self.fleet.agent

    async def client_for(self, agent: AgentIdentity, timeout: float = 2.0) -> KernelClient:
        """Another agent's client on the governed subject (it may be unregistered)."""
        return await self.fleet.client(timeout, agent=agent)


@asynccontextmanager
async def governed_setup(url: str, tmp_path: Path) -> AsyncIterator[Governed]:
    """Worker ``kernel-1`` judging agent ``agent-1`` under :data:`POLICY` on ``url``."""
    async with fleet(url, tmp_path, agent_id="agent-1", kernel_id="kernel-1") as f:
        registry = TrustRegistry(FileTrustStore(f.registry_file))
        audit = MemoryAuditLog()
        worker = await f.start_worker(
            registry=registry,
            policies=load_policy(POLICY),
            audit=audit,
            publish_audit=True,
            approver=DenyAfterTimeout(REVIEW_TIMEOUT),
        )
        # Memory answers at once; a broker gets room for a group join or a slow poll.
        client = await f.client(timeout=2.0 if url.startswith("memory:") else 10.0)
        yield Governed(f, await f.agent_bus(), registry, worker, client, audit)


async def read_lines(proc: asyncio.subprocess.Process, prefix: str, count: int) -> list[str]:
    """Read ``proc``'s stdout until ``count`` lines starting with ``prefix`` were seen."""
    assert proc.stdout is not None
    seen: list[str] = []
    while len(seen) < count:
        line = (await proc.stdout.readline()).decode().strip()
        if not line:
            raise AssertionError(f"worker exited early; saw {seen}")
        if line.startswith(prefix):
            seen.append(line)
    return seen
