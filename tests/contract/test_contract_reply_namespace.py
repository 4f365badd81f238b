"""The reply namespace: every reply address a request carries lies in it, nothing else does."""

from __future__ import annotations

import pytest
from contract_support import BackendCaps, BusFactory

from agent_os.bus import Delivery, Envelope

#: Where each backend's request() puts reply addresses.
NAMESPACE = {
    "nats": "_INBOX.",
    "redis": "reply:",
    "kafka": "agentos.reply.",
    "sqs": "_inbox.",
    "memory": "_inbox.",
}


async def test_a_request_reply_address_is_one_the_responder_accepts(
    bus_factory: BusFactory, subject: str, group: str, backend_caps: BackendCaps
) -> None:
    responder, requester = await bus_factory(), await bus_factory()
    seen: list[str | None] = []

    async def answer(delivery: Delivery) -> None:
        seen.append(delivery.envelope.reply_to)
        await responder.publish(delivery.envelope.reply(b"ok"))
        await delivery.ack()

    await responder.subscribe(subject, answer, group=group)
    request = Envelope(subject, b"ping")
    signed = await requester.reply_address(request)
    await requester.request(request, timeout=backend_caps.timeout)
    assert seen == [signed]
    assert responder.is_reply_address(signed) and requester.is_reply_address(signed)


@pytest.mark.parametrize(
    "address",
    [
        "agentos.v1.action",
        "agentos.v1.audit",
        "agentos.v1.control",
        "agentos.v1.action.dlq",
        "$JS.API.STREAM.DELETE.agentos",
        "$KV.bucket.key",
        "",
    ],
)
async def test_work_audit_control_and_broker_api_subjects_are_no_reply_address(
    bus_factory: BusFactory, address: str
) -> None:
    assert not (await bus_factory()).is_reply_address(address)


async def test_the_namespace_is_the_backend_prefix_with_no_wildcard_or_blank(
    bus_factory: BusFactory, subject: str, backend: str
) -> None:
    bus = await bus_factory()
    prefix = NAMESPACE[backend]
    address = await bus.reply_address(Envelope(subject, b""))
    assert address.startswith(prefix)
    # Another requester's address is a reply address too; the prefix alone names none.
    assert bus.is_reply_address(prefix + "someone-else")
    assert not bus.is_reply_address(prefix)
    for bad in (address + " x", address + ".*", address + ".>", address + "\n"):
        assert not bus.is_reply_address(bad), bad


async def test_a_nats_inbox_prefix_moves_the_namespace(
    bus_factory: BusFactory, backend: str
) -> None:
    if backend != "nats":
        pytest.skip("inbox_prefix is a NATS client option")
    bus = await bus_factory(inbox_prefix="_R.agents")
    address = await bus.reply_address(Envelope("agentos.v1.action", b""))
    assert address.startswith("_R.agents.") and bus.is_reply_address(address)
    assert not bus.is_reply_address("_INBOX.abc.def")
