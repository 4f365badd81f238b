"""Webhook notices of new held actions, against a real local HTTP server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from agent_os.bus import new_id
from agent_os.review import ReviewQueue, SqliteReviewStore, Webhook
from agent_os.trust import TrustRegistry
from tests.servers import free_port
from tests.unit.review.review_cases import held

HELD = held()


class Receiver:
    """An HTTP endpoint that fails the first ``failures`` posts, or holds each until released."""

    def __init__(self, failures: int = 0, hold: bool = False) -> None:
        self.failures = failures
        self.posts: list[dict[str, Any]] = []
        self.release = threading.Event()
        if not hold:
            self.release.set()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.posts.append(json.loads(body))
                receiver.release.wait(10)
                failed = len(receiver.posts) <= receiver.failures
                self.send_response(500 if failed else 200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def queue_factory(tmp_path: Path) -> Iterator[Any]:
    stores: list[SqliteReviewStore] = []

    def make(webhook: Webhook) -> ReviewQueue:
        store = SqliteReviewStore(tmp_path / f"{new_id()}.db")
        stores.append(store)
        return ReviewQueue(store, registry=TrustRegistry(), webhook=webhook)

    yield make
    for store in stores:
        store.close()


def _action() -> dict[str, Any]:
    return {
        "agent_id": "agent-1",
        "action": "deploy",
        "args": {"target": "prod", "token": "sk-live-abcdef0123456789"},
        "request_id": new_id(),
    }


async def test_retried_with_backoff_until_delivered(queue_factory: Any) -> None:
    receiver = Receiver(failures=2)
    try:
        hook = Webhook(receiver.url, backoff=0.01, console_url="https://review.example")
        item = await queue_factory(hook).hold(_action(), HELD)
        await hook.drain()
        assert (hook.delivered, hook.failed, len(receiver.posts)) == (1, 0, 3)
        payload = receiver.posts[-1]
        assert "deploy" in payload["text"] and item.ticket in payload["text"]
        assert payload["blocks"][0]["type"] == "section"
        assert f"https://review.example/item/{item.ticket}" in json.dumps(payload["blocks"])
        assert "sk-live" not in json.dumps(payload)  # arguments are the redacted ones
    finally:
        receiver.close()


async def test_a_hanging_webhook_never_delays_the_review(queue_factory: Any) -> None:
    receiver = Receiver(hold=True)
    try:
        hook = Webhook(receiver.url, backoff=0.01, timeout=5)
        item = await queue_factory(hook).hold(_action(), HELD)
        # hold returned with the item recorded while the webhook is still stuck in its
        # first request (the receiver answers only once released).
        assert item.ticket and not receiver.release.is_set() and len(receiver.posts) <= 1
        receiver.release.set()
        await hook.drain()
        assert hook.delivered == 1
    finally:
        receiver.close()


async def test_a_dead_webhook_is_given_up_on(queue_factory: Any) -> None:
    hook = Webhook(f"http://127.0.0.1:{free_port()}/nobody", attempts=3, backoff=0.01)
    item = await queue_factory(hook).hold(_action(), HELD)
    await hook.drain()
    assert item.ticket and (hook.delivered, hook.failed) == (0, 1)


def test_webhook_must_be_http() -> None:
    with pytest.raises(ValueError):
        Webhook("file:///etc/passwd")
