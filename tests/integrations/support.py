"""What every framework's integration tests share: the policy, remote kernels, a loop thread.

``LoopThread`` is the library's :class:`EventLoopThread` (a remote kernel's
home for sync callers); the name stays for the tests that use it.

The policy is ``strict`` plus one SIGSTOP rule (anything mentioning "deploy"
is held for review). A remote kernel is a real :class:`Worker` and a real
:class:`KernelClient` on a real bus (``memory://`` or a NATS server from
``tests/servers``); an unreachable kernel is a client whose bus has no worker.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from agent_os.adapters import KernelClient
from agent_os.bus import Bus, connect, new_id
from agent_os.integrations import EventLoopThread as LoopThread
from agent_os.kernel_worker import MemoryAuditLog, Policy, Worker, load_policy
from agent_os.review import (
    ReviewItem,
    ReviewQueue,
    ReviewRules,
    SqliteReviewStore,
    sign_decision,
    take_decision,
)
from agent_os.trust import AgentIdentity, TrustLevel, TrustRegistry

T = TypeVar("T")

__all__ = [
    "DANGEROUS",
    "DELETE",
    "HARMLESS",
    "HELD",
    "LoopThread",
    "Remote",
    "entered",
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
    """A kernel worker and an agent's client on one bus; with a review store, a reviewer too."""

    client: KernelClient
    worker: Worker
    audit: MemoryAuditLog
    agent: AgentIdentity
    bus: Bus
    registry: TrustRegistry
    reviewer: AgentIdentity
    store: SqliteReviewStore | None = None
    url: str = ""

    async def held(self, count: int = 1, timeout: float = 20.0) -> list[ReviewItem]:
        """Wait until ``count`` calls are held in the review store; they, oldest first."""
        assert self.store is not None, "remote_kernel(review=...) keeps held calls"
        deadline = time.monotonic() + timeout
        while len(items := self.store.pending()) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{count} held call(s) expected, found {len(items)}")
            await asyncio.sleep(0.01)
        return items

    async def decide(self, approve: bool) -> ReviewItem:
        """A reviewer's signed decision on the oldest held call (as ``agent-os review`` does)."""
        assert self.store is not None
        (item, *_) = await self.held()
        signed = sign_decision(self.reviewer, item.ticket, approve=approve, comment="test")
        return await take_decision(self.store, self.registry, signed, bus=self.bus)


@asynccontextmanager
async def remote_kernel(
    url: str | None = None, *, timeout: float = 5.0, review: Path | None = None
) -> AsyncIterator[Remote]:
    """A real worker judging with :func:`integration_policy`, and a client pinned to its key.

    With ``review`` (a directory), SIGSTOP is the durable review: the worker
    records held calls in a SQLite store there, and :meth:`Remote.decide`
    answers them as a registered reviewer.
    """
    url = url or f"memory://{new_id()}"
    worker_bus = await connect(url)
    agent_bus = await connect(url)
    kernel = AgentIdentity.create(f"kernel-{new_id()[:8]}", "kernel")
    agent = AgentIdentity.create(f"agent-{new_id()[:8]}", "agent")
    reviewer = AgentIdentity.create(f"reviewer-{new_id()[:8]}", "reviewer")
    registry = TrustRegistry()
    registry.register(agent)
    registry.register(reviewer, TrustLevel.REVIEWER)
    store = None if review is None else SqliteReviewStore(review / "review.db")
    queue = None
    if store is not None:
        queue = ReviewQueue(store, registry=registry, rules=ReviewRules(timeout=60), poll=0.05)
    audit = MemoryAuditLog()
    worker = Worker(
        worker_bus,
        identity=kernel,
        registry=registry,
        policies=integration_policy(),
        audit=audit,
        publish_audit=False,
        review=queue,
    )
    await worker.start()
    client = KernelClient(agent_bus, agent, [kernel.public()], timeout=timeout)
    try:
        yield Remote(client, worker, audit, agent, worker_bus, registry, reviewer, store, url)
    finally:
        await worker.shutdown()
        await agent_bus.close()
        await worker_bus.close()
        if store is not None:
            store.close()


@asynccontextmanager
async def unreachable_kernel(url: str | None = None) -> AsyncIterator[KernelClient]:
    """A client whose bus has no kernel worker: every check must deny."""
    bus: Bus = await connect(url or f"memory://{new_id()}")
    kernel = AgentIdentity.create("kernel-nobody", "kernel")
    try:
        yield KernelClient(bus, AgentIdentity.create("agent-alone"), [kernel.public()], timeout=1.0)
    finally:
        await bus.close()


@contextmanager
def entered(thread: LoopThread, context: AbstractAsyncContextManager[T]) -> Iterator[T]:
    """``async with context`` held open on ``thread``'s loop, for a sync test body."""
    value = thread.run(context.__aenter__())
    try:
        yield value
    finally:
        thread.run(context.__aexit__(None, None, None))
