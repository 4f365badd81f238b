"""The Redis backend's command pipelining, against a real server."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from agent_os.bus.backends._redis_batch import CommandBatcher

_ROOT = Path(__file__).resolve().parents[3]
if str(_ROOT) not in sys.path:  # so ``tests.servers`` imports without an installed ``tests``
    sys.path.insert(0, str(_ROOT))

from tests.servers import RunningServer  # noqa: E402
from tests.servers import redis as redis_server  # noqa: E402


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = redis_server.start(tmp_path_factory.mktemp("redis"))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
async def client(server: RunningServer) -> AsyncIterator[aioredis.Redis]:
    redis = aioredis.from_url(server.url)
    try:
        yield redis
    finally:
        await redis.aclose()


async def test_concurrent_commands_share_round_trips_and_keep_their_order(
    client: aioredis.Redis,
) -> None:
    batcher = CommandBatcher(client)
    key = f"t:{uuid.uuid4().hex}"
    results = await asyncio.gather(*(batcher.execute("RPUSH", key, str(i)) for i in range(300)))
    # RPUSH answers the list's new length: issue order is execution order.
    assert results == list(range(1, 301))
    assert await client.lrange(key, 0, -1) == [str(i).encode() for i in range(300)]
    assert batcher.round_trips < 30  # one alone, then pipelines of what queued meanwhile


async def test_a_lone_command_goes_out_at_once(client: aioredis.Redis) -> None:
    batcher = CommandBatcher(client)
    key = f"t:{uuid.uuid4().hex}"
    assert await batcher.execute("SET", key, "v") is True
    assert await batcher.execute("GET", key) == b"v"
    assert batcher.round_trips == 2


async def test_a_failing_command_fails_only_its_caller(client: aioredis.Redis) -> None:
    batcher = CommandBatcher(client)
    key = f"t:{uuid.uuid4().hex}"
    await client.set(key, "not a list")
    ok = f"t:{uuid.uuid4().hex}"
    results = await asyncio.gather(
        batcher.execute("INCR", ok),
        batcher.execute("RPUSH", key, "x"),  # WRONGTYPE, inside a pipeline
        batcher.execute("INCR", ok),
        batcher.execute("LPUSH", key, "y"),
        return_exceptions=True,
    )
    assert results[0] == 1 and results[2] == 2
    assert isinstance(results[1], ResponseError) and "WRONGTYPE" in str(results[1])
    assert isinstance(results[3], ResponseError)
    with pytest.raises(ResponseError):  # alone, too
        await batcher.execute("RPUSH", key, "z")


async def test_a_cancelled_caller_does_not_disturb_the_others(client: aioredis.Redis) -> None:
    batcher = CommandBatcher(client)
    key = f"t:{uuid.uuid4().hex}"
    first = asyncio.ensure_future(batcher.execute("INCR", key))
    queued = [asyncio.ensure_future(batcher.execute("INCR", key)) for _ in range(5)]
    await asyncio.sleep(0)
    queued[2].cancel()
    assert await first == 1
    done = await asyncio.gather(*queued, return_exceptions=True)
    assert isinstance(done[2], asyncio.CancelledError)
    assert [d for i, d in enumerate(done) if i != 2] == [2, 3, 4, 5]
    assert await client.get(key) == b"5"  # the cancelled command never ran


async def test_lost_connection_fails_the_batch_and_later_commands_recover(
    tmp_path: Path,
) -> None:
    running = redis_server.start(tmp_path)
    redis = aioredis.from_url(running.url)
    batcher = CommandBatcher(redis)
    try:
        await batcher.execute("PING")
        running.stop()
        results = await asyncio.gather(
            *(batcher.execute("INCR", "k") for _ in range(5)), return_exceptions=True
        )
        assert all(isinstance(r, Exception) for r in results)
        assert not batcher._busy  # nothing stays stuck behind the failure
    finally:
        await redis.aclose()
