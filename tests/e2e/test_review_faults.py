"""Review under faults: a dead worker, a restarted console, a missing login or CSRF token,
and a final verdict signed by a key the agent does not pin."""

from __future__ import annotations

import asyncio
import dataclasses
import http.cookiejar
import http.server
import json
import os
import re
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from review_support import AGENT_OS, POLICY, TOKEN, Console, ReviewSetup

from agent_os.adapters import KernelClient
from agent_os.bus import connect
from agent_os.kernel_worker import Decision, Verdict
from agent_os.review import (
    ReviewDesk,
    ReviewItem,
    SqliteReviewStore,
    Status,
    sign_decision,
    take_decision,
)
from agent_os.trust import AgentIdentity, FileTrustStore, TrustLevel, TrustRegistry
from tests.eventually import eventually
from tests.servers import Servers, free_port, selected_backends


@pytest.fixture(params=selected_backends(("nats", "redis")))
def url(request: pytest.FixtureRequest, servers: Servers) -> str:
    return servers.bus_url(request.param)


def _store_get(setup: ReviewSetup, ticket: str) -> ReviewItem | None:
    with SqliteReviewStore(setup.store_file) as store:
        return store.get(ticket)


async def test_worker_that_recorded_the_review_dies_and_the_decision_still_arrives(
    tmp_path: Path, url: str
) -> None:
    setup = ReviewSetup(tmp_path)
    doomed = AgentIdentity.create("kernel-doomed")
    doomed.save(tmp_path / "doomed.key")
    (tmp_path / "policy.yaml").write_text(json.dumps(POLICY))
    env = {
        **os.environ,
        "AGENT_OS_REVIEW_STORE": str(setup.store_file),
        "AGENT_OS_LOG_LEVEL": "WARNING",
    }
    proc = _start_worker(url, tmp_path / "doomed.key", setup, tmp_path, env)
    bus = await connect(url)
    client = KernelClient(bus, setup.agent, [doomed.public(), setup.kernel.public()], timeout=10)
    survivor = survivor_bus = None
    try:
        # Only the doomed worker runs: it records the held action and answers with the ticket.
        pending = await _first_answer(client, proc, tmp_path)
        assert pending.decision is Decision.REVIEW and pending.kernel_id == "kernel-doomed"
        assert pending.ticket is not None
        assert _store_get(setup, pending.ticket) is not None
        # Another worker joins; the one that recorded the review is killed before any decision.
        survivor, survivor_bus = await setup.worker(url)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        await setup.cli("approve", pending.ticket, "--comment", "ok", bus=url)
        final = await client.wait(pending, poll=2.0, timeout=60)
        assert final.decision is Decision.ALLOW and final.code == "review_approved"
        assert final.kernel_id == "kernel-1"  # the survivor's desk delivered it
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        if survivor is not None:
            await survivor.shutdown()
        if survivor_bus is not None:
            await survivor_bus.close()
        await bus.close()


def _start_worker(
    url: str, key: Path, setup: ReviewSetup, tmp: Path, env: dict[str, str]
) -> subprocess.Popen[bytes]:
    # Registered at level KERNEL, as `agent-os keygen --kernel --registry` does.
    registry = TrustRegistry(FileTrustStore(setup.registry_file))
    registry.register(AgentIdentity.load(key), TrustLevel.KERNEL)
    argv = [
        AGENT_OS, "worker", "--bus", url, "--key", str(key),
        "--registry", str(setup.registry_file), "--policy", str(tmp / "policy.yaml"),
    ]  # fmt: skip
    with open(tmp / f"{key.stem}.log", "ab") as log:
        return subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)


async def _first_answer(client: KernelClient, proc: subprocess.Popen[bytes], tmp: Path) -> Verdict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the worker subprocess is starting: retry until it serves
        if proc.poll() is not None:
            raise AssertionError("the worker exited; see its log in " + str(tmp))
        verdict = await client.check("deploy", {"target": "prod"}, wait_review=False, timeout=2)
        if verdict.decision is Decision.REVIEW:
            return verdict
        await asyncio.sleep(0.2)
    raise AssertionError("the worker never answered")


# -- the console ---------------------------------------------------------------------


def _add_token(path: Path, line: str) -> None:
    with open(path, "a") as tokens:
        tokens.write(line + "\n")


