"""Real broker servers for the tests, started on free loopback ports.

Each module here (``nats``, ``redis``, ``kafka``, ``sqs``) exposes
``start(workdir: pathlib.Path) -> RunningServer``. When the environment names
a server (``AGENT_OS_TEST_<NAME>_URL``) that one is used instead and
``restart``/``stop`` are refused with ``pytest.skip``-free errors the caller
handles. A server that cannot start raises ``ServerStartError``: in CI that
is a failure, never a skip.
"""

from __future__ import annotations

import importlib
import os
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ServerStartError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def env_url(name: str) -> str | None:
    return os.environ.get(f"AGENT_OS_TEST_{name.upper()}_URL") or None


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception as exc:  # readiness probes fail until the server is up
            last = exc
        time.sleep(0.02)
    raise ServerStartError(f"{what} not ready after {timeout}s (last error: {last!r})")


@dataclass
class RunningServer:
    """A server process the tests own (or an external one named by URL)."""

    name: str
    url: str
    argv: list[str] = field(default_factory=list)
    workdir: Path | None = None
    ready: Callable[[], bool] | None = None
    ready_timeout: float = 20.0
    proc: subprocess.Popen[bytes] | None = None
    external: bool = False

    def start(self) -> RunningServer:
        if self.external:
            return self
        assert self.workdir is not None
        # The child inherits the descriptor; the parent's copy closes at once
        # (an unclosed handle is a ResourceWarning, and warnings are errors).
        with open(self.workdir / f"{self.name}.log", "ab") as log:
            self.proc = subprocess.Popen(
                self.argv, stdout=log, stderr=subprocess.STDOUT, **self.popen_options()
            )
        if self.ready is not None:
            try:
                wait_until(self._probe, self.ready_timeout, self.name)
            except ServerStartError:
                self.stop()
                raise
        return self

    def popen_options(self) -> dict[str, Any]:
        """Extra ``subprocess.Popen`` arguments (a subclass may run as another user)."""
        return {"cwd": self.workdir}

    def _probe(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise ServerStartError(f"{self.name} exited with {self.proc.returncode}")
        assert self.ready is not None
        return self.ready()

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL)."""
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None

    def restart(self) -> None:
        """Stop and start again on the same port (for reconnect tests)."""
        if self.external:
            raise RuntimeError(f"{self.name} is external ({self.url}); cannot restart it")
        self.stop()
        self.start()


ALL_BACKENDS = ("memory", "nats", "redis", "kafka", "sqs")
DURABLE_BACKENDS = ("nats", "redis", "kafka", "sqs")
#: Query options that keep each backend quick in tests. Kafka: a group join takes
#: about half of ``session_timeout_ms`` on Tansu, so 2000/300 keeps joins near 1 s.
TEST_QUERY = {"kafka": "session_timeout_ms=2000&heartbeat_interval_ms=300"}


def selected_backends(among: tuple[str, ...] = ALL_BACKENDS) -> list[str]:
    """Backends named by ``AGENT_OS_TEST_BACKENDS`` (default: all), in ``among``."""
    raw = os.environ.get("AGENT_OS_TEST_BACKENDS", "")
    names = [n.strip() for n in raw.split(",") if n.strip()] or list(ALL_BACKENDS)
    unknown = sorted(set(names) - set(ALL_BACKENDS))
    if unknown:
        raise ValueError(
            f"AGENT_OS_TEST_BACKENDS names unknown backends {unknown}; valid: {ALL_BACKENDS}"
        )
    return [n for n in names if n in among]


class Servers:
    """Starts each backend's server once per session, on a free port."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._running: dict[str, RunningServer] = {}

    def get(self, backend: str) -> RunningServer:
        if backend not in self._running:
            try:
                module = importlib.import_module(f"tests.servers.{backend}")
            except ModuleNotFoundError as exc:
                if exc.name != f"tests.servers.{backend}":
                    raise
                raise ServerStartError(
                    f"no test server for {backend!r}: tests/servers/{backend}.py is missing"
                ) from exc
            workdir = self._root / backend
            workdir.mkdir(parents=True, exist_ok=True)
            # A server that cannot start raises: a failure, never a skip.
            self._running[backend] = module.start(workdir)
        return self._running[backend]

    def bus_url(self, backend: str) -> str:
        """A bus URL on the session server of ``backend`` (started on first use), with TEST_QUERY.

        ``memory`` has no server: each call names a fresh in-process broker,
        which every ``connect`` to that same URL shares (like two processes on
        one broker).
        """
        if backend == "memory":
            return f"memory://t{uuid.uuid4().hex[:16]}"
        url = self.get(backend).url
        query = TEST_QUERY.get(backend)
        if query is not None:
            url += ("&" if "?" in url else "?") + query
        return url

    def stop_all(self) -> None:
        for running in self._running.values():
            running.stop()
        self._running.clear()
