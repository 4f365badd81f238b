"""Faults on the governed path: SIGTERM mid-flight, a slow consumer, an unreachable
kernel, and a broker restart. In every case each request ends in a verdict or a
fail-closed deny, and nothing runs without an allowing verdict.
"""

from __future__ import annotations

import asyncio
import gc
import os
import resource
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from e2e_support import read_lines

from agent_os.adapters import KernelClient, governed
from agent_os.bus import Bus, BusError, SubscribeOptions, connect, new_id
from agent_os.kernel_worker import (
    Decision,
    PolicyViolation,
    ReviewOutcome,
    ReviewRequest,
    Worker,
    action_request,
    load_policy,
)
from agent_os.trust import AgentIdentity, FileTrustStore, TrustRegistry
from tests.eventually import eventually
from tests.servers import RunningServer, Servers, free_port

HERE = Path(__file__).parent
HOLD_POLICY = {"name": "hold", "blocked_actions": [{"action": "file_read", "signal": "SIGSTOP"}]}
#: Codes a request may end with while the broker is away (bus errors, the worker's
#: "expired" for a request it got past its deadline). A "bad_verdict" or
#: "internal_error" here would be a bug, not an outage.
OUTAGE_CODES = {"timeout", "no_responders", "bus_unavailable", "bus_error", "expired"}


def _private_server(backend: str, workdir: Path) -> RunningServer:
    """A broker this test may stop and restart without disturbing the session's."""
    module = {"nats": "tests.servers.nats", "redis": "tests.servers.redis"}[backend]
    server: RunningServer = __import__(module, fromlist=["start"]).start(workdir)
    if server.external:
        pytest.skip(f"{backend} is external ({server.url}); cannot stop it here")
    return server


