"""A rogue responder that answers every request first costs no legitimate verdict.

The attack: a process that can read the request subject answers each request
on its reply subject before the kernel does — unsigned, signed by its own key,
signed by a key that claims the kernel's id, signed by the agent's key, and a
genuine kernel verdict for another request (a replay). The client used to take
the first reply and deny (``bad_verdict``); now it drops each of them, counts
why, and takes the kernel's verdict.

How the rogue sees requests depends on the broker: a fan-out reader of the
subject (memory, NATS core, a Redis stream reader), its own consumer group
(Kafka: every group gets every record), and on SQS — where reading a queue
hides the message from the workers — a tap in the worker's process that
answers before the worker does.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from fleet_support import Fleet, fleet

from agent_os.bus import Bus, Delivery, Envelope, new_id
from agent_os.kernel_worker import Decision, Verdict, Worker
from agent_os.kernel_worker._wire import sign_verdict
from agent_os.trust import AgentIdentity, MalformedMessage, SignedMessage
from tests.servers import Servers, selected_backends

BACKENDS = selected_backends(("memory", "nats", "redis", "kafka", "sqs"))
N = 50


def _rogue_replies(f: Fleet, request_id: str) -> list[bytes]:
    deny = Verdict.deny("rogue", "denied by a rogue").bound(request_id, f.kernel.agent_id, 1.0)
    own = AgentIdentity.create("rogue")
    claims_kernel = AgentIdentity.create(f.kernel.agent_id)  # same id, another key
    genuine_elsewhere = sign_verdict(f.kernel, f.agent.agent_id, deny.bound(new_id(), "k", 1.0))
    return [
        b'{"decision":"deny"}',
        sign_verdict(own, f.agent.agent_id, deny),
        sign_verdict(claims_kernel, f.agent.agent_id, deny),
        sign_verdict(f.agent, f.agent.agent_id, deny),
        genuine_elsewhere,
    ]


class Rogue:
    """Answers each request it sees with every rogue reply, first."""

    def __init__(self, f: Fleet, bus: Bus, expect: int) -> None:
        self.fleet, self.bus, self.answered = f, bus, 0
        self.expect, self.done = expect, asyncio.Event()
        self.seen: dict[str, asyncio.Event] = {}

    def answered_event(self, request_id: str) -> asyncio.Event:
        return self.seen.setdefault(request_id, asyncio.Event())

    async def answer(self, envelope: Envelope) -> None:
        try:
            request_id = SignedMessage.from_bytes(envelope.body).id
        except MalformedMessage:
            return
        for body in _rogue_replies(self.fleet, request_id):
            await self.bus.publish(envelope.reply(body))
        self.answered += 1
        self.answered_event(request_id).set()
        if self.answered >= self.expect:
            self.done.set()

    async def handler(self, delivery: Delivery) -> None:
        await self.answer(delivery.envelope)
        await delivery.ack()


class SlowWorker(Worker):
    """A real worker that starts judging only once the rogue has answered.

    The rogue winning every race is the attack's worst case; waiting for it
    makes that case certain instead of likely. With ``tap`` (SQS) the rogue
    runs in the worker's process and answers first.
    """

    rogue: Rogue
    tap = False

    async def _handle(self, delivery: Delivery) -> None:
        if self.tap:
            await self.rogue.answer(delivery.envelope)
        else:
            request_id = SignedMessage.from_bytes(delivery.envelope.body).id
            await asyncio.wait_for(self.rogue.answered_event(request_id).wait(), 10)
        await super()._handle(delivery)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_rogue_responder_costs_no_legitimate_verdict(
    backend: str, servers: Servers, tmp_path: Path
) -> None:
    url = servers.bus_url(backend)
    async with fleet(url, tmp_path) as f:
        rogue_bus = await f.connect()
        rogue = Rogue(f, rogue_bus, N)
        SlowWorker.rogue, SlowWorker.tap = rogue, backend == "sqs"
        if backend != "sqs":
            await f.overhear(rogue_bus, rogue.handler, backend)
        await f.start_worker(factory=SlowWorker)
        client = await f.client(timeout=30.0)

        verdicts = [await client.check("file_read", {"path": f"/srv/{i}"}) for i in range(N)]

        assert [v.decision for v in verdicts] == [Decision.ALLOW] * N
        assert {v.kernel_id for v in verdicts} == {f.kernel.agent_id}
        await asyncio.wait_for(rogue.done.wait(), 30)  # it saw (and answered) every request
        # Every rogue reply that reached the client was dropped and counted by reason.
        assert set(client.dropped) <= {
            "unreadable",
            "unknown_agent",
            "bad_signature",
            "other_request",
        }
        # The rogue answered first, five times per request: none of it counted.
        assert sum(client.dropped.values()) >= N
        assert client.dropped["other_request"] >= 1
        assert client.dropped["bad_signature"] >= 1
