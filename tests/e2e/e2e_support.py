"""A governed setup: a kernel worker and an agent's client on one bus."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

from agent_os.adapters import KernelClient
from agent_os.bus import Bus, connect, new_id
from agent_os.kernel_worker import MemoryAuditLog, Worker, load_policy
from agent_os.trust import AgentIdentity, TrustRegistry


@dataclass
class Governed:
    """A worker and an agent's client on one bus."""

    url: str
    bus: Bus
    kernel: AgentIdentity
    agent: AgentIdentity
    registry: TrustRegistry
    worker: Worker
    client: KernelClient
    audit: MemoryAuditLog


async def governed_setup() -> AsyncIterator[Governed]:
    url = f"memory://{new_id()}"
    worker_bus = await connect(url)
    agent_bus = await connect(url)
    kernel = AgentIdentity.create("kernel-1", "kernel")
    agent = AgentIdentity.create("agent-1", "agent", ["web"])
    registry = TrustRegistry()
    registry.register(agent)
    audit = MemoryAuditLog()
    policy = load_policy({"name": "t", "extends": "strict", "allowed_domains": ["example.com"]})
    worker = Worker(worker_bus, identity=kernel, registry=registry, policies=policy, audit=audit)
    await worker.start()
    client = KernelClient(agent_bus, agent, [kernel.public()], timeout=2.0)
    try:
        yield Governed(url, agent_bus, kernel, agent, registry, worker, client, audit)
    finally:
        await worker.shutdown()
        await agent_bus.close()
        await worker_bus.close()


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
