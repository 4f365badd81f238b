"""A rogue that re-publishes the agent's request with its own reply subject steals nothing.

The attack: a process that can read the request subject publishes each
signed request again, the moment it sees it, with a reply subject of its
own. The copy judged first gets the verdict and the other one is a replay.
When the rogue's copy won, the rogue used to get the ``allow`` and the agent a
``replay`` deny. Now the agent signs its reply subject into the request and
workers answer there only: the rogue's copy is judged for the agent, whose
own copy's ``replay`` deny the client drops while it waits for that verdict.

The race is made certain, in its worst order, by the workers themselves
(:class:`RaceWorker`): the agent's own copy is judged only once the rogue's
has been, and the verdict on the rogue's copy is sent only once the replay
deny on the agent's has. Two workers share one nonce store, as a fleet does.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Callable
from contextvars import ContextVar
from pathlib import Path

import pytest
from fleet_support import Fleet, fleet
from review_support import ReviewSetup

from agent_os.bus import Bus, BusClosed, BusTimeout, Delivery, Envelope, connect
from agent_os.kernel_worker import Decision, Worker
from agent_os.review import WAIT_SUBJECT
from agent_os.trust import MemoryNonceStore, SignedMessage
from tests.eventually import eventually
from tests.servers import Servers, selected_backends

BACKENDS = selected_backends(("memory", "nats", "redis", "kafka", "sqs"))
N = 20
WAIT = 10.0
#: Whose copy of a request the worker's current task is judging: "agent" or "rogue".
COPY: ContextVar[str] = ContextVar("copy")


class Rogue:
    """Re-publishes each request it reads with its own reply subject; keeps what comes back."""

    def __init__(self, f: Fleet, bus: Bus) -> None:
        self.fleet, self.bus = f, bus
        self.copied: set[str] = set()
        self.stolen: list[Envelope] = []
        self.inboxes: set[str] = set()
        self.tasks: list[asyncio.Task[None]] = []

    async def handler(self, delivery: Delivery) -> None:
        await self.copy(delivery.envelope)

    async def copy(self, envelope: Envelope) -> None:
        request_id = SignedMessage.from_bytes(envelope.body).id
        if request_id in self.copied:  # its own copy, read back from the subject
            return
        self.copied.add(request_id)
        copy = Envelope(self.fleet.subject, envelope.body, deadline=envelope.deadline)
        self.inboxes.add(await self.bus.reply_address(copy))
        self.tasks.append(asyncio.ensure_future(self.ask(copy)))

    async def ask(self, copy: Envelope) -> None:
        def keep(reply: Envelope) -> bool:
            self.stolen.append(reply)
            return False

        with contextlib.suppress(BusTimeout, BusClosed):
            await self.bus.request(copy, WAIT, accept=keep)


class Race:
    """What both workers share: which copies have been judged and answered."""

    def __init__(self) -> None:
        self.rogue_judged: defaultdict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self.own_answered: defaultdict[str, asyncio.Event] = defaultdict(asyncio.Event)
        #: (request id, whose copy, reply subject) of every verdict sent.
        self.sent: list[tuple[str, str, str | None]] = []
        #: On SQS, where reading a queue hides a message from the workers: the rogue, tapped
        #: in the workers' process, sees each request as a worker takes it.
        self.tap: Rogue | None = None
        #: The replay denies the agent has dropped so far (set once its client exists).
        self.dropped_replays: Callable[[], int] = lambda: 0


class RaceWorker(Worker):
    """A real worker that judges the agent's copy after the rogue's, and answers it first."""

    race: Race

    async def _handle(self, delivery: Delivery) -> None:
        envelope = delivery.envelope
        request_id = SignedMessage.from_bytes(envelope.body).id
        own = envelope.id == request_id  # the client sends a request under its id
        COPY.set("agent" if own else "rogue")
        if own:
            if self.race.tap is not None:
                await self.race.tap.copy(envelope)
            await asyncio.wait_for(self.race.rogue_judged[request_id].wait(), WAIT)
        await super()._handle(delivery)

    async def _reply(self, envelope: Envelope, wire: bytes) -> None:
        request_id = SignedMessage.from_bytes(envelope.body).id
        whose = COPY.get()
        if whose == "rogue":
            self.race.rogue_judged[request_id].set()
            await asyncio.wait_for(self.race.own_answered[request_id].wait(), WAIT)
            # Replies from two workers' connections may overtake each other: wait until the
            # agent has read (and dropped) the replay deny, so it is read first every time.
            answered = sum(e.is_set() for e in self.race.own_answered.values())
            await eventually(lambda: self.race.dropped_replays() >= answered, WAIT, "replay read")
        self.race.sent.append((request_id, whose, envelope.reply_to))
        await super()._reply(envelope, wire)
        if whose == "agent":
            self.race.own_answered[request_id].set()


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_racing_replay_neither_steals_the_verdict_nor_denies_the_agent(
    backend: str, servers: Servers, tmp_path: Path
) -> None:
    url = servers.bus_url(backend)
    async with fleet(url, tmp_path) as f:
        rogue_bus = await f.connect()
        rogue = Rogue(f, rogue_bus)
        # A fan-out reader of the subject; on Kafka a consumer group of its own.
        RaceWorker.race = race = Race()
        if backend == "sqs":
            race.tap = rogue
        else:
            await f.overhear(rogue_bus, rogue.handler, backend)
        nonces = MemoryNonceStore()  # one replay memory for the fleet
        workers = [await f.start_worker(factory=RaceWorker, nonces=nonces) for _ in range(2)]
        client = await f.client(timeout=WAIT)
        race.dropped_replays = lambda: client.dropped["replay"]
        agent_inbox = await (await f.agent_bus()).reply_address(Envelope(f.subject, b""))

        verdicts = [await client.check("file_read", {"path": f"/srv/{i}"}) for i in range(N)]

        # Each request got its allow: the verdict on the rogue's copy, sent to the agent.
        assert [(v.decision, v.code) for v in verdicts] == [(Decision.ALLOW, "ok")] * N
        assert len(rogue.copied) == N
        # The agent's own copy was judged second every time: a replay, which the client dropped.
        assert client.dropped["replay"] == N
        assert sum(w.redirected_replies for w in workers) == N
        # No verdict went to the rogue's reply subject, and none reached it.
        assert {(whose, to in rogue.inboxes) for _, whose, to in race.sent} == {
            ("agent", False),
            ("rogue", False),
        }
        if backend != "nats":  # one inbox per bus; on NATS one per request, made of its id
            assert {to for _, _, to in race.sent} == {agent_inbox}
        for task in rogue.tasks:
            task.cancel()
        await asyncio.gather(*rogue.tasks, return_exceptions=True)
        assert rogue.stolen == []


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_copied_review_poll_learns_no_decision(
    backend: str, servers: Servers, tmp_path: Path
) -> None:
    """A held action's polls sign their reply subject too: the desk answers only the agent."""
    url = servers.bus_url(backend)
    setup = ReviewSetup(tmp_path)
    worker, worker_bus = await setup.worker(url)
    client, client_bus = await setup.client(url)
    rogue_bus = await connect(url)
    stolen: list[Envelope] = []
    copies: list[asyncio.Task[Envelope]] = []

    def keep(reply: Envelope) -> bool:
        stolen.append(reply)
        return False

    async def copy_poll(delivery: Delivery) -> None:
        poll = delivery.envelope
        if poll.id not in seen:  # the agent's poll, not a copy read back
            copy = Envelope(WAIT_SUBJECT, poll.body, deadline=poll.deadline)
            seen.update((poll.id, copy.id))
            copies.append(asyncio.ensure_future(rogue_bus.request(copy, 3.0, accept=keep)))

    seen: set[str] = set()
    try:
        await rogue_bus.subscribe(WAIT_SUBJECT, copy_poll)
        ticket = await client.check("deploy", {"target": "eu"}, wait_review=False)
        assert ticket.decision is Decision.REVIEW and ticket.ticket
        waiting = asyncio.ensure_future(client.wait(ticket, poll=1.0))
        await eventually(lambda: copies, WAIT, "a copied poll")
        bus_url = None if backend == "memory" else url
        await setup.cli("approve", ticket.ticket, bus=bus_url)
        final = await waiting
        assert (final.decision, final.code) == (Decision.ALLOW, "review_approved")
        # Every copy of a poll waits out its time and gets nothing.
        outcomes = await asyncio.gather(*copies, return_exceptions=True)
        assert {type(o) for o in outcomes} == {BusTimeout}
        assert stolen == []
    finally:
        await worker.shutdown()
        for bus in (rogue_bus, client_bus, worker_bus):
            await bus.close()
