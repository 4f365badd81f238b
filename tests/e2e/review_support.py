"""A governed setup with durable review: registry and keys on disk, a review store, workers.

Everything a separate process needs (the ``agent-os review`` CLI, the console,
a worker subprocess) is in files under one directory: the trust registry,
the kernel's, reviewers' and console's keys, the console's login tokens and
the SQLite review store.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent_os.adapters import KernelClient
from agent_os.bus import Bus, connect
from agent_os.kernel_worker import MemoryAuditLog, Worker, load_policy
from agent_os.observability import Metrics
from agent_os.review import (
    ON_BEHALF,
    ReviewItem,
    ReviewLimits,
    ReviewQueue,
    ReviewRules,
    SqliteReviewStore,
)
from agent_os.trust import AgentIdentity, FileTrustStore, TrustLevel, TrustRegistry
from tests.eventually import eventually

BIN = Path(sys.executable).parent
AGENT_OS = str(BIN / "agent-os")
#: deploy is held for review; everything else is allowed.
POLICY = {
    "name": "ops",
    "blocked_actions": [
        {"action": "deploy", "signal": "SIGSTOP", "reason": "deploys need a human"},
    ],
}
TOKEN = "alice-console-token-0123456789"


@dataclass
class ReviewSetup:
    """Files and identities of one governed, reviewed deployment."""

    root: Path
    kernel: AgentIdentity = field(default_factory=lambda: AgentIdentity.create("kernel-1"))
    console: AgentIdentity = field(
        default_factory=lambda: AgentIdentity.create("console-1", "console", [ON_BEHALF])
    )
    agent: AgentIdentity = field(default_factory=lambda: AgentIdentity.create("agent-1"))
    alice: AgentIdentity = field(default_factory=lambda: AgentIdentity.create("alice", "Alice"))
    bob: AgentIdentity = field(default_factory=lambda: AgentIdentity.create("bob", "Bob"))

    def __post_init__(self) -> None:
        registry = TrustRegistry(FileTrustStore(self.registry_file))
        registry.register(self.kernel, TrustLevel.KERNEL)
        registry.register(self.agent)
        for reviewer in (self.alice, self.bob, self.console):
            registry.register(reviewer, TrustLevel.REVIEWER)
        for who in (self.kernel, self.console, self.alice, self.bob):
            who.save(self.key(who.agent_id))
        self.token_file.write_text(f"alice {TOKEN}\n")
        self.token_file.chmod(0o600)
        SqliteReviewStore(self.store_file).close()

    @property
    def registry_file(self) -> Path:
        return self.root / "registry.json"

    @property
    def store_file(self) -> Path:
        return self.root / "review.db"

    @property
    def token_file(self) -> Path:
        return self.root / "tokens"

    def key(self, who: str) -> Path:
        return self.root / f"{who}.key"

    def registry(self) -> TrustRegistry:
        return TrustRegistry(FileTrustStore(self.registry_file, recheck=0.1))

    def queue(
        self,
        timeout: float = 600.0,
        rules: ReviewRules | None = None,
        limits: ReviewLimits | None = None,
    ) -> ReviewQueue:
        return ReviewQueue(
            SqliteReviewStore(self.store_file),
            registry=self.registry(),
            rules=rules or ReviewRules(timeout=timeout),
            poll=0.1,
            limits=limits,
        )

    async def worker(
        self,
        url: str,
        *,
        timeout: float = 600.0,
        rules: ReviewRules | None = None,
        publish_audit: bool = False,
        limits: ReviewLimits | None = None,
        metrics: Metrics | None = None,
    ) -> tuple[Worker, Bus]:
        bus = await connect(url)
        worker = Worker(
            bus,
            identity=self.kernel,
            registry=self.registry(),
            policies=load_policy(POLICY),
            audit=MemoryAuditLog(),
            # Kept in memory unless asked: no backlog left on the shared brokers' audit subject.
            publish_audit=publish_audit,
            review=self.queue(timeout, rules, limits),
            metrics=metrics,
        )
        await worker.start()
        return worker, bus

    async def client(self, url: str, **kw: Any) -> tuple[KernelClient, Bus]:
        bus = await connect(url)
        keys = [self.kernel.public(), self.console.public()]
        return KernelClient(bus, self.agent, keys, timeout=10.0, **kw), bus

    async def cli(self, *args: str, bus: str | None = None, key: str = "alice") -> dict[str, Any]:
        """Run ``agent-os review ARGS`` as a reviewer would; its parsed JSON output."""
        argv = [AGENT_OS, "review", *args, "--store", str(self.store_file)]
        if args[0] in ("approve", "deny"):
            argv += ["--registry", str(self.registry_file), "--key", str(self.key(key))]
        if bus is not None:
            argv += ["--bus", bus]
        # In a thread: the workers and desks of the test share this event loop.
        done = await asyncio.to_thread(
            subprocess.run,
            argv,
            capture_output=True,
            text=True,
            timeout=60,
            env=dict(os.environ),
            check=False,
        )
        if done.returncode != 0:
            raise AssertionError(f"agent-os review {args[0]} failed: {done.stderr or done.stdout}")
        return dict(json.loads(done.stdout.splitlines()[-1]))


async def held_item(setup: ReviewSetup, *, count: int = 1) -> list[ReviewItem]:
    """Wait until ``count`` items are pending in the store; they, oldest first."""
    with SqliteReviewStore(setup.store_file) as store:
        items: list[ReviewItem] = await eventually(
            lambda: asyncio.to_thread(lambda: (p := store.pending()) and len(p) >= count and p),
            30.0,
            "a held action",
        )
    return items


class Console:
    """``agent-os console`` in a subprocess, on a free loopback port."""

    def __init__(
        self,
        setup: ReviewSetup,
        bus_url: str | None,
        log: Path,
        auth_header: str | None = None,
        extra: tuple[str, ...] = (),
    ) -> None:
        from tests.servers import free_port

        self.setup = setup
        self.bus_url = bus_url
        self.port = free_port()
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.metrics_port = free_port()
        self.auth_header = auth_header
        self.extra = extra

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Console:
        argv = [
            AGENT_OS, "console",
            "--store", str(self.setup.store_file),
            "--registry", str(self.setup.registry_file),
            "--key", str(self.setup.key("console-1")),
            "--port", str(self.port),
            "--metrics-port", str(self.metrics_port),
        ]  # fmt: skip
        if self.auth_header is None:
            argv += ["--tokens", str(self.setup.token_file)]
        else:
            argv += ["--auth-header", self.auth_header]
        if self.bus_url is not None:
            argv += ["--bus", self.bus_url]
        argv += self.extra
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        from tests.servers import wait_until

        wait_until(self._answers, 30, "agent-os console")
        return self

    def metrics(self) -> str:
        """The console's ``/metrics`` page."""
        import urllib.request

        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            return str(response.read().decode())

    def _answers(self) -> bool:
        import urllib.error
        import urllib.request

        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"console exited: {self.log.read_text()}")
        try:
            urllib.request.urlopen(self.url + "/login", timeout=1)
        except urllib.error.HTTPError as exc:
            return exc.code == 401
        return True

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None
