"""Reconnect after the broker restarts (runs last for each backend: it restarts the server)."""

from __future__ import annotations

import asyncio
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
    attempts = 0

    async def got_through() -> bool:
        nonlocal attempts
        if any(body.startswith(b"after") for body in rec.bodies):
            return True
        attempts += 1
        try:
            await bus.publish(Envelope(subject, f"after-{attempts}".encode()))
        except BusError as exc:
            assert exc.retryable, f"non-retryable error while reconnecting: {exc!r}"
        return False

    await eventually(
        got_through, 2 * backend_caps.timeout, "a message through after the restart", interval=0.25
    )
