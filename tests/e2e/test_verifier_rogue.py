"""A rogue that re-publishes a CMVK request with its own reply subject learns nothing.

The attack, as on the kernel's path: a process that can read the verifier
subject publishes each signed request again with a reply subject of its own;
the copy taken first gets the result, the other is a replay. The client now
signs its reply subject into the request and workers answer only there.

The worst order is made certain: the client publishes on a subject only the
rogue reads; the rogue puts its copy on the workers' subject, and once a
worker has asked the models for it (they wait on a gate), hands over the
client's own copy, whose ``replay`` error reaches the client first. Then the
models answer: the result goes to the client, nothing to the rogue.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from agent_os.bus import BusTimeout, Delivery, Envelope, connect
from agent_os.trust import AgentIdentity, TrustLevel, TrustRegistry
from agent_os.verifier import LexicalJudge, RemoteVerifier, VerifierWorker
from agent_os.verifier._provider import Answer
from tests.eventually import eventually
from tests.servers import Servers, selected_backends

N = 3


class Gated:
    """A model that answers ``text`` once ``gate`` opens; counts the questions."""

    def __init__(self, name: str, text: str, gate: asyncio.Event) -> None:
        self.name, self._text, self._gate = name, text, gate
        self.asked = 0

    async def complete(self, prompt: str) -> Answer:
        self.asked += 1
        await self._gate.wait()
        return Answer(self.name, self._text, 0.0)

    async def aclose(self) -> None:
        return None


@pytest.mark.parametrize("backend", selected_backends(("memory", "nats")))
async def test_a_rogue_copy_of_a_cmvk_request_gets_nothing_and_the_client_its_result(
    backend: str, servers: Servers
) -> None:
    url = servers.bus_url(backend)
    client_id = AgentIdentity.create("cmvk-client", "client", ["cmvk"])
    key = AgentIdentity.create("cmvk-verifier", "verifier", [])
    registry = TrustRegistry()
    registry.register(client_id.public(), TrustLevel.STANDARD)
    subject = f"agentos.v1.cmvk.t{uuid.uuid4().hex[:10]}"
    tapped = f"agentos.v1.cmvktap.t{uuid.uuid4().hex[:10]}"
    gate = asyncio.Event()
    models = {"fixed:a": Gated("fixed:a", "1889", gate), "fixed:b": Gated("fixed:b", "1889.", gate)}
    worker_bus, client_bus, rogue_bus = [await connect(url) for _ in range(3)]
    worker = VerifierWorker(worker_bus, key, registry, judge=LexicalJudge(), providers=models,
                            subject=subject)  # fmt: skip
    stolen: list[Envelope] = []
    copies: list[asyncio.Future[Envelope]] = []

    def keep(reply: Envelope) -> bool:
        stolen.append(reply)
        return False

    async def rogue(delivery: Delivery) -> None:
        genuine = delivery.envelope
        gate.clear()
        asked = models["fixed:a"].asked
        copy = Envelope(subject, genuine.body, deadline=genuine.deadline)
        copies.append(asyncio.ensure_future(rogue_bus.request(copy, 3.0, accept=keep)))
        await eventually(lambda: models["fixed:a"].asked > asked, 10.0, "the copy taken")
        # The client's own copy, as the client would have sent it (in an envelope of its
        # own id: JetStream drops an id it has seen).
        own = Envelope(subject, genuine.body, reply_to=genuine.reply_to, deadline=genuine.deadline)
        await rogue_bus.publish(own)
        await eventually(lambda: remote.dropped_replays > len(copies) - 1, 10.0, "the replay")
        gate.set()
        await delivery.ack()

    await worker.start()
    await rogue_bus.subscribe(tapped, rogue, group="rogue")
    remote = RemoteVerifier(client_bus, client_id, [key.public()], timeout=20, subject=tapped)
    try:
        results = [
            await remote.verify(f"When was the Eiffel Tower completed? ({i})",
                                ["fixed:a", "fixed:b"], 0.8, 2)
            for i in range(N)
        ]  # fmt: skip
        assert [r.outcome for r in results] == ["agreed"] * N
        # Each client's own copy was a replay, whose error it dropped; each result was the
        # rogue's copy's, answered on the subject the client signed.
        assert remote.dropped_replays == N and worker.redirected_replies == N
        outcomes = await asyncio.gather(*copies, return_exceptions=True)
        assert {type(o) for o in outcomes} == {BusTimeout}
        assert stolen == []
    finally:
        gate.set()
        await worker.shutdown()
        for bus in (rogue_bus, client_bus, worker_bus):
            await bus.close()
