"""The worker's audit publisher: batched JSON lines on the bus, nothing lost."""

from __future__ import annotations

import asyncio

from agent_os.audit._publisher import AuditPublisher, decode_batch
from agent_os.bus import Delivery, connect, new_id
from agent_os.kernel_worker import AUDIT_SUBJECT, AuditEvent, Verdict, args_digest


async def test_decisions_and_events_arrive_in_order_in_bounded_batches() -> None:
    bus = await connect(f"memory://{new_id()}")
    bodies: list[bytes] = []

    async def collect(delivery: Delivery) -> None:
        bodies.append(delivery.envelope.body)

    await bus.subscribe(AUDIT_SUBJECT, collect)
    publisher = AuditPublisher(bus, max_batch=50, linger=0.01)
    for i in range(120):
        action = {"agent_id": f"agent-{i}", "action": "file_read", "args": {"path": f"/d/{i}"}}
        verdict = Verdict.deny("policy_violation", "no", policy="strict")
        await publisher.put_decision(action, verdict, now=1000.0 + i)
    event = AuditEvent.from_verdict({"agent_id": "last", "action": "x"}, Verdict.deny("c", "r"))
    await publisher.put(event)
    await publisher.close()
    await asyncio.sleep(0.05)
    await bus.close()

    batches = [decode_batch(body) for body in bodies]
    events = [e for batch in batches for e in batch]
    assert all(len(batch) <= 50 for batch in batches) and len(batches) >= 3
    assert [e.agent_id for e in events] == [f"agent-{i}" for i in range(120)] + ["last"]
    assert events[7].ts == 1007.0 and events[7].decision == "deny"
    assert events[7].args_digest == args_digest({"path": "/d/7"})
    assert events[-1] == event
    assert publisher.published == 121
