"""The reviewer console in a real headless Chromium (Debian's, driven by Playwright).

A kernel worker and an agent run here on a real NATS server; ``agent-os
console`` runs as its own process on the same bus and review store. The
reviewer logs in, watches the held action appear without reloading, approves
it, and the agent's action runs. Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright
from review_support import TOKEN, Console, ReviewSetup

from tests.eventually import eventually
from tests.servers import Servers

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
HAVE_CHROMIUM = Path(CHROMIUM).exists()
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    # A missing browser is a failure, not a skip: scripts/test installs Debian's chromium.
    assert HAVE_CHROMIUM, "install Debian's chromium (scripts/test does, as root)"
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        await b.close()


async def shot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    await page.screenshot(path=str(path), full_page=True)
    return path


async def test_reviewer_approves_in_the_browser_and_the_action_runs(
    tmp_path: Path, servers: Servers, browser: Browser
) -> None:
    url = servers.bus_url("nats")
    setup = ReviewSetup(tmp_path)
    worker, worker_bus = await setup.worker(url)
    client, client_bus = await setup.client(url)
    console = Console(setup, url, tmp_path / "console.log").start()
    ran: list[str] = []

    async def deploy(target: str) -> str:
        ran.append(target)
        return target

    try:
        page = await browser.new_page(viewport={"width": 1280, "height": 720})
        first = await page.goto(console.url + "/")
        assert first is not None and first.status == 401
        await shot(page, "review-console-login.png")
        await page.fill("#token", TOKEN)
        await page.click("button[type=submit]")
        await page.wait_for_selector("text=Nothing is waiting for review.")
        assert "Signed in as" in await page.inner_text("header")

        # The agent's action is held; the open page shows it without a reload.
        task = asyncio.create_task(client.execute(deploy, "prod", action="deploy"))
        row = await page.wait_for_selector("tr.row", timeout=30_000)
        assert row is not None
        text = await row.inner_text()
        assert "agent-1" in text and "deploy" in text and "action:deploy" in text
        assert "deploys need a human" in text
        await shot(page, "review-console-queue.png")
        depth = await eventually(
            lambda: asyncio.to_thread(
                lambda: "agent_os_review_queue_depth 1.0" in console.metrics()
            ),
            30.0,
            "queue gauge",
        )
        assert depth
        assert not task.done() and ran == []

        await page.click("tr.row a.ticket")
        await page.wait_for_selector("textarea#comment")
        await page.fill("textarea#comment", "release window open")
        await shot(page, "review-console-item.png")
        await page.click("button.approve")
        await page.wait_for_selector(".flash >> text=Approved: the action may run.")
        assert await task == "prod"
        assert ran == ["prod"]

        await page.goto(console.url + "/history")
        history = await page.inner_text("table")
        assert "approved" in history and "alice" in history and "release window open" in history
        await shot(page, "review-console-history.png")
    finally:
        console.stop()
        await worker.shutdown()
        await client_bus.close()
        await worker_bus.close()
