"""The group's settings belong to the group: a differing newcomer adopts them and says so.

The independent test started a third NATS worker with another ``ack_wait``:
it silently changed the shared JetStream consumer for the whole fleet, and
the setting stayed after that worker stopped. Now the first member's
settings (``ack_wait`` and ``max_deliver``) stay on the broker, and a member
asking for others adopts them with a warning that names both values.

Where each backend keeps them: NATS in the durable consumer (``ack_wait``
itself, ``max_deliver`` in its metadata), Redis in a hash beside the stream,
SQS in the work queue's redrive policy (``maxReceiveCount``; its visibility
timeout is per receive, so SQS keeps no ``ack_wait``), memory in its
in-process broker. Kafka keeps neither: its redelivery timer and count live
in each member (docs/backends/kafka.md).
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

import pytest

from agent_os.bus import Bus, Delivery, SubscribeOptions, connect
from tests.servers import Servers, selected_backends

ACK_WAIT_KEPT = selected_backends(("memory", "nats", "redis"))
MAX_DELIVER_KEPT = selected_backends(("memory", "nats", "redis", "sqs"))


async def _ignore(delivery: Delivery) -> None:
    await delivery.ack()


async def _kept_on_broker(backend: str, bus: Any, subject: str, group: str) -> dict[str, float]:
    """What the broker itself holds as the group's settings (memory: its in-process broker)."""
    if backend == "nats":
        from agent_os.bus.backends._nats_codec import consumer_name

        stream = await bus.ensure_stream(subject, refresh=False)
        config = (await bus.js.consumer_info(stream, consumer_name(subject, group))).config
        return {
            "ack_wait": float(config.ack_wait),
            "max_deliver": float(config.metadata["agentos.max_deliver"]),
        }
    if backend == "redis":
        raw = await bus.client.hgetall(f"{bus.prefix}group-settings:{subject}:{group}")
        return {k.decode(): float(v) for k, v in raw.items()}
    if backend == "sqs":
        from agent_os.bus.backends._sqs_names import work_queue_name

        url = await bus.sqs.queue_url(work_queue_name(bus._prefix, subject))
        got = await bus.sqs.call(
            "get_queue_attributes", QueueUrl=url, AttributeNames=["RedrivePolicy"]
        )
        policy = json.loads(got["Attributes"]["RedrivePolicy"])
        return {"max_deliver": float(policy["maxReceiveCount"])}
    queue = bus._broker._queues[subject][group]
    return dict(queue.settings)


async def _two_members(
    servers: Servers, backend: str, first: SubscribeOptions, second: SubscribeOptions
) -> tuple[Bus, Bus, Any, str, str]:
    url = servers.bus_url(backend)
    subject, group = f"agentos.v1.t{uuid.uuid4().hex[:8]}", f"g{uuid.uuid4().hex[:8]}"
    one, two = await connect(url), await connect(url)
    await one.subscribe(subject, _ignore, group=group, options=first)
    sub = await two.subscribe(subject, _ignore, group=group, options=second)
    return one, two, sub, subject, group


def _adoptions(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "adopts" in r.getMessage()]


#: (setting, the first member's value, the newcomer's, what the warning says of each)
CASES = [
    ("ack_wait", 2.0, 30.0, "already has ack_wait 2 s;", "asked for 30 s "),
    ("max_deliver", 3, 9, "already has max_deliver 3;", "asked for 9 "),
]


@pytest.mark.parametrize(
    ("backend", "setting", "kept", "asked", "says_kept", "says_asked"),
    [
        (backend, *case)
        for case in CASES
        for backend in (ACK_WAIT_KEPT if case[0] == "ack_wait" else MAX_DELIVER_KEPT)
    ],
)
async def test_a_member_asking_for_another_setting_adopts_the_groups(
    backend: str,
    setting: str,
    kept: float,
    asked: float,
    says_kept: str,
    says_asked: str,
    servers: Servers,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="agent_os.bus")
    one, two, sub, subject, group = await _two_members(
        servers,
        backend,
        SubscribeOptions(**{setting: kept}),
        SubscribeOptions(**{setting: asked}),
    )
    try:
        assert getattr(sub.options, setting) == kept
        warnings = _adoptions(caplog)
        assert len(warnings) == 1
        assert says_kept in warnings[0] and says_asked in warnings[0]
        await two.close()  # the newcomer leaves: the fleet's setting never changed
        assert (await _kept_on_broker(backend, one, subject, group))[setting] == kept
    finally:
        await one.close()
        await two.close()


@pytest.mark.parametrize("backend", MAX_DELIVER_KEPT)
async def test_a_member_with_the_groups_settings_adopts_nothing(
    backend: str, servers: Servers, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="agent_os.bus")
    same = SubscribeOptions(ack_wait=2, max_deliver=4, concurrency=8)
    one, two, sub, _, _ = await _two_members(
        servers, backend, same, SubscribeOptions(ack_wait=2, max_deliver=4, concurrency=2)
    )
    try:
        # concurrency is each member's own: the newcomer keeps its 2.
        assert (sub.options.max_deliver, sub.options.concurrency) == (4, 2)
        assert _adoptions(caplog) == []
    finally:
        await one.close()
        await two.close()
