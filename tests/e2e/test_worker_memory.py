"""The governed path end to end on the embedded bus: sign, judge, verify."""

from __future__ import annotations

import asyncio
import json

import pytest
from e2e_support import Governed

from agent_os.adapters import KernelClient
from agent_os.adapters import governed as governed_fn
from agent_os.audit._signed import open_batch
from agent_os.bus import ERROR_CODE_HEADER, Delivery, Envelope
from agent_os.kernel_worker import (
    Decision,
    Metrics,
    PolicyViolation,
    Verdict,
    Worker,
    action_content,
    load_policy,
)
from agent_os.trust import AgentIdentity, SignedMessage, TrustRegistry
from tests.buses import BusOpener
from tests.servers import Servers


async def test_benign_action_is_allowed_with_a_signed_verdict(governed: Governed) -> None:
    verdict = await governed.client.check("sql", {"query": "SELECT id FROM users LIMIT 5"})
    assert verdict.decision is Decision.ALLOW
    assert verdict.kernel_id == "kernel-1"
    assert verdict.request_id is not None
    assert verdict.policy == "t"


@pytest.mark.parametrize(
    ("action", "args", "rule_prefix"),
    [
        ("sql", {"query": "DROP TABLE users"}, "sql:"),
        ("shell_exec", {"command": "rm -rf /"}, ""),
        ("file_write", {"path": "/etc/passwd", "content": "x"}, "action:"),
        ("http_request", {"url": "https://evil.example.net/x"}, "net:"),
    ],
)
async def test_dangerous_actions_are_denied(
    governed: Governed, action: str, args: dict[str, str], rule_prefix: str
) -> None:
    verdict = await governed.client.check(action, args)
    assert verdict.decision is Decision.DENY
    assert verdict.code == "policy_violation"
    assert verdict.rule is not None and verdict.rule.startswith(rule_prefix)


async def test_every_decision_is_audited(governed: Governed) -> None:
    await governed.client.check("sql", {"query": "DROP TABLE users"})
    await governed.client.check("file_read", {"path": "/tmp/x"})
    decisions = [e.decision for e in governed.audit.events]
    assert decisions == ["deny", "allow"]
    assert all(e.agent_id == "agent-1" for e in governed.audit.events)


async def test_audit_events_are_published_on_the_bus(governed: Governed) -> None:
    seen: list[bytes] = []
    got = asyncio.Event()

    async def on_audit(d: Delivery) -> None:
        seen.append(d.envelope.body)
        got.set()

    await governed.bus.subscribe("agentos.v1.audit", on_audit)
    await governed.client.check("sql", {"query": "DROP TABLE users"})
    await asyncio.wait_for(got.wait(), 2)
    # Signed by the kernel that decided, numbered from 1 in its stream.
    kernels = TrustRegistry()
    kernels.pin(governed.kernel.public())
    batch = open_batch(seen[0], kernels)
    assert (batch.signer, batch.first) == ("kernel-1", 1)
    record = batch.events[0].to_dict()
    assert record["decision"] == "deny"
    assert "users" not in json.dumps(record)  # args are digested, never stored


async def test_unknown_agent_is_denied(governed: Governed) -> None:
    client = await governed.client_for(AgentIdentity.create("stranger", "not registered"))
    verdict = await client.check("file_read", {"path": "/tmp/x"})
    assert verdict.decision is Decision.DENY
    assert verdict.code == "unknown_agent"


async def test_revoked_agent_is_denied(governed: Governed) -> None:
    assert (await governed.client.check("file_read", {"path": "/x"})).allowed
    governed.registry.revoke("agent-1", "key leaked")
    verdict = await governed.client.check("file_read", {"path": "/x"})
    assert verdict.decision is Decision.DENY
    assert verdict.code == "revoked"


async def test_impersonation_with_own_key_is_denied(governed: Governed) -> None:
    # Same id as the registered agent, different key: the signature cannot match.
    client = await governed.client_for(AgentIdentity.create("agent-1", "impostor"))
    verdict = await client.check("file_read", {"path": "/x"})
    assert verdict.decision is Decision.DENY
    assert verdict.code == "bad_signature"


async def _raw_request(g: Governed, body: bytes | Envelope) -> Verdict:
    request = body if isinstance(body, Envelope) else Envelope(g.subject, body)
    reply = await g.bus.request(request, timeout=2.0)
    kernels = TrustRegistry()
    kernels.register(g.kernel.public())
    assert kernels.verify(reply.body).valid  # even a deny for garbage is signed
    return Verdict.from_dict(SignedMessage.from_bytes(reply.body).json())


async def test_tampered_request_is_denied(governed: Governed) -> None:
    request = await governed.fleet.request(action_content("file_read", {"path": "/a"}))
    body = bytearray(request.body)
    body[-3] ^= 0x01
    verdict = await _raw_request(governed, bytes(body))
    assert verdict.decision is Decision.DENY
    assert verdict.code in {"bad_signature", "malformed"}


async def test_replayed_request_is_denied(governed: Governed) -> None:
    request = await governed.fleet.request(action_content("file_read", {"path": "/a"}))
    first = await _raw_request(governed, request)
    second = await _raw_request(governed, request)
    assert first.decision is Decision.ALLOW
    assert second.decision is Decision.DENY
    assert second.code == "replay"


async def _dead_letters(g: Governed) -> tuple[list[Envelope], asyncio.Event]:
    letters: list[Envelope] = []
    got = asyncio.Event()

    async def on_dlq(d: Delivery) -> None:
        letters.append(d.envelope)
        got.set()
        await d.ack()

    await g.bus.subscribe(f"{g.subject}.dlq", on_dlq, group="dlq-reader")
    return letters, got


