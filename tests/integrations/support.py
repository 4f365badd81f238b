"""What every framework's integration tests share: the policy, remote kernels, a loop thread.

The policy is ``strict`` plus one SIGSTOP rule (anything mentioning "deploy"
is held for review). A remote kernel is a real :class:`Worker` and a real
:class:`KernelClient` on a real bus (``memory://`` or a NATS server from
``tests/servers``); an unreachable kernel is a client whose bus has no worker.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from agent_os.adapters import KernelClient
from agent_os.bus import Bus, connect, new_id
from agent_os.kernel_worker import MemoryAuditLog, Policy, Worker, load_policy
from agent_os.trust import AgentIdentity, TrustRegistry

T = TypeVar("T")

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


class LoopThread:
    """An event loop in a daemon thread: where a remote client lives for sync callers."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn: Callable[[], Awaitable[T]], timeout: float = 30.0) -> T:
        async def go() -> T:
            return await fn()

        return self.run(go(), timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()
