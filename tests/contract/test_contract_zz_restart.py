"""Reconnect after the broker restarts (runs last for each backend: it restarts the server)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from contract_support import BackendCaps, BusFactory, Recorder, eventually

from agent_os.bus import BusError, Envelope


@pytest.mark.restarts_server
async def test_client_reconnects_after_the_server_restarts(
    bus_factory: BusFactory, server: Any, subject: str, group: str, backend_caps: BackendCaps
) -> None:
    bus = await bus_factory()
    rec = Recorder()
    await bus.subscribe(subject, rec, group=group)
    await bus.publish(Envelope(subject, b"before"))
    await eventually(lambda: b"before" in rec.bodies, backend_caps.timeout, "pre-restart message")

    if server is not None:  # memory has no server: the bus must simply keep working
        if getattr(server, "external", False):
            pytest.skip(f"{server.url} is an external server; it cannot be restarted here")
        await asyncio.to_thread(server.restart)

    # Messages published while the client reconnects may fail (retryably) or be lost;
    # one published after reconnecting must reach the subscription made before.
    deadline = time.monotonic() + 2 * backend_caps.timeout
    attempt = 0
    while not any(body.startswith(b"after") for body in rec.bodies):
        assert time.monotonic() < deadline, "no message got through after the restart"
        attempt += 1
        try:
            await bus.publish(Envelope(subject, f"after-{attempt}".encode()))
        except BusError as exc:
            assert exc.retryable, f"non-retryable error while reconnecting: {exc!r}"
        for _ in range(50):
            if any(body.startswith(b"after") for body in rec.bodies):
                break
            await asyncio.sleep(0.01)
