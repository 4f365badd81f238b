"""Redelivery of unacknowledged work, and dead letters."""

from __future__ import annotations

import asyncio

import pytest
from contract_support import BackendCaps, BusFactory, Recorder, eventually

from agent_os.bus import (
    ATTEMPTS_HEADER,
    ERROR_CODE_HEADER,
    ERROR_DETAIL_HEADER,
    ORIGINAL_SUBJECT_HEADER,
    Delivery,
    Envelope,
    SubscribeOptions,
)


async def test_unacked_delivery_is_redelivered_after_ack_wait(
    bus_factory: BusFactory, subject: str, group: str, backend_caps: BackendCaps
) -> None:
    bus = await bus_factory()
    rec = Recorder(ack=False)

    async def handler(delivery: Delivery) -> None:
        await rec(delivery)
        if delivery.attempt > 1:  # the first delivery is "lost": never acked
            await delivery.ack()

    options = SubscribeOptions(ack_wait=backend_caps.ack_wait)
    await bus.subscribe(subject, handler, group=group, options=options)
    sent = Envelope(subject, b"stuck")
    await bus.publish(sent)
    await eventually(lambda: len(rec.deliveries) >= 2, backend_caps.timeout, "the redelivery")
    assert rec.attempts[:2] == [1, 2]
    assert rec.ids[:2] == [sent.id, sent.id]
    assert rec.times[1] - rec.times[0] >= backend_caps.ack_wait * 0.8


async def test_work_of_a_consumer_that_died_goes_to_another(
    bus_factory: BusFactory, subject: str, group: str, backend_caps: BackendCaps
) -> None:
    options = SubscribeOptions(ack_wait=backend_caps.ack_wait)
    doomed_bus = await bus_factory()
    doomed = Recorder(ack=False)
    await doomed_bus.subscribe(subject, doomed, group=group, options=options)
    sent = Envelope(subject, b"orphan")
    await (await bus_factory()).publish(sent)
    await eventually(lambda: len(doomed.deliveries) == 1, backend_caps.timeout, "first delivery")
    await doomed_bus.close()  # the consumer dies holding the message, unacked

    survivor = Recorder()
    await (await bus_factory()).subscribe(subject, survivor, group=group, options=options)
    await eventually(lambda: sent.id in survivor.ids, backend_caps.timeout, "the redelivery")
    redelivered = survivor.deliveries[survivor.ids.index(sent.id)]
    assert redelivered.envelope.body == b"orphan"
    assert redelivered.attempt >= (2 if backend_caps.counts_attempts_across_crash else 1)


@pytest.mark.parametrize("failure", ["nack", "raise", "ack_timeout"])
async def test_dead_letter_after_max_deliver_keeps_the_error_code(
    bus_factory: BusFactory,
    subject: str,
    group: str,
    backend_caps: BackendCaps,
    failure: str,
) -> None:
    bus = await bus_factory()
    rec = Recorder(ack=False)

    async def handler(delivery: Delivery) -> None:
        await rec(delivery)
        if failure == "nack":
            await delivery.nack("boom")
        elif failure == "raise":
            raise RuntimeError("handler bug")

    options = SubscribeOptions(ack_wait=backend_caps.ack_wait, max_deliver=2)
    await bus.subscribe(subject, handler, group=group, options=options)
    sent = Envelope(subject, b"poison", headers={"trace": "t-1"})
    await bus.publish(sent)
    await eventually(lambda: len(rec.deliveries) >= 2, backend_caps.timeout, "two deliveries")

    # Read the dead letter afterwards, like an operator would: it must be kept.
    dead = Recorder()
    await bus.subscribe(f"{subject}.dlq", dead, group=f"{group}-dlq")
    await eventually(lambda: len(dead.deliveries) >= 1, backend_caps.timeout, "the dead letter")
    letter = dead.deliveries[0].envelope
    expected_code = {"nack": "boom", "raise": "handler_error", "ack_timeout": "ack_timeout"}
    assert letter.headers[ERROR_CODE_HEADER] == expected_code[failure]
    assert letter.headers[ATTEMPTS_HEADER] == "2"
    assert letter.headers[ORIGINAL_SUBJECT_HEADER] == subject
    assert letter.headers["trace"] == "t-1"
    assert (letter.id, letter.body) == (sent.id, sent.body)
    await asyncio.sleep(max(backend_caps.quiet, backend_caps.ack_wait * 1.5))
    assert rec.attempts == [1, 2], "delivered again after it was dead-lettered"
    assert len(dead.deliveries) == 1


