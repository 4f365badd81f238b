"""Refused credentials are the same error on every backend: ConfigError "bus_auth", not retryable.

Real servers that demand credentials (started here, apart from the shared
fixtures): retrying with the same credentials cannot help, so a supervisor
must not treat it as an outage (``ConnectError`` is retryable).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent_os.bus import ConfigError, connect
from agent_os.bus.backends._options import redacted
from tests.servers import RunningServer, free_port
from tests.servers import nats as nats_server
from tests.servers.redis import redis_server_binary

PASSWORD = "s3cret-pass"


def _answers(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True


@pytest.fixture
def redis_with_password(tmp_path: Path) -> Iterator[int]:
    port = free_port()
    argv = [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    argv += ["--appendonly", "no", "--dir", str(tmp_path), "--requirepass", PASSWORD]
    server = RunningServer("redis-auth", "", argv, tmp_path, lambda: _answers(port)).start()
    try:
        yield port
    finally:
        server.stop()


@pytest.fixture
def nats_with_password(tmp_path: Path) -> Iterator[int]:
    port = free_port()
    argv = [str(nats_server.binary()), "-a", "127.0.0.1", "-p", str(port)]
    argv += ["--user", "agent", "--pass", PASSWORD]
    server = RunningServer("nats-auth", "", argv, tmp_path, lambda: _answers(port)).start()
    try:
        yield port
    finally:
        server.stop()


@pytest.mark.parametrize("auth", ["", ":wrong@", "default:wrong@"])
async def test_redis_refusing_the_credentials_is_bus_auth(
    redis_with_password: int, auth: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        await connect(f"redis://{auth}127.0.0.1:{redis_with_password}/0")
    assert (refused.value.code, refused.value.retryable) == ("bus_auth", False)
    assert "wrong" not in str(refused.value)  # the error never shows the password
    bus = await connect(f"redis://:{PASSWORD}@127.0.0.1:{redis_with_password}/0")
    await bus.close()


@pytest.mark.parametrize("auth", ["", "agent:wrong@"])
async def test_nats_refusing_the_credentials_is_bus_auth(
    nats_with_password: int, auth: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        await connect(f"nats://{auth}127.0.0.1:{nats_with_password}", connect_attempts=1)
    assert (refused.value.code, refused.value.retryable) == ("bus_auth", False)
    assert "wrong" not in str(refused.value)
    bus = await connect(f"nats://agent:{PASSWORD}@127.0.0.1:{nats_with_password}")
    await bus.close()


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("nats://agent:pw@h1:4222,h2:4222", "nats://agent:***@h1:4222,h2:4222"),
        ("nats://TOKEN@h:4222", "nats://***@h:4222"),
        ("redis://:pw@127.0.0.1:6379/0?db=1", "redis://:***@127.0.0.1:6379/0?db=1"),
        ("nats://h?token=abc&name=x", "nats://h?token=***&name=x"),
        ("kafka://k1,k2:9093?acks=all", "kafka://k1,k2:9093?acks=all"),
    ],
)
def test_errors_and_logs_show_a_url_without_its_secrets(url: str, shown: str) -> None:
    assert redacted(url) == shown
