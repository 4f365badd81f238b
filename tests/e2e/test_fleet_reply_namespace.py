"""A worker answers only into the bus's reply namespace, never where an address says.

An agent allowed to publish on the action subject must not make workers
publish signed verdicts, with the workers' broker rights, onto audit or
control subjects, dead-letter queues or the broker's own API (``$JS.API.*``).
A request whose envelope ``reply_to`` lies outside the reply namespace is
dead-lettered unanswered (``bad_reply_to``); one that *signs* such an
address is denied ``bad_reply_to`` on its envelope's reply address. A
listener on the named subject hears nothing either way.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from review_support import ReviewSetup

from agent_os.adapters import KernelClient
from agent_os.bus import ERROR_CODE_HEADER, Delivery, Envelope, connect, new_id
from agent_os.kernel_worker import (
    KERNEL_RECIPIENT,
    Decision,
    Verdict,
    Worker,
    action_content,
    load_policy,
)
from agent_os.review import WAIT_RECIPIENT, WAIT_SUBJECT
from agent_os.trust import AgentIdentity, SignedMessage, TrustRegistry
from tests.eventually import eventually
from tests.servers import Servers, selected_backends


@pytest.fixture(params=selected_backends(("memory", "nats", "redis")))
def url(request: pytest.FixtureRequest, servers: Servers) -> str:
    return servers.bus_url(request.param)


async def test_verdicts_go_only_into_the_reply_namespace(url: str) -> None:
    agent, kernel = AgentIdentity.create("agent-1"), AgentIdentity.create("kernel-1")
    registry = TrustRegistry()
    registry.register(agent)
    subject = f"agentos.test.{new_id()}.action"
    worker_bus, agent_bus = await connect(url), await connect(url)
    worker = Worker(worker_bus, identity=kernel, registry=registry, subject=subject,
                    policies=load_policy("strict"), publish_audit=False)  # fmt: skip
    heard: list[Envelope] = []
    dead: list[Envelope] = []

    async def listen(delivery) -> None:  # type: ignore[no-untyped-def]
        heard.append(delivery.envelope)
        await delivery.ack()

    async def dead_letters(delivery) -> None:  # type: ignore[no-untyped-def]
        dead.append(delivery.envelope)
        await delivery.ack()

    targets = [f"agentos.test.{new_id()}.audit", f"$JS.API.STREAM.DELETE.{new_id()}"]
    try:
        for target in targets:
            await agent_bus.subscribe(target, listen)
        await agent_bus.subscribe(f"{subject}.dlq", dead_letters, group="dlq-reader")
        await worker.start()

        def request(**signed: str) -> bytes:
            content = action_content("file_read", {"path": "/srv/a"}, **signed)
            return SignedMessage.create(agent, KERNEL_RECIPIENT, content).to_bytes()

        # An unsigned reply address outside the namespace: dead-lettered, no answer.
        for target in targets:
            envelope = Envelope(subject, request(), reply_to=target, deadline=time.time() + 10)
            await agent_bus.publish(envelope)
        await eventually(lambda: len(dead) == 2, 10.0, "the two dead letters")
        assert {d.headers[ERROR_CODE_HEADER] for d in dead} == {"bad_reply_to"}
        # A signed one outside it: denied on the envelope's own reply address.
        for target in targets:
            reply = await agent_bus.request(
                Envelope(subject, request(reply_to=target), deadline=time.time() + 10), 10
            )
            verdict = Verdict.from_dict(SignedMessage.from_bytes(reply.body).json())
            assert verdict.decision is Decision.DENY and verdict.code == "bad_reply_to"
        # A request bound to this bus's reply address is served as ever.
        client = KernelClient(agent_bus, agent, [kernel.public()], subject=subject)
        verdict = await client.check("file_read", {"path": "/srv/a"})
        assert verdict.decision is Decision.ALLOW
        assert worker.bad_reply_addresses == 4 and heard == []
    finally:
        await worker.shutdown()
        await agent_bus.close()
        await worker_bus.close()


async def test_a_review_desk_answers_polls_only_into_the_reply_namespace(
    url: str, tmp_path: Path
) -> None:
    setup = ReviewSetup(tmp_path)
    worker, worker_bus = await setup.worker(url)
    client, agent_bus = await setup.client(url)
    heard: list[Envelope] = []

    async def listen(delivery: Delivery) -> None:
        heard.append(delivery.envelope)
        await delivery.ack()

    target = f"agentos.test.{new_id()}.control"
    try:
        await agent_bus.subscribe(target, listen)
        pending = await client.check("deploy", {"target": "eu"}, wait_review=False)
        assert pending.ticket is not None
        await setup.cli("deny", pending.ticket, "--comment", "no")
        # Polls for the decided ticket naming a control subject, unsigned and signed.
        for signed in ({}, {"reply_to": target}):
            ask = {"ticket": pending.ticket, "request_id": pending.request_id, "wait": 0,
                   **signed}  # fmt: skip
            body = SignedMessage.create(setup.agent, WAIT_RECIPIENT, ask).to_bytes()
            await agent_bus.publish(
                Envelope(WAIT_SUBJECT, body, reply_to=target, deadline=time.time() + 10)
            )
        final = await client.wait(pending, timeout=10)
        assert final.decision is Decision.DENY and final.code == "review_denied"
        assert heard == []
    finally:
        await worker.shutdown()
        await agent_bus.close()
        await worker_bus.close()