async def test_reject_dead_letters_at_once_with_code_and_detail(
    bus_factory: BusFactory, subject: str, group: str, backend_caps: BackendCaps
) -> None:
    bus = await bus_factory()
    rec = Recorder(ack=False)
    dead_subject = f"{subject}.rejected"

    async def handler(delivery: Delivery) -> None:
        await rec(delivery)
        await delivery.reject("policy_denied", "blocked by rule r-7")

    dead = Recorder()
    await bus.subscribe(dead_subject, dead, group=f"{group}-dl")
    options = SubscribeOptions(ack_wait=backend_caps.ack_wait, dead_letter=dead_subject)
    await bus.subscribe(subject, handler, group=group, options=options)
    sent = Envelope(subject, b"forbidden")
    await bus.publish(sent)
    await eventually(lambda: len(dead.deliveries) >= 1, backend_caps.timeout, "the dead letter")
    letter = dead.deliveries[0].envelope
    assert letter.headers[ERROR_CODE_HEADER] == "policy_denied"
    assert letter.headers[ERROR_DETAIL_HEADER] == "blocked by rule r-7"
    assert letter.headers[ATTEMPTS_HEADER] == "1"
    assert letter.headers[ORIGINAL_SUBJECT_HEADER] == subject
    assert (letter.id, letter.body) == (sent.id, sent.body)
    await asyncio.sleep(max(backend_caps.quiet, backend_caps.ack_wait * 1.5))
    assert rec.attempts == [1]


async def test_long_work_keeps_its_lease_and_is_not_redelivered(
    bus_factory: BusFactory, subject: str, group: str, backend_caps: BackendCaps
) -> None:
    """A handler busy for several ack_waits renews its lease: one delivery, no copies."""
    bus = await bus_factory()
    rec = Recorder(ack=False)
    release = asyncio.Event()
    done = asyncio.Event()

    async def handler(delivery: Delivery) -> None:
        await rec(delivery)
        await release.wait()
        await delivery.ack()
        done.set()

    options = SubscribeOptions(ack_wait=backend_caps.ack_wait)
    await bus.subscribe(subject, handler, group=group, options=options)
    await bus.publish(Envelope(subject, b"long work"))
    await eventually(lambda: len(rec.deliveries) == 1, backend_caps.timeout, "the delivery")
    # Hold it for three ack_waits: without renewals it would have come back by now.
    await asyncio.sleep(backend_caps.ack_wait * 3 + backend_caps.quiet)
    release.set()
    await asyncio.wait_for(done.wait(), backend_caps.timeout)
    await asyncio.sleep(backend_caps.quiet)
    assert rec.attempts == [1]


async def test_a_redelivery_keeps_its_origin_and_a_republish_gets_another(
    bus_factory: BusFactory, subject: str, group: str, backend_caps: BackendCaps
) -> None:
    """``Delivery.origin`` names the broker's copy: replay protection tells the two apart."""
    bus = await bus_factory()
    rec = Recorder(ack=False)

    async def handler(delivery: Delivery) -> None:
        await rec(delivery)
        if delivery.attempt > 1 or len(rec.deliveries) > 2:
            await delivery.ack()
        else:
            await delivery.nack("again")

    await bus.subscribe(subject, handler, group=group, options=SubscribeOptions(ack_wait=5))
    sent = Envelope(subject, b"same bytes")
    await bus.publish(sent)
    await eventually(lambda: len(rec.deliveries) >= 2, backend_caps.timeout, "the redelivery")
    # The same bytes published again (as a replayer would): a new copy on the broker.
    await bus.publish(Envelope(subject, sent.body, headers=dict(sent.headers)))
    await eventually(lambda: len(rec.deliveries) >= 3, backend_caps.timeout, "the second copy")
    first, again, copy = rec.deliveries[:3]
    assert first.origin is not None
    assert again.origin == first.origin
    assert copy.origin not in (None, first.origin)
