"""A worker whose kernel key agents do not pin is named, on both sides.

The fleet hears it: a worker serving the same subject and group under another
kernel id is a warning naming both ids and key fingerprints (not a readiness
failure: a key rotation runs both keys for a while). The agent says why it
times out: a verdict signed by a kernel it does not pin gets a log line
naming that kernel.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fleet_support import fleet

from agent_os.kernel_worker import Decision, PresenceOptions
from agent_os.trust import AgentIdentity, FileTrustStore, TrustLevel, TrustRegistry
from tests.eventually import eventually
from tests.servers import Servers, selected_backends

BACKENDS = selected_backends(("memory", "nats", "redis"))
FAST = PresenceOptions(interval=0.5)


def _warned(caplog: pytest.LogCaptureFixture, logger: str, text: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == logger and r.levelno == logging.WARNING and text in r.getMessage()
    ]


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_second_kernel_id_is_named_by_the_fleet_and_by_the_agent(
    backend: str, servers: Servers, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="agent_os")
    other = AgentIdentity.create("kernel-unpinned")
    async with fleet(servers.bus_url(backend), tmp_path) as f:
        written = TrustRegistry(FileTrustStore(f.registry_file))
        written.register(f.kernel, TrustLevel.KERNEL)
        written.register(other, TrustLevel.KERNEL)
        pinned = await f.start_worker(presence=FAST)
        unpinned = await f.start_worker(identity=other, presence=FAST)
        assert pinned.presence is not None and unpinned.presence is not None
        await eventually(lambda: pinned.presence.other_kernels >= 1, 20, "the other kernel heard")
        (warning,) = _warned(caplog, "agent_os.kernel.presence", "serves " + f.subject)[:1]
        for name in (other.agent_id, other.fingerprint, f.kernel.agent_id, f.kernel.fingerprint):
            assert name in warning
        # A warning, not a readiness failure: both serve during a rotation.
        assert pinned.health_checks()["replicas"]() is True
        # Only the worker agents do not pin is left: its verdicts are dropped, by name.
        await pinned.shutdown()
        client = await f.client()
        verdict = await client.check("file_read", {"path": "/srv/a"}, timeout=1.5)
        assert verdict.decision is Decision.DENY and verdict.code == "timeout"
        assert client.dropped["unknown_agent"] >= 1
        (dropped,) = _warned(caplog, "agent_os.client", "signed as kernel")[:1]
        assert "'kernel-unpinned'" in dropped and "pin its key" in dropped
