"""Kernel workers and agents on a real broker, as a deployment runs them.

Each :class:`Fleet` has its own action subject, worker group and control
subject, so tests sharing one server never see each other's traffic.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent_os.adapters import KernelClient
from agent_os.bus import Bus, Envelope, Handler, SubscribeOptions, connect
from agent_os.kernel_worker import (
    KERNEL_RECIPIENT,
    Verdict,
    Worker,
    action_request,
    load_policy,
)
from agent_os.trust import AgentIdentity, FileTrustStore, SignedMessage, TrustRegistry


@dataclass
class Fleet:
    """Workers sharing one action subject and group on ``url``; one agent's bus."""

    url: str
    stack: AsyncExitStack
    registry_file: Path
    agent: AgentIdentity
    kernel: AgentIdentity
    subject: str = field(default_factory=lambda: f"agentos.v1.action.t{uuid.uuid4().hex[:10]}")
    group: str = field(default_factory=lambda: f"kernel-{uuid.uuid4().hex[:8]}")
    control: str = field(default_factory=lambda: f"agentos.v1.control.t{uuid.uuid4().hex[:8]}")
    workers: list[Worker] = field(default_factory=list)
    bus: Bus | None = None

    async def connect(self) -> Bus:
        """A new connection to the fleet's broker, closed with the fleet."""
        bus = await connect(self.url)
        self.stack.push_async_callback(bus.close)
        return bus

    async def agent_bus(self) -> Bus:
        if self.bus is None:
            self.bus = await self.connect()
        return self.bus

    async def overhear(self, bus: Bus, handler: Handler, backend: str) -> None:
        """``handler`` reads every request on the action subject beside the workers, as a
        rogue would: fan-out, on Kafka in a consumer group of its own. (On SQS reading a
        queue hides the message from the workers: a rogue there is tapped in instead.)"""
        group = f"rogue-{uuid.uuid4().hex}" if backend == "kafka" else None
        await bus.subscribe(self.subject, handler, group=group)

    async def start_worker(self, *, factory: type[Worker] = Worker, **kwargs: Any) -> Worker:
        """One more worker in the group, on its own connection (a replica)."""
        bus = await self.connect()
        kwargs.setdefault("options", SubscribeOptions(ack_wait=2.0, max_deliver=5))
        kwargs.setdefault("policies", load_policy("strict"))
        kwargs.setdefault("registry", TrustRegistry(FileTrustStore(self.registry_file)))
        kwargs.setdefault("publish_audit", False)
        worker = factory(
            bus,
            identity=kwargs.pop("identity", self.kernel),
            subject=self.subject,
            group=self.group,
            control_subject=self.control,
            **kwargs,
        )
        await worker.start()
        self.stack.push_async_callback(worker.shutdown)
        self.workers.append(worker)
        return worker

    async def client(
        self, timeout: float = 10.0, *, agent: AgentIdentity | None = None, **kwargs: Any
    ) -> KernelClient:
        """A client of the fleet's subject for ``agent`` (default: the fleet's agent)."""
        return KernelClient(
            await self.agent_bus(),
            agent or self.agent,
            [self.kernel.public()],
            subject=self.subject,
            timeout=timeout,
            **kwargs,
        )

    def signed(self, content: bytes | dict[str, Any], **kwargs: Any) -> bytes:
        """The wire bytes of a request from the fleet's agent with ``content``, as given.

        It signs no reply subject: workers deny it ``reply_unbound`` once its
        content parses (:meth:`request` builds one they serve).
        """
        ct = "application/json" if isinstance(content, bytes) else None
        return SignedMessage.create(
            self.agent, KERNEL_RECIPIENT, content, content_type=ct, **kwargs
        ).to_bytes()

    async def request(self, content: dict[str, Any], timeout: float = 10.0) -> Envelope:
        """A request from the fleet's agent with ``content``, its reply subject signed."""
        bus = await self.agent_bus()
        return await action_request(bus, self.agent, content, timeout=timeout, subject=self.subject)

    async def send_raw(self, body: bytes | Envelope, timeout: float = 10.0) -> Verdict:
        """Send ``body`` (or the request :meth:`request` built) and read the verdict,
        checking its signature. Sending the same request again replays it."""
        bus = await self.agent_bus()
        request = (
            body
            if isinstance(body, Envelope)
            else Envelope(self.subject, body, deadline=time.time() + timeout)
        )
        reply = await bus.request(request, timeout)
        message = SignedMessage.from_bytes(reply.body)
        kernels = TrustRegistry()
        kernels.pin(self.kernel.public())
        assert kernels.verify(message, expected_recipient=self.agent.agent_id).valid
        return Verdict.from_dict(message.json())


@asynccontextmanager
async def fleet(
    url: str, tmp_path: Path, *, agent_id: str = "agent-fleet", kernel_id: str = "kernel-fleet"
) -> AsyncIterator[Fleet]:
    """A fleet with a registry file holding one registered agent; no workers yet."""
    agent = AgentIdentity.create(agent_id, "agent", ["web"])
    kernel = AgentIdentity.create(kernel_id, "kernel")
    registry_file = tmp_path / f"registry-{uuid.uuid4().hex[:6]}.json"
    TrustRegistry(FileTrustStore(registry_file)).register(agent)
    async with AsyncExitStack() as stack:
        yield Fleet(url, stack, registry_file, agent, kernel)


BIN = Path(sys.executable).parent


async def cli_worker(
    url: str, key: Path, registry: Path, *, env: dict[str, str] | None = None, **flags: str
) -> tuple[asyncio.subprocess.Process, list[str]]:
    """Start ``agent-os worker`` as a deployment does; return it once it consumes, with its log.

    ``flags`` become ``--name value`` options (e.g. ``policy="strict"``).
    """
    args = [str(BIN / "agent-os"), "worker", "--bus", url, "--key", str(key)]
    args += ["--registry", str(registry)]
    for name, value in flags.items():
        args += [f"--{name}", value]
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AGENT_OS_")}
    proc = await asyncio.create_subprocess_exec(
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**clean, **(env or {})},
    )
    assert proc.stdout is not None
    lines: list[str] = []
    while True:
        raw = await asyncio.wait_for(proc.stdout.readline(), 60)
        if not raw:
            await proc.wait()
            raise AssertionError(f"worker exited with {proc.returncode}: {lines}")
        lines.append(raw.decode().rstrip())
        if " consuming " in lines[-1]:
            # Keep reading, so a chatty worker never blocks on a full pipe.
            _DRAINS.add(asyncio.ensure_future(_drain(proc.stdout, lines)))
            return proc, lines


_DRAINS: set[asyncio.Future[None]] = set()


async def refused_worker(url: str, key: Path, registry: Path) -> str:
    """Start ``agent-os worker`` as a deployment does, expecting it to refuse; its output."""
    args = ["worker", "--bus", url, "--key", str(key), "--registry", str(registry)]
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AGENT_OS_")}
    proc = await asyncio.create_subprocess_exec(
        str(BIN / "agent-os"), *args, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT, env=clean,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1, out
    return out.decode()


async def _drain(stream: asyncio.StreamReader, lines: list[str]) -> None:
    while raw := await stream.readline():
        lines.append(raw.decode().rstrip())


async def stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()
