"""What the bus makes of bytes it did not write, and of options it does not know."""

from __future__ import annotations

from typing import Any

import pytest
from contract_support import BackendCaps, BusFactory, Recorder, eventually
from contract_wire import NOT_AN_ENVELOPE, WRITE_MALFORMED

from agent_os.bus import (
    ATTEMPTS_HEADER,
    ERROR_CODE_HEADER,
    ORIGINAL_SUBJECT_HEADER,
    ConfigError,
    Envelope,
    connect,
)
from tests.servers import Servers


async def test_a_malformed_entry_is_dead_lettered_and_the_consumer_goes_on(
    backend: str,
    server: Any,
    bus_factory: BusFactory,
    subject: str,
    group: str,
    backend_caps: BackendCaps,
) -> None:
    if backend not in WRITE_MALFORMED:
        pytest.skip(f"{backend} carries envelope objects, never bytes another producer wrote")
    bus = await bus_factory()
    work, dead = Recorder(), Recorder()
    await bus.subscribe(subject, work, group=group)
    await bus.subscribe(f"{subject}.dlq", dead, group=f"{group}-dlq")
    await WRITE_MALFORMED[backend](server.url, subject)
    await eventually(lambda: dead.deliveries, backend_caps.timeout, "the dead letter")
    letter = dead.deliveries[0].envelope
    assert letter.headers[ERROR_CODE_HEADER] == "malformed_envelope"
    assert letter.headers[ORIGINAL_SUBJECT_HEADER] == subject
    assert letter.headers[ATTEMPTS_HEADER] == "1"
    assert letter.body == NOT_AN_ENVELOPE
    # The consumer survived it: the next real envelope is delivered, and only that one.
    await bus.publish(Envelope(subject, b"real"))
    await eventually(lambda: work.bodies, backend_caps.timeout, "the next envelope")
    assert work.bodies == [b"real"]
    assert len(dead.deliveries) == 1


async def test_an_unknown_connect_option_is_a_config_error_naming_it(
    bus_factory: BusFactory, backend: str, servers: Servers
) -> None:
    with pytest.raises(ConfigError, match="colour"):
        await bus_factory(colour="blue")
    url = servers.bus_url(backend)
    with pytest.raises(ConfigError, match="colour"):
        await connect(f"{url}{'&' if '?' in url else '?'}colour=blue")
