"""Tell people that an action waits for review: a webhook per new item.

The payload is Slack-compatible (``text`` plus ``blocks``), so a Slack
incoming-webhook URL works as is, and any other receiver gets plain JSON with
the item under ``item``. Delivery runs in the background with exponential
backoff; a webhook that fails or hangs is logged and given up on, and never
delays or changes a review.
"""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.request
from typing import Any

from ._item import ReviewItem

__all__ = ["Webhook", "slack_payload"]

log = logging.getLogger("agent_os.review")


def slack_payload(item: ReviewItem, console_url: str | None = None) -> dict[str, Any]:
    """The JSON posted for ``item`` (arguments already redacted)."""
    what = item.action + (f" / {item.tool}" if item.tool else "")
    link = f"{console_url.rstrip('/')}/item/{item.ticket}" if console_url else None
    text = (
        f"Action held for review: {what} by {item.agent_id} "
        f"(rule {item.rule or '-'}: {item.reason}); ticket {item.ticket}"
    )
    fields = [
        {"type": "mrkdwn", "text": f"*Agent*\n{item.agent_id}"},
        {"type": "mrkdwn", "text": f"*Action*\n{what}"},
        {"type": "mrkdwn", "text": f"*Rule*\n{item.rule or '-'}"},
        {"type": "mrkdwn", "text": f"*Approvals needed*\n{item.approvals}"},
    ]
    blocks: list[dict[str, Any]] = [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"*Held for review:* {item.reason}"},
        },
        {"type": "section", "fields": fields},
    ]
    if link:
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": f"<{link}|Review it>"}}
        )
    return {"text": text, "blocks": blocks, "item": item.to_dict()}


class Webhook:
    """POST :func:`slack_payload` to ``url`` for each new item, in the background.

    ``attempts`` tries with ``backoff``, ``2*backoff``, ... seconds between
    them, each bounded by ``timeout``.
    """

    def __init__(
        self,
        url: str,
        *,
        console_url: str | None = None,
        attempts: int = 5,
        backoff: float = 0.5,
        timeout: float = 5.0,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError("a review webhook must be an http(s) URL")
        self.url = url
        self._console_url = console_url
        self._attempts = attempts
        self._backoff = backoff
        self._timeout = timeout
        self._tasks: set[asyncio.Task[bool]] = set()
        self.delivered = 0
        self.failed = 0

    def notify(self, item: ReviewItem) -> None:
        """Schedule delivery and return at once."""
        task = asyncio.get_running_loop().create_task(self._deliver(item))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, item: ReviewItem) -> bool:
        body = json.dumps(slack_payload(item, self._console_url)).encode()
        delay = self._backoff
        for attempt in range(1, self._attempts + 1):
            try:
                await asyncio.to_thread(self._post, body)
            except Exception as exc:  # any failure: retry, then give up; never raise
                log.warning(
                    "review webhook attempt %d/%d for %s failed: %s",
                    attempt,
                    self._attempts,
                    item.ticket,
                    exc,
                )
                if attempt < self._attempts:
                    await asyncio.sleep(delay)
                    delay *= 2
                continue
            self.delivered += 1
            return True
        self.failed += 1
        return False

    def _post(self, body: bytes) -> None:
        request = urllib.request.Request(
            self.url, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=self._timeout) as response:
            if response.status >= 300:
                raise OSError(f"HTTP {response.status}")

    async def drain(self) -> None:
        """Wait for deliveries in flight (tests, shutdown)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def aclose(self) -> None:
        """Stop deliveries in flight."""
        for task in list(self._tasks):
            task.cancel()
        await self.drain()