class Browserless:
    """A cookie-keeping HTTP client for the console (forms, CSRF, bearer or session)."""

    def __init__(
        self, base: str, bearer: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.bearer = bearer
        self.headers = headers or {}

    def call(self, path: str, form: dict[str, str] | None = None) -> tuple[int, str]:
        data = None if form is None else urllib.parse.urlencode(form).encode()
        request = urllib.request.Request(self.base + path, data=data)
        if self.bearer is not None:
            request.add_header("Authorization", f"Bearer {self.bearer}")
        for name, value in self.headers.items():
            request.add_header(name, value)
        try:
            with self.opener.open(request, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def csrf(self, path: str = "/login") -> str:
        _, page = self.call(path)
        found = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
        assert found, page
        return found.group(1)


@pytest.fixture
async def held(
    tmp_path: Path, servers: Servers
) -> AsyncIterator[tuple[ReviewSetup, str, KernelClient, Verdict]]:
    url = servers.bus_url("nats")
    setup = ReviewSetup(tmp_path)
    worker, worker_bus = await setup.worker(url)
    client, client_bus = await setup.client(url)
    pending = await client.check("deploy", {"target": "prod"}, wait_review=False)
    assert pending.ticket is not None
    try:
        yield setup, url, client, pending
    finally:
        await worker.shutdown()
        await client_bus.close()
        await worker_bus.close()


async def test_console_restart_mid_review_loses_nothing(
    held: tuple[ReviewSetup, str, KernelClient, Verdict], tmp_path: Path
) -> None:
    setup, url, client, pending = held
    assert pending.ticket is not None
    console = Console(setup, url, tmp_path / "console.log").start()
    web = Browserless(console.url)
    try:
        status, _ = await asyncio.to_thread(
            web.call, "/login", {"csrf": web.csrf(), "token": TOKEN}
        )
        assert status == 200
        status, page = await asyncio.to_thread(web.call, "/")
        assert status == 200 and pending.ticket[:8] in page
        console.stop()
        console = Console(setup, url, tmp_path / "console2.log").start()
        web.base = console.url
        # Same session (its key derives from the console's key), same queue.
        status, page = await asyncio.to_thread(web.call, "/")
        assert status == 200 and pending.ticket[:8] in page
        form = {"csrf": web.csrf(f"/item/{pending.ticket}"), "decision": "approve", "comment": "ok"}
        status, page = await asyncio.to_thread(web.call, f"/item/{pending.ticket}/decide", form)
        assert status == 200 and "Approved: the action may run." in page
        final = await client.wait(pending, timeout=30)
        assert final.decision is Decision.ALLOW
        assert "approved by alice" in final.reason
    finally:
        console.stop()


async def test_console_refuses_without_login_or_csrf(
    held: tuple[ReviewSetup, str, KernelClient, Verdict], tmp_path: Path
) -> None:
    setup, url, _, pending = held
    assert pending.ticket is not None
    # A registered agent, not a reviewer, gets a token too.
    await asyncio.to_thread(_add_token, setup.token_file, "agent-1 agent-token-0123456789abcdef")
    console = Console(setup, url, tmp_path / "console.log").start()
    try:
        anonymous = Browserless(console.url)
        for path in ("/", "/history", "/events", f"/item/{pending.ticket}"):
            assert (await asyncio.to_thread(anonymous.call, path))[0] == 401, path
        decide = f"/item/{pending.ticket}/decide"
        form = {"csrf": anonymous.csrf(), "decision": "approve"}
        assert (await asyncio.to_thread(anonymous.call, decide, form))[0] == 401
        not_a_reviewer = Browserless(console.url, bearer="agent-token-0123456789abcdef")
        assert (await asyncio.to_thread(not_a_reviewer.call, "/"))[0] == 401

        reviewer = Browserless(console.url, bearer=TOKEN)
        assert (await asyncio.to_thread(reviewer.call, "/"))[0] == 200
        status, page = await asyncio.to_thread(reviewer.call, decide, {"decision": "approve"})
        assert status == 403 and "CSRF" in page
        bad = {"csrf": "0" * 64, "decision": "approve"}
        assert (await asyncio.to_thread(reviewer.call, decide, bad))[0] == 403
        login = {"token": TOKEN}
        assert (await asyncio.to_thread(anonymous.call, "/login", login))[0] == 403
        item = _store_get(setup, pending.ticket)
        assert item is not None and item.status is Status.PENDING and not item.decisions
        # With its token the same form goes through.
        good = {"csrf": reviewer.csrf(f"/item/{pending.ticket}"), "decision": "deny"}
        status, page = await asyncio.to_thread(reviewer.call, decide, good)
        assert status == 409 and "needs a comment" in page
        good["comment"] = "no"
        assert (await asyncio.to_thread(reviewer.call, decide, good))[0] == 200
        assert _store_get(setup, pending.ticket).status is Status.DENIED  # type: ignore[union-attr]
        late = {**good, "decision": "approve"}
        status, page = await asyncio.to_thread(reviewer.call, decide, late)
        assert status == 409 and "already denied by alice" in page
    finally:
        console.stop()


async def test_final_verdict_from_a_key_the_agent_does_not_pin_is_refused(
    tmp_path: Path, servers: Servers
) -> None:
    url = servers.bus_url("nats")
    setup = ReviewSetup(tmp_path)
    worker, worker_bus = await setup.worker(url)
    client, client_bus = await setup.client(url)
    rogue_bus = await connect(url)
    store = SqliteReviewStore(setup.store_file)
    rogue = ReviewDesk(
        rogue_bus,
        store,
        identity=AgentIdentity.create("rogue-kernel"),  # valid key, pinned by no agent
        registry=setup.registry(),
        poll=0.2,
    )
    try:
        pending = await client.check("deploy", {"target": "prod"}, wait_review=False)
        assert pending.ticket is not None
        await worker.shutdown()  # its desk too: from now on only the rogue answers
        await rogue.start()
        signed = sign_decision(setup.alice, pending.ticket, approve=True, comment="ok")
        await take_decision(store, setup.registry(), signed)
        final = await client.wait(pending, timeout=3, poll=1)
        assert final.decision is Decision.DENY and final.code == "review_timeout"
        await rogue.shutdown()
        # A desk with a pinned key delivers the same approval.
        worker, worker_bus2 = await setup.worker(url)
        try:
            final = await client.wait(pending, timeout=30)
            assert final.decision is Decision.ALLOW and final.kernel_id == "kernel-1"
        finally:
            await worker.shutdown()
            await worker_bus2.close()
    finally:
        await rogue.shutdown()
        await worker.shutdown()
        store.close()
        await rogue_bus.close()
        await client_bus.close()
        await worker_bus.close()


async def test_console_behind_a_proxy_trusts_only_its_header_naming_a_reviewer(
    held: tuple[ReviewSetup, str, KernelClient, Verdict], tmp_path: Path
) -> None:
    setup, url, client, pending = held
    assert pending.ticket is not None
    console = Console(setup, url, tmp_path / "console.log", auth_header="X-Forwarded-User")
    await asyncio.to_thread(console.start)
    try:
        nobody = Browserless(console.url)
        assert (await asyncio.to_thread(nobody.call, "/"))[0] == 401
        agent = Browserless(console.url, headers={"X-Forwarded-User": "agent-1"})
        assert (await asyncio.to_thread(agent.call, "/"))[0] == 401
        token = Browserless(console.url, bearer=TOKEN)  # tokens are not accepted in this mode
        assert (await asyncio.to_thread(token.call, "/"))[0] == 401
        bob = Browserless(console.url, headers={"X-Forwarded-User": "bob"})
        status, page = await asyncio.to_thread(bob.call, "/")
        assert status == 200 and "Signed in as <strong>bob</strong>" in page
        decide = f"/item/{pending.ticket}/decide"
        form = {"csrf": bob.csrf(f"/item/{pending.ticket}"), "decision": "approve"}
        assert (await asyncio.to_thread(bob.call, decide, form))[0] == 200
        final = await client.wait(pending, timeout=30)
        assert final.decision is Decision.ALLOW and "approved by bob" in final.reason
    finally:
        console.stop()


async def test_a_ticket_the_store_does_not_hold_is_a_prompt_deny(
    held: tuple[ReviewSetup, str, KernelClient, Verdict],
) -> None:
    _, _, client, pending = held
    # The store lost the item (restored from an old backup, say): the agent must not wait it out.
    forged = dataclasses.replace(pending, ticket="0" * 32)
    final = await client.wait(forged, timeout=60)
    assert final.decision is Decision.DENY and final.code == "review_unknown"


def test_console_cookies_are_http_only_same_site_and_secure_when_asked(tmp_path: Path) -> None:
    setup = ReviewSetup(tmp_path)
    for extra, secure in (((), False), (("--secure-cookies",), True)):
        console = Console(setup, None, tmp_path / "console.log", extra=extra).start()
        try:
            cookie = ""
            try:
                urllib.request.urlopen(console.url + "/login", timeout=10)
            except urllib.error.HTTPError as exc:  # 401: the login page, with its CSRF cookie
                cookie = exc.headers["set-cookie"]
            assert "HttpOnly" in cookie and "SameSite=strict" in cookie
            assert ("Secure" in cookie) is secure
        finally:
            console.stop()


async def test_worker_command_posts_a_webhook_per_held_action(
    tmp_path: Path, servers: Servers
) -> None:
    url = servers.bus_url("nats")
    setup = ReviewSetup(tmp_path)
    posts: list[dict[str, object]] = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            posts.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Hook)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    worker_key = AgentIdentity.create("kernel-hook")
    worker_key.save(tmp_path / "hook.key")
    (tmp_path / "policy.yaml").write_text(json.dumps(POLICY))
    env = {
        **os.environ,
        "AGENT_OS_REVIEW_STORE": str(setup.store_file),
        "AGENT_OS_REVIEW_WEBHOOK": f"http://127.0.0.1:{receiver.server_address[1]}/hook",
        "AGENT_OS_REVIEW_CONSOLE_URL": "https://review.example.org",
    }
    proc = _start_worker(url, tmp_path / "hook.key", setup, tmp_path, env)
    bus = await connect(url)
    client = KernelClient(bus, setup.agent, [worker_key.public()], timeout=10)
    try:
        pending = await _first_answer(client, proc, tmp_path)
        assert pending.ticket is not None
        await eventually(lambda: posts, 30.0, "the webhook post")
        (post,) = posts
        assert pending.ticket in str(post["text"]) and post["blocks"]
        assert f"https://review.example.org/item/{pending.ticket}" in json.dumps(post)
    finally:
        proc.terminate()
        proc.wait(10)
        receiver.shutdown()
        receiver.server_close()
        await bus.close()