async def test_garbage_is_denied_and_dead_lettered(governed: Governed) -> None:
    letters, got = await _dead_letters(governed)
    reply = await governed.bus.request(Envelope(governed.subject, b"\x00not a request"), 2.0)
    message = SignedMessage.from_bytes(reply.body)
    assert Verdict.from_dict(message.json()).code == "malformed"
    await asyncio.wait_for(got.wait(), 2)
    assert letters[0].headers[ERROR_CODE_HEADER] == "malformed"
    assert letters[0].body == b"\x00not a request"  # nothing lost


async def test_oversized_request_is_denied_and_dead_lettered(governed: Governed) -> None:
    letters, got = await _dead_letters(governed)
    verdict = await governed.client.check("tool_call", {"blob": "x" * 200_000})
    assert verdict.decision is Decision.DENY
    await asyncio.wait_for(got.wait(), 2)
    assert letters[0].headers[ERROR_CODE_HEADER] == "payload_too_large"


async def test_unknown_policy_is_denied(governed: Governed) -> None:
    verdict = await governed.client.check("file_read", {"path": "/a"}, policy="nope")
    assert verdict.decision is Decision.DENY
    assert verdict.code == "unknown_policy"


async def test_no_kernel_listening_fails_closed(open_bus: BusOpener) -> None:
    bus = await open_bus("memory://")
    kernel = AgentIdentity.create("kernel-x")
    client = KernelClient(bus, AgentIdentity.create("a"), [kernel.public()], timeout=0.2)
    ran = False

    @governed_fn(client, action="file_read")
    def read(path: str) -> str:
        nonlocal ran
        ran = True
        return path

    with pytest.raises(PolicyViolation) as caught:
        await read("/etc/hosts")
    assert not ran
    assert caught.value.verdict.code in {"timeout", "no_responders"}


async def test_verdict_from_an_unpinned_kernel_is_refused(governed: Governed) -> None:
    # A rogue kernel on the same bus answers with its own (valid) signature.
    await governed.worker.shutdown()
    rogue = AgentIdentity.create("kernel-1", "rogue with the same id")
    await governed.fleet.start_worker(
        identity=rogue, registry=governed.registry, policies=load_policy("permissive")
    )
    ran = False

    @governed_fn(governed.client)
    def write() -> None:
        nonlocal ran
        ran = True

    with pytest.raises(PolicyViolation) as caught:
        await write()
    # Its verdict is dropped (and counted); no valid one comes, so the deadline denies.
    assert caught.value.verdict.code == "timeout"
    assert "1 invalid repl" in caught.value.verdict.reason
    assert governed.client.dropped["bad_signature"] == 1
    assert not ran


async def test_governed_runs_allowed_calls(governed: Governed) -> None:
    @governed_fn(governed.client, action="file_read")
    async def read(path: str) -> str:
        return f"read {path}"

    assert await read("/srv/README.md") == "read /srv/README.md"


async def test_worker_serves_after_bad_input(governed: Governed) -> None:
    for junk in (b"", b"AOSM1", b"{}", b"\xff" * 100):
        await governed.bus.request(Envelope(governed.subject, junk), 2.0)
    verdict = await governed.client.check("file_read", {"path": "/a"})
    assert verdict.decision is Decision.ALLOW


@pytest.mark.parametrize("forger", ["rogue_key", "agent_key", "unsigned"])
async def test_rogue_reply_before_the_worker_cannot_allow(governed: Governed, forger: str) -> None:
    """A process that can publish on reply subjects answers first with an allow."""
    rogue = AgentIdentity.create("kernel-1", "rogue")  # even claiming the kernel's id
    genuine_allow = (await governed.client.check("file_read", {"path": "/probe"})).to_dict()
    assert genuine_allow["decision"] == "allow"

    async def answer_first(d: Delivery) -> None:
        request = SignedMessage.from_bytes(d.envelope.body)
        allow = Verdict.from_dict({**genuine_allow, "request_id": request.id})
        if forger == "unsigned":
            body = json.dumps(allow.to_dict()).encode()
        else:
            signer = rogue if forger == "rogue_key" else governed.agent
            body = SignedMessage.create(signer, "agent-1", allow.to_dict()).to_bytes()
        await governed.bus.publish(d.envelope.reply(body))

    # The rogue sees requests on the action subject (fan-out) and races the worker.
    ran = False

    @governed_fn(governed.client, action="file_write")
    def write(path: str) -> None:
        nonlocal ran
        ran = True

    sub = await governed.bus.subscribe(governed.subject, answer_first)
    try:
        with pytest.raises(PolicyViolation):
            await write("/etc/cron.d/x")
    finally:
        await sub.unsubscribe()
    assert not ran


async def test_worker_metrics_count_policy_decisions(open_bus: BusOpener, servers: Servers) -> None:
    url = servers.bus_url("memory")
    wbus, abus = await open_bus(url), await open_bus(url)
    kernel, agent = AgentIdentity.create("kernel-m"), AgentIdentity.create("agent-m")
    registry = TrustRegistry()
    registry.register(agent)
    metrics = Metrics.private()
    worker = Worker(
        wbus, identity=kernel, registry=registry, policies=load_policy("strict"), metrics=metrics
    )
    async with worker:
        client = KernelClient(abus, agent, [kernel.public()], timeout=2.0)
        assert (await client.check("sql", {"query": "DROP TABLE t"})).decision is Decision.DENY
        assert (await client.check("file_read", {"path": "/a"})).decision is Decision.ALLOW
    text = metrics.exposition().decode()
    assert 'agent_os_sigkill_total{policy="strict"} 1.0' in text
    assert 'agent_os_violations_total{policy="strict",rule="sql:drop",signal="SIGKILL"} 1.0' in text
    assert "agent_os_policy_check_duration_seconds_count 2.0" in text