@pytest.fixture(params=["nats", "redis"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# -- SIGTERM with requests in flight ---------------------------------------------------------


async def test_sigterm_answers_in_flight_requests_before_exit(
    backend: str, servers: Servers, tmp_path: Path
) -> None:
    url = servers.bus_url(backend)
    kernel, agent = AgentIdentity.create("kernel-slow"), AgentIdentity.create("agent-slow")
    kernel.save(tmp_path / "kernel.key")
    TrustRegistry(FileTrustStore(tmp_path / "reg.json")).register(agent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(HERE / "slow_worker.py"), url, str(tmp_path / "kernel.key"),
        str(tmp_path / "reg.json"), "1.0", stdout=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    bus = await connect(url)
    try:
        await asyncio.wait_for(read_lines(proc, "ready", 1), 60)
        client = KernelClient(bus, agent, [kernel.public()], timeout=30)
        n = 5
        pending = [
            asyncio.ensure_future(client.check("file_read", {"path": f"/d/{i}"})) for i in range(n)
        ]
        await asyncio.wait_for(read_lines(proc, "held", n), 30)
        proc.send_signal(signal.SIGTERM)  # every request is mid-review now
        verdicts = await asyncio.wait_for(asyncio.gather(*pending), 30)
        assert {(v.decision, v.code) for v in verdicts} == {(Decision.ALLOW, "review_approved")}
        assert {v.kernel_id for v in verdicts} == {"kernel-slow"}
        await asyncio.wait_for(read_lines(proc, "stopped", 1), 30)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await bus.close()


# -- a slow consumer under a flood -------------------------------------------------------------


def _rss_kib() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)


class Gate:
    """Holds every review until opened; records how many were held at once."""

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.held = 0
        self.max_held = 0

    async def review(self, request: ReviewRequest) -> ReviewOutcome:
        self.held += 1
        self.max_held = max(self.max_held, self.held)
        try:
            await self.open.wait()
        finally:
            self.held -= 1
        return ReviewOutcome.APPROVED


@pytest.mark.soak
async def test_slow_consumer_keeps_in_flight_work_bounded() -> None:
    """A flood at a worker that cannot keep up: the backlog waits in the broker, while the
    worker holds at most ``concurrency`` requests and a bounded number of tasks."""
    total = int(os.environ.get("AGENT_OS_SOAK_REQUESTS", "10000"))
    concurrency = 64
    url = f"memory://{new_id()}"
    worker_bus, agent_bus = await connect(url), await connect(url)
    kernel, agent = AgentIdentity.create("kernel-flood"), AgentIdentity.create("agent-flood")
    registry = TrustRegistry()
    registry.register(agent)
    gate = Gate()
    worker = Worker(
        worker_bus, identity=kernel, registry=registry, policies=load_policy(HOLD_POLICY),
        approver=gate, options=SubscribeOptions(concurrency=concurrency), publish_audit=False,
    )  # fmt: skip
    try:
        await worker.start()
        requests = [
            await action_request(
                agent_bus, agent, {"action": "file_read", "args": {"path": f"/f/{i}"}}, timeout=600
            )
            for i in range(total)
        ]
        gc.collect()
        tasks_before, rss_before = len(asyncio.all_tasks()), _rss_kib()
        for request in requests:  # published, not asked: nobody waits for the verdicts
            await agent_bus.publish(request)
        await eventually(lambda: gate.held >= concurrency, 30.0, f"{concurrency} reviews started")
        tasks_flooded, rss_flooded = len(asyncio.all_tasks()), _rss_kib()
        assert gate.max_held == concurrency
        assert tasks_flooded - tasks_before <= concurrency + 8
        gate.open.set()
        await eventually(lambda: worker.verdicts >= total, 150.0, f"all {total} answered")
        assert gate.max_held == concurrency
        assert len(worker._answered) <= 10_000
        growth = max(rss_flooded, _rss_kib()) - rss_before
        # The backlog lives in the (in-process) broker: a few hundred bytes of envelope
        # each. Anything near a task or a buffer per message would be far above this.
        assert growth <= total * 3, f"RSS grew {growth} KiB for {total} requests"
        print(
            f"\nflood {total}: tasks +{tasks_flooded - tasks_before}, max in flight "
            f"{gate.max_held}, RSS +{growth} KiB ({growth * 1024 / total:.0f} B/request), "
            f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss} KiB"
        )
    finally:
        gate.open.set()
        await worker.shutdown()
        await agent_bus.close()
        await worker_bus.close()


# -- the kernel cannot be reached --------------------------------------------------------------


async def _governed_deny(bus: Bus, timeout: float) -> tuple[PolicyViolation, float, list[str]]:
    """Call a governed function with no reachable kernel; return the violation and time."""
    ran: list[str] = []
    client = KernelClient(
        bus, AgentIdentity.create("agent-alone"), [AgentIdentity.create("k").public()],
        timeout=timeout,
    )  # fmt: skip

    @governed(client, action="file_read")
    def read(path: str) -> str:
        ran.append(path)
        return "contents"

    started = time.monotonic()
    with pytest.raises(PolicyViolation) as caught:
        await read("/etc/hosts")
    return caught.value, time.monotonic() - started, ran


async def test_no_kernel_listening_is_a_deny_within_the_deadline(
    backend: str, servers: Servers
) -> None:
    bus = await connect(servers.bus_url(backend))
    try:
        violation, elapsed, ran = await _governed_deny(bus, timeout=1.0)
    finally:
        await bus.close()
    assert ran == []
    assert violation.verdict.decision is Decision.DENY
    assert elapsed <= 1.5, elapsed


async def test_broker_gone_is_a_deny_within_the_deadline(backend: str, tmp_path: Path) -> None:
    server = _private_server(backend, tmp_path)
    try:
        bus = await connect(server.url)
        try:
            await asyncio.to_thread(server.stop)
            violation, elapsed, ran = await _governed_deny(bus, timeout=1.0)
        finally:
            await bus.close()  # closing with the server gone must not raise either
    finally:
        server.stop()
    assert ran == []
    assert violation.verdict.decision is Decision.DENY
    assert elapsed <= 1.5, elapsed


async def test_bus_url_at_a_closed_port_fails_fast(backend: str) -> None:
    started = time.monotonic()
    with pytest.raises(BusError) as caught:
        bus = await connect(f"{backend}://127.0.0.1:{free_port()}")
        await bus.close()
    assert caught.value.retryable
    assert time.monotonic() - started < 10


# -- the broker restarts mid-stream ------------------------------------------------------------


@pytest.fixture
async def restartable(backend: str, tmp_path: Path) -> AsyncIterator[RunningServer]:
    server = _private_server(backend, tmp_path)
    yield server
    server.stop()


async def test_broker_restart_mid_stream(restartable: RunningServer) -> None:
    url = restartable.url
    kernel, agent = AgentIdentity.create("kernel-rs"), AgentIdentity.create("agent-rs")
    registry = TrustRegistry()
    registry.register(agent)
    worker_bus, agent_bus = await connect(url), await connect(url)
    worker = Worker(
        worker_bus, identity=kernel, registry=registry, policies=load_policy("strict"),
        options=SubscribeOptions(ack_wait=2.0),
    )  # fmt: skip
    await worker.start()
    client = KernelClient(agent_bus, agent, [kernel.public()], timeout=2.0)
    ran: list[int] = []

    @governed(client, action="file_read")
    def read(i: int) -> int:
        ran.append(i)
        return i

    outcomes: list[tuple[float, str]] = []  # (time, "allow" or the deny code)
    stop = asyncio.Event()

    async def stream(lane: int) -> None:
        i = 0
        while not stop.is_set():
            i += 1
            try:
                await read(lane * 1_000_000 + i)
                outcomes.append((time.monotonic(), "allow"))
            except PolicyViolation as exc:
                assert exc.verdict.decision is Decision.DENY
                outcomes.append((time.monotonic(), exc.verdict.code))
            await asyncio.sleep(0.01)

    lanes = [asyncio.ensure_future(stream(n)) for n in range(3)]
    try:
        await eventually(
            lambda: sum(o == "allow" for _, o in outcomes) >= 20,
            10.0,
            "a steady stream of allows before the restart",
        )
        await asyncio.to_thread(restartable.restart)
        restarted = time.monotonic()

        # Requests after the restart must succeed again: 20 allows in a row, in time.
        def recovered() -> bool:
            tail = [o for t, o in outcomes if t > restarted][-20:]
            return len(tail) == 20 and set(tail) == {"allow"}

        await eventually(recovered, 30.0, "20 allows in a row after the restart")
    finally:
        stop.set()
        await asyncio.gather(*lanes, return_exceptions=True)
        await worker.shutdown()
        await agent_bus.close()
        await worker_bus.close()
    counts = Counter(o for _, o in outcomes)
    assert set(counts) - {"allow"} <= OUTAGE_CODES, counts
    # Every call ended in an allow or a deny, and the function ran exactly once per allow.
    assert len(ran) == counts["allow"] == len(set(ran))
    print(f"\nrestart of {restartable.name}: {dict(counts)}")
