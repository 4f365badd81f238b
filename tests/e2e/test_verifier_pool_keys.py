"""A pool whose workers have keys of their own shares one Redis cache (real NATS, Redis):
``agent-os verifier --trust-cache-key`` serves the result another key signed, without asking
the models again (loopback model servers count the calls)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

from agent_os.bus import connect
from agent_os.trust import AgentIdentity, FileTrustStore, TrustLevel, TrustRegistry
from agent_os.verifier import (
    CallSettings,
    ConsensusVerifier,
    LexicalJudge,
    RedisResultCache,
    VerifierWorker,
)
from tests.servers import Servers
from tests.unit.verifier.vendor_server import three, vendor_server

SCRIPTS = {
    "gpt-local": ["It was completed in 1889."],
    "claude-local": ["1889"],
    "gemini-local": ["The Eiffel Tower was completed in 1925."],
}


async def test_a_cli_worker_serves_results_signed_by_a_trusted_pool_key(
    servers: Servers, tmp_path: Path
) -> None:
    bus_url, redis_url = servers.get("nats").url, servers.get("redis").url
    agent = AgentIdentity.create("cmvk-keys-client", "client", [])
    first_key = AgentIdentity.create("cmvk-keys-verifier-a", "verifier", [])
    second_key = AgentIdentity.create("cmvk-keys-verifier-b", "verifier", [])
    second_key.save(tmp_path / "b.key")
    # What `agent-os keygen` prints for the first key, kept as a file.
    (tmp_path / "a.json").write_text(
        json.dumps({"agent_id": first_key.agent_id, "public_key": first_key.public().to_dict()})
    )
    registry = TrustRegistry(FileTrustStore(tmp_path / "registry.json"))
    registry.register(agent.public(), TrustLevel.STANDARD)
    # A question of this run's own: the shared cache may hold earlier runs' entries.
    prompt = f"In which year was the Eiffel Tower completed? ({uuid.uuid4().hex[:8]})"
    pinned = [first_key.public(), second_key.public()]
    with vendor_server(SCRIPTS) as server:
        models = three(server)
        # The first worker (its own key) verifies and keeps the result, then leaves.
        bus, worker_bus = await connect(bus_url), await connect(bus_url)
        cache = RedisResultCache(redis_url, first_key)
        settings = CallSettings(timeout=10, retries=0)
        worker = VerifierWorker(
            worker_bus, first_key, registry, judge=LexicalJudge(), settings=settings, cache=cache
        )
        try:
            await worker.start()
            verifier = ConsensusVerifier(
                models=models, bus=bus, identity=agent, verifier_keys=pinned, timeout=20
            )
            first = await verifier.verify_consensus(prompt, threshold=0.8)
        finally:
            await worker.shutdown()
            await worker_bus.close()
            await cache.aclose()
        # The second, from the command line with another key, trusting the first's.
        proc = subprocess.Popen(  # noqa: ASYNC220 (started once; its output read line by line)
            [str(Path(sys.executable).parent / "agent-os"), "verifier", "--bus", bus_url,
             "--key", str(tmp_path / "b.key"), "--registry", str(tmp_path / "registry.json"),
             "--cache", redis_url, "--trust-cache-key", str(tmp_path / "a.json")],
            env={**os.environ, "AGENT_OS_NONCE_URL": "local"}, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert proc.stderr is not None
            said: list[str] = []
            for line in proc.stderr:
                said.append(line)
                if "consuming agentos.v1.cmvk" in line:
                    break
            else:
                raise AssertionError(f"verifier exited with {proc.wait()}")
            again = await verifier.verify_consensus(prompt, threshold=0.8)
        finally:
            await bus.close()
            proc.terminate()
            _, rest = proc.communicate(timeout=15)
        assert proc.returncode == 0, rest
    assert first.dissenting_models == again.dissenting_models == ("gemini:gemini-local",)
    assert not first.cached and again.cached
    assert [server.calls(m) for m in SCRIPTS] == [1, 1, 1]
    first_print = f"{first_key.agent_id} {first_key.public().fingerprint}"
    assert any(f"trusting {second_key.agent_id} " in s and first_print in s for s in said)
