"""What every framework's integration tests share: the policy, remote kernels, a loop thread.

``LoopThread`` is the library's :class:`EventLoopThread` (a remote kernel's
home for sync callers); the name stays for the tests that use it.

The policy is ``strict`` plus one SIGSTOP rule (anything mentioning "deploy"
is held for review). A remote kernel is a real :class:`Worker` and a real
:class:`KernelClient` on a real bus (``memory://`` or a NATS server from
``tests/servers``); an unreachable kernel is a client whose bus has no worker.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from agent_os.adapters import KernelClient
from agent_os.bus import Bus, connect, new_id
from agent_os.integrations import EventLoopThread as LoopThread
from agent_os.kernel_worker import MemoryAuditLog, Policy, Worker, load_policy
from agent_os.trust import AgentIdentity, TrustRegistry

__all__ = [
    "DANGEROUS",
    "DELETE",
    "HARMLESS",
    "HELD",
    "LoopThread",
    "Remote",
    "integration_policy",
    "remote_kernel",
    "unreachable_kernel",
]

#: Dangerous, held and harmless tool calls, as models produce them.
DANGEROUS = ("terminal", {"commands": "rm -rf /"})
DELETE = ("delete_file", {"file_path": "/etc/passwd"})
HELD = ("release", {"target": "deploy to production"})
HARMLESS = ("search", {"query": "weather in Paris"})


def integration_policy() -> Policy:
    return load_policy(
        {
            "name": "integration-tests",
            "extends": "strict",
            "blocked_patterns": [
                {"pattern": "deploy", "reason": "deploys need review", "signal": "SIGSTOP"}
            ],
        }
    )


@dataclass
class Remote:
    """A kernel worker and an agent's client on one bus."""

    client: KernelClient
    worker: Worker
    audit: MemoryAuditLog
    agent: AgentIdentity


@asynccontextmanager
async def remote_kernel(url: str | None = None, *, timeout: float = 5.0) -> AsyncIterator[Remote]:
    """A real worker judging with :func:`integration_policy`, and a client pinned to its key."""
    url = url or f"memory://{new_id()}"
    worker_bus = await connect(url)
    agent_bus = await connect(url)
    kernel = AgentIdentity.create(f"kernel-{new_id()[:8]}", "kernel")
    agent = AgentIdentity.create(f"agent-{new_id()[:8]}", "agent")
    registry = TrustRegistry()
    registry.register(agent)
    audit = MemoryAuditLog()
    worker = Worker(
        worker_bus,
        identity=kernel,
        registry=registry,
        policies=integration_policy(),
        audit=audit,
        publish_audit=False,
    )
    await worker.start()
    client = KernelClient(agent_bus, agent, [kernel.public()], timeout=timeout)
    try:
        yield Remote(client, worker, audit, agent)
    finally:
        await worker.shutdown()
        await agent_bus.close()
        await worker_bus.close()


@asynccontextmanager
async def unreachable_kernel(url: str | None = None) -> AsyncIterator[KernelClient]:
    """A client whose bus has no kernel worker: every check must deny."""
    bus: Bus = await connect(url or f"memory://{new_id()}")
    kernel = AgentIdentity.create("kernel-nobody", "kernel")
    try:
        yield KernelClient(bus, AgentIdentity.create("agent-alone"), [kernel.public()], timeout=1.0)
    finally:
        await bus.close()
