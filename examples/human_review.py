"""Durable human review in one process: a held deploy, a reviewer's signed decision, the run.

Offline, no servers: a ``KernelSpace`` records the held call in a SQLite review
store and waits; a reviewer (here a task standing in for ``agent-os review
approve``, which does the same from another process) signs a decision with
their own key; the kernel re-verifies it against the trust registry and only
then runs the function. A second call is denied by the reviewer and never runs.

    python examples/human_review.py
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from agent_os.kernel_worker import KernelSpace, PolicyViolation, load_policy
from agent_os.review import ReviewQueue, SqliteReviewStore, sign_decision, take_decision
from agent_os.trust import AgentIdentity, TrustLevel, TrustRegistry

POLICY = load_policy(
    {
        "name": "ops",
        "blocked_actions": [
            {"action": "deploy", "signal": "SIGSTOP", "reason": "deploys need a human"}
        ],
    }
)


async def reviewer(store: SqliteReviewStore, registry: TrustRegistry, alice: AgentIdentity) -> None:
    """What ``agent-os review approve|deny`` does: sign, verify, apply (first decision wins)."""
    for approve, comment in ((True, "release window open"), (False, "not on a Friday")):
        # A reviewer watches the queue (the console re-reads it every second too).
        while not (pending := await asyncio.to_thread(store.pending)):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        item = pending[0]
        print(f"reviewer sees: {item.action} {dict(item.args)} (rule {item.rule}: {item.reason})")
        signed = sign_decision(alice, item.ticket, approve=approve, comment=comment)
        settled = await take_decision(store, registry, signed)
        print(f"reviewer: {settled.status.value} by {settled.decided_by} ({comment})")


async def main() -> None:
    alice = AgentIdentity.create("alice", "Alice")
    registry = TrustRegistry()
    registry.register(alice, TrustLevel.REVIEWER)
    with tempfile.TemporaryDirectory() as tmp, SqliteReviewStore(Path(tmp) / "review.db") as store:
        kernel = KernelSpace(POLICY, review=ReviewQueue(store, registry=registry, poll=0.05))

        @kernel.register(action="deploy")
        def deploy(target: str) -> str:
            return f"deployed to {target}"

        review = asyncio.create_task(reviewer(store, registry, alice))
        print("agent:", await deploy("staging"))
        try:
            await deploy("production")
        except PolicyViolation as exc:
            print(f"agent: blocked ({exc.code}): {exc.verdict.reason}")
        await review


if __name__ == "__main__":
    asyncio.run(main())
