"""The group's settings belong to the group: a differing newcomer adopts them and says so.

The independent test started a third NATS worker with another ``ack_wait``:
it silently changed the shared JetStream consumer for the whole fleet, and
the setting stayed after that worker stopped. Now the first member's
setting stays on the broker, and a member asking for another one adopts it
with a warning that names both values.
"""

from __future__ import annotations

import logging
import uuid

import pytest

from agent_os.bus import Delivery, SubscribeOptions, connect
from tests.servers import Servers, selected_backends

BACKENDS = selected_backends(("nats", "redis"))


async def _ignore(delivery: Delivery) -> None:
    await delivery.ack()


async def _broker_ack_wait(backend: str, bus: object, subject: str, group: str) -> float:
    """What the broker itself holds as the group's ack_wait."""
    if backend == "nats":
        from agent_os.bus.backends._nats_codec import consumer_name

        info = await bus.js.consumer_info(  # type: ignore[attr-defined]
            await bus.ensure_stream(subject, refresh=False),  # type: ignore[attr-defined]
            consumer_name(subject, group),
        )
        return float(info.config.ack_wait)
    shared = bus._shared  # type: ignore[attr-defined]
    raw = await shared.client.hget(f"{shared.prefix}group-settings:{subject}:{group}", "ack_wait")
    return float(raw)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_member_with_another_ack_wait_adopts_the_groups(
    backend: str, servers: Servers, caplog: pytest.LogCaptureFixture
) -> None:
    url = servers.bus_url(backend)
    subject, group = f"agentos.v1.t{uuid.uuid4().hex[:8]}", f"g{uuid.uuid4().hex[:8]}"
    first, second = await connect(url), await connect(url)
    try:
        await first.subscribe(subject, _ignore, group=group, options=SubscribeOptions(ack_wait=2))
        caplog.set_level(logging.WARNING, logger="agent_os.bus")
        sub = await second.subscribe(
            subject, _ignore, group=group, options=SubscribeOptions(ack_wait=30)
        )
        assert sub.options.ack_wait == 2  # type: ignore[attr-defined]
        warnings = [r.getMessage() for r in caplog.records if "adopts" in r.getMessage()]
        assert len(warnings) == 1
        assert "already has ack_wait 2 s" in warnings[0] and "asked for 30 s" in warnings[0]
        await second.close()  # the newcomer leaves: the fleet's setting never changed
        assert await _broker_ack_wait(backend, first, subject, group) == 2
    finally:
        await first.close()
        await second.close()
