"""moto's SQS server for the tests: ``moto_server -H 127.0.0.1 -p PORT``.

The binary comes with ``pip install moto flask flask-cors`` and sits next to
the interpreter (or on PATH). moto takes any credentials, so dummy ones are
put into the environment when none are set. Its state is in memory: a
restart loses every queue; :func:`reset` empties it between tests.
"""

from __future__ import annotations

import os
import shutil
import sys
import urllib.request
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from . import RunningServer, ServerStartError, env_url, free_port

#: Long polling of 1 s keeps unsubscribe/close and moto's redelivery checks quick.
TEST_WAIT_TIME = 1


def _moto_server() -> str:
    beside = Path(sys.executable).parent / "moto_server"
    if beside.exists():
        return str(beside)
    found = shutil.which("moto_server")
    if found is None:
        raise ServerStartError("moto_server not found: pip install moto flask flask-cors")
    return found


def _dummy_credentials() -> None:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")


def endpoint_of(url: str) -> str:
    """The HTTP endpoint named by an ``sqs://...?endpoint_url=`` bus URL."""
    endpoint = dict(parse_qsl(urlsplit(url).query)).get("endpoint_url")
    if not endpoint:
        raise ValueError(f"{url!r} has no endpoint_url")
    return endpoint


def _ready(endpoint: str) -> bool:
    with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1) as resp:
        return bool(resp.status == 200)


def reset(url: str) -> None:
    """Delete every queue on the moto server behind ``url`` (POST /moto-api/reset)."""
    req = urllib.request.Request(f"{endpoint_of(url)}/moto-api/reset", method="POST")
    with urllib.request.urlopen(req, timeout=5):
        pass


def start(workdir: Path) -> RunningServer:
    """Start moto on a free loopback port, or use ``AGENT_OS_TEST_SQS_URL``."""
    _dummy_credentials()
    external = env_url("sqs")
    if external:
        return RunningServer(name="sqs", url=external, external=True)
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    server = RunningServer(
        name="sqs",
        url=f"sqs://us-east-1/agentos?endpoint_url={endpoint}&wait_time={TEST_WAIT_TIME}",
        argv=[_moto_server(), "-H", "127.0.0.1", "-p", str(port)],
        workdir=workdir,
        ready=lambda: _ready(endpoint),
    )
    return server.start()
