"""Registry integrity with workers on real brokers.

The independent test copied an older registry file back and a revoked agent
was allowed again at once; a corrupt file made every request an
``internal_error`` with a traceback; a deleted file made every agent unknown.
Now the workers keep the last good copy, refuse an older serial, keep a seen
revocation, and say so in their readiness.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fleet_support import backend_url, fleet

from agent_os.kernel_worker import Decision, Worker
from agent_os.trust import FileTrustStore, TrustRegistry
from tests.servers import Servers, selected_backends

BACKENDS = selected_backends(("nats", "redis"))


async def _registry_readiness(worker: Worker) -> bool | str | None:
    result = worker.health_checks()["registry"]()
    return result  # type: ignore[return-value]


@pytest.mark.parametrize("backend", BACKENDS)
async def test_an_older_registry_file_does_not_undo_a_revocation(
    backend: str, servers: Servers, tmp_path: Path
) -> None:
    async with fleet(backend_url(backend, servers), tmp_path) as f:
        worker = await f.start_worker()
        client = await f.client()
        assert (await client.check("file_read", {"path": "/srv/a"})).decision is Decision.ALLOW
        old = f.registry_file.read_bytes()
        TrustRegistry(FileTrustStore(f.registry_file)).revoke(f.agent.agent_id, "key leaked")
        assert (await client.check("file_read", {"path": "/srv/a"})).code == "revoked"

        f.registry_file.write_bytes(old)  # the older file comes back
        for _ in range(5):
            assert (await client.check("file_read", {"path": "/srv/a"})).code == "revoked"
        ready = await _registry_readiness(worker)
        assert isinstance(ready, str) and "went back from serial 2 to 1" in ready


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("damage", ["corrupt", "deleted"])
async def test_a_corrupt_or_deleted_registry_keeps_the_last_good_copy(
    backend: str, servers: Servers, tmp_path: Path, damage: str
) -> None:
    async with fleet(backend_url(backend, servers), tmp_path) as f:
        worker = await f.start_worker()
        client = await f.client()
        assert (await client.check("file_read", {"path": "/srv/a"})).decision is Decision.ALLOW
        assert await _registry_readiness(worker) is True
        good = f.registry_file.read_bytes()
        if damage == "corrupt":
            f.registry_file.write_bytes(good[: len(good) // 2])
        else:
            f.registry_file.unlink()

        verdicts = [await client.check("file_read", {"path": f"/srv/{i}"}) for i in range(5)]
        assert [v.decision for v in verdicts] == [Decision.ALLOW] * 5  # no internal_error
        ready = await _registry_readiness(worker)
        assert isinstance(ready, str) and "last good registry" in ready

        f.registry_file.write_bytes(good)
        assert (await client.check("file_read", {"path": "/srv/b"})).decision is Decision.ALLOW
        assert await _registry_readiness(worker) is True
