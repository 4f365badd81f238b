"""The ``nats://`` (and ``tls://``) backend: core NATS plus JetStream, via nats-py.

Subject mapping
    * An envelope is one NATS message: NATS subject = ``envelope.subject``,
      payload = ``envelope.body`` (no framing), the other fields in headers
      (``Nats-Msg-Id`` = id, ``Agentos-Reply-To``, ``Agentos-Correlation-Id``,
      ``Agentos-Key``, ``Agentos-Deadline``) next to the envelope's own headers.
    * Work subjects are kept by JetStream: one stream per subject, named
      ``AGENTOS_<subject, unsafe characters as _>_<8 hex blake2s of subject>``,
      work-queue retention, file storage, bounded by ``stream_max_age`` /
      ``stream_max_msgs`` (oldest discarded). It is created idempotently by the
      first ``publish`` to the subject or the first group subscription; a stream
      that an operator made for the subject under another name is found and used.
    * A group is a durable pull consumer on that stream, named
      ``<group, unsafe characters as _>_<8 hex digest of subject and group>``,
      explicit acks, ``ack_wait`` from :class:`SubscribeOptions`. One group per
      work subject (work-queue retention); a second raises ``NotSupported``.
    * ``group=None`` subscriptions are core NATS subscriptions: they see every
      message published after they subscribed (JetStream-captured or not).
    * A group on a subject under ``core_prefixes`` is a core NATS queue group (the
      fast path: nothing stored, no crash survival). The bus re-publishes a
      nacked message (``Agentos-Attempt`` + 1) and keeps dead letters in
      JetStream all the same.
    * Replies use native inboxes: one wildcard subscription ``_INBOX.<nuid>.*``
      per bus, ``reply_to = _INBOX.<nuid>.<n>`` and one future per request. A
      reply is a core publish to ``reply_to``.
    * Dead letters are published (durably) to ``<subject>.dlq`` or
      ``options.dead_letter`` with the error headers, then the original is acked.

Delivery decisions
    * ``publish`` to a work subject is ``js.publish``: it returns once the
      server stored the message (a durable ack). ``request`` uses a core publish
      to the same subject (JetStream still captures it; the reply is the ack)
      with the native reply subject set, which also yields a fast
      ``NoResponders`` when nothing at all listens. ``request`` does not create
      streams, so a request to a subject nobody ever served fails fast; a
      request to a work subject whose stream exists but whose workers are all
      gone waits (kept in the stream) until a worker answers or it times out.
      Once a subject is known to be stream-kept, the native reply subject is
      left off (the server would only send a publish ack to it).
    * Every subject outside ``_INBOX.`` and ``core_prefixes`` is a work subject:
      ``publish`` keeps it in a stream so that a group joining later finds it.
      A reply (an envelope with a ``correlation_id``) is always a core publish:
      inboxes of other clients may have other prefixes.
    * ``tls://`` refuses a server that does not offer TLS (nats-py alone would
      fall back to plaintext).
    * ``max_deliver`` is enforced by the bus, not by JetStream (whose consumer
      redelivers without limit): a nack on the last attempt dead-letters at
      once, and a delivery whose count passes ``max_deliver`` (the last attempt
      ran out of ``ack_wait``: a crashed or hung consumer) is dead-lettered with
      code ``ack_timeout`` without running the handler. So no MAX_DELIVERIES
      advisory is needed and a failed dead-letter publish is retried.
    * ``Nats-Msg-Id`` makes JetStream drop a re-publish of the same envelope id
      within the stream's duplicate window (2 min): retry with the same envelope
      safely, but re-publish a dead letter under a new id.

Tuning (``connect`` keyword arguments or URL query parameters): the fields of
:class:`~._nats_settings.NatsSettings` (defaults there; each explained in
docs/backends/nats.md), plus the ``nats.connect`` keywords listed in
``_nats_settings.CLIENT_OPTIONS`` (``tls``, ``user_credentials``, ``token``, ...).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
from typing import Any

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from .._envelope import Envelope
from .._errors import BusError, NoResponders
from .._protocol import Handler, SubscribeOptions, Subscription
from ._base import BusBase, Route
from ._nats_client import open_client
from ._nats_codec import (
    CORRELATION_ID,
    DEADLINE,
    REPLY_TO,
    RESERVED_PREFIXES,
    STATUS,
    from_message,
    stream_name,
    to_headers,
    translate,
    wire_size,
)
from ._nats_fanout import FanoutSubscription, QueueSubscription
from ._nats_settings import NatsSettings
from ._nats_work import WorkSubscription

__all__ = ["NatsBus", "NatsSettings", "connect"]

log = logging.getLogger("agent_os.bus.nats")

_INBOX = "_INBOX."
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")
_ERR_STREAM_NAME_IN_USE = 10058  # same name, other config: keep the operator's stream
_ERR_SUBJECTS_OVERLAP = 10065  # another stream already captures the subject
#: Room kept below the server's max_payload for the headers the envelope maps to.
_HEADER_RESERVE = 1024


class NatsBus(BusBase):
    """A :class:`~agent_os.bus.Bus` over one nats-py connection."""

    reserved_headers = RESERVED_PREFIXES

    def __init__(self, url: str, nc: Client, settings: NatsSettings) -> None:
        super().__init__(url, max(0, nc.max_payload - _HEADER_RESERVE))
        self.nc, self._settings = nc, settings
        self.js: JetStreamContext = nc.jetstream(timeout=settings.api_timeout)
        self.drain_timeout = settings.drain_timeout
        self.pull_expires = settings.pull_expires
        self.pull_heartbeat = settings.pull_heartbeat
        self.max_pending = settings.max_pending
        prefixes = [p.strip() for p in settings.core_prefixes.split(",") if p.strip()]
        self._core_prefixes = (_INBOX, *prefixes)
        self._publish_ack = settings.publish_ack
        self._streams: dict[str, str] = {}
        self._stream_lock = asyncio.Lock()  # also guards making the reply inbox
        self._subs: list[FanoutSubscription | WorkSubscription] = []
        self._inbox = ""
        self._namespace = ""  # the reply namespace, see _reply_namespace
        self._inbox_sub: Any = None
        self._captured: set[str] = set()  # subjects a stream keeps (seen from publish acks)
        self._dead_letter_subjects: set[str] = set()

    @property
    def connected(self) -> bool:
        """Open, and nats-py holds a live connection (False while it reconnects)."""
        return super().connected and bool(self.nc.is_connected)

    def _size_on_the_wire(self, envelope: Envelope) -> int:
        return wire_size(envelope)  # the headers count against NATS's max_payload

    async def ping(self) -> None:
        """A PING/PONG round trip to the server (readiness)."""
        self._check_open()
        try:
            await self.nc.flush(timeout=2)
        except (nats.errors.Error, OSError, TimeoutError) as exc:
            raise translate(exc, "ping") from exc

    def _is_core(self, subject: str) -> bool:
        return subject.startswith(self._core_prefixes)

    async def ensure_stream(self, subject: str, *, refresh: bool = False) -> str:
        """The stream keeping ``subject``, created if missing (idempotent)."""
        name = self._streams.get(subject)
        if name is not None and not refresh:
            return name
        async with self._stream_lock:
            if not refresh and subject in self._streams:
                return self._streams[subject]
            name = await self._create_stream(subject)
            self._streams[subject] = name
            return name

    async def _create_stream(self, subject: str) -> str:
        name = stream_name(subject)
        dead = subject in self._dead_letter_subjects
        config = self._settings.stream_config(name, subject, dead_letters=dead)
        try:
            await self.js.add_stream(config)
        except nats.js.errors.APIError as exc:
            if exc.err_code == _ERR_STREAM_NAME_IN_USE:
                return name
            if exc.err_code == _ERR_SUBJECTS_OVERLAP:
                try:
                    found: str = await self.js.find_stream_name_by_subject(subject)
                except nats.errors.Error as lookup:
                    raise translate(lookup, f"find the stream of {subject!r}") from lookup
                return found
            raise translate(exc, f"create stream {name} for {subject!r}") from exc
        except nats.errors.Error as exc:
            raise translate(exc, f"create stream {name} for {subject!r}") from exc
        return name

    async def publish(self, envelope: Envelope) -> None:
        """Core publish for inbox / core subjects, JetStream publish otherwise."""
        await self.publish_kept(envelope, durable=self._publish_ack)

    async def publish_kept(self, envelope: Envelope, *, durable: bool = True) -> None:
        """Publish; a work subject's message is kept by its stream.

        ``durable`` waits for the server's publish ack; otherwise a core publish
        that the stream captures all the same, unconfirmed.
        """
        self._check_open(draining_ok=True)
        self._check_envelope(envelope)
        subject = envelope.subject
        headers = to_headers(envelope)
        try:
            # A reply goes to an inbox whatever its prefix (other clients may use their
            # own): never make a stream for it. An existing stream still captures it.
            if envelope.correlation_id is not None or self._is_core(subject):
                await self.nc.publish(subject, envelope.body, headers=headers)
                return
            await self._keep(subject, envelope.body, headers, durable=durable)
        except nats.errors.Error as exc:
            raise translate(exc, f"publish to {subject!r}") from exc

    async def _keep(
        self, subject: str, body: bytes, headers: dict[str, str], *, durable: bool
    ) -> None:
        await self.ensure_stream(subject)
        if not durable:
            await self.nc.publish(subject, body, headers=headers)
            return
        try:
            await self.js.publish(subject, body, headers=headers)
        except nats.js.errors.NoStreamResponseError:
            # The server lost the stream (restarted with an empty store): recreate it.
            await self.ensure_stream(subject, refresh=True)
            await self.js.publish(subject, body, headers=headers)

    async def publish_dead_letter(self, envelope: Envelope) -> None:
        """Keep a dead letter in its subject's stream, core prefix or not; wait for the ack."""
        self._check_open(draining_ok=True)
        self._check_envelope(envelope)
        self._dead_letter_subjects.add(envelope.subject)
        try:
            await self._keep(envelope.subject, envelope.body, to_headers(envelope), durable=True)
        except nats.errors.Error as exc:
            raise translate(exc, f"dead-letter to {envelope.subject!r}") from exc

    async def _subscribe(
        self, subject: str, handler: Handler, group: str | None, opts: SubscribeOptions
    ) -> Subscription:
        """A core subscription (``group=None``) or a member of the group's pull consumer."""
        sub: FanoutSubscription | WorkSubscription
        if group is None:
            sub = FanoutSubscription(self, subject, handler, opts)
        elif self._is_core(subject):
            sub = QueueSubscription(self, subject, group, handler, opts)
        else:
            sub = WorkSubscription(self, subject, group, handler, opts)
        await sub.start()
        self._subs = [s for s in self._subs if s.active]
        self._subs.append(sub)
        return sub

    async def _reply_address(self, envelope: Envelope) -> str:
        """``<inbox>.<token>``: the token is made from the request id, so it can be known first."""
        if self._inbox_sub is None:
            async with self._stream_lock:  # the first requests race to make the inbox
                if self._inbox_sub is None:
                    await self._subscribe_inbox()
        return self._inbox + _token(envelope.id)

    def _reply_namespace(self) -> str:
        """The client's inbox prefix (``inbox_prefix``, ``_INBOX`` by default) and a dot."""
        if not self._namespace:  # fixed at connect; new_inbox() costs microseconds
            self._namespace = self.nc.new_inbox().rpartition(".")[0] + "."
        return self._namespace

    async def _route_request(self, envelope: Envelope, deadline: float) -> Route:
        """With a private inbox as ``reply_to``; the reply comes back under its token."""
        reply_to = await self._reply_address(envelope)
        token = reply_to[len(self._inbox) :]
        subject = envelope.subject
        headers = to_headers(envelope)
        headers[REPLY_TO] = reply_to
        headers[DEADLINE] = repr(deadline)
        # A core publish even to a JetStream subject: the stream still keeps it, and the
        # reply is the ack. The native reply subject brings a 503 at once when nothing
        # listens; once a subject is known to be kept by a stream it is left out, since
        # the server would only answer it with a publish ack (a wasted message).
        native = "" if subject in self._streams or subject in self._captured else reply_to

        async def send() -> None:
            try:
                await self.nc.publish(subject, envelope.body, reply=native, headers=headers)
            except nats.errors.Error as exc:
                raise translate(exc, f"request on {subject!r}") from exc

        return token, send

    async def _subscribe_inbox(self) -> None:
        self._inbox = self.nc.new_inbox() + "."
        try:
            self._inbox_sub = await self.nc.subscribe(self._inbox + "*", cb=self._on_reply)
        except nats.errors.Error as exc:
            raise translate(exc, "subscribe to the reply inbox") from exc

    async def _on_reply(self, msg: Msg) -> None:
        token = msg.subject[len(self._inbox) :]
        waiter = self._waiters.get(token)
        if waiter is None:
            log.debug("dropped reply on %s: no request waiting for it", msg.subject)
            return
        subject = waiter.subject
        headers = msg.headers
        if headers is None or CORRELATION_ID not in headers:
            if headers is not None and headers.get(STATUS) == "503":
                self._waiters.fail(token, NoResponders(f"no subscriber on {subject!r}"))
            else:  # JetStream's publish ack: a stream keeps this subject
                if self._is_core(subject) and subject not in self._captured:
                    log.warning(
                        "%r is a core subject but a JetStream stream keeps it: a request sent "
                        "while no queue-group member listens waits for its deadline",
                        subject,
                    )
                self._captured.add(subject)
            return
        try:
            reply = from_message(msg.subject, msg.data, headers, None)
        except BusError as exc:
            log.warning("dropped a malformed reply on %s: %s", msg.subject, exc)
            return
        self._waiters.offer(token, reply)

    def on_reconnect(self) -> None:
        self._captured.clear()  # the server may have come back without its streams
        for sub in self._subs:
            if isinstance(sub, WorkSubscription):
                sub.recover(restart=True)

    async def close(self) -> None:
        """Stop subscriptions, drain in-flight handlers, flush and close. Idempotent."""
        if not await self._start_closing():
            return
        try:
            subs = list(self._subs)
            await asyncio.gather(*(s.unsubscribe() for s in subs))
            for sub in subs:
                await sub.abandon()
            self._fail_waiting()
            # A dead server surfaces as OSError (connection reset) here: close
            # must still finish, and nothing of the client library escapes.
            with contextlib.suppress(nats.errors.Error, TimeoutError, OSError):
                await self.nc.drain()
            if not self.nc.is_closed:
                with contextlib.suppress(nats.errors.Error, OSError):
                    await self.nc.close()
        finally:
            self._closed.set()


async def connect(url: str, **options: Any) -> NatsBus:
    """Connect to NATS (``nats://host:port``, ``tls://...``, ``nats://h1:4222,h2:4222``)."""
    settings, client_options = NatsSettings.parse(url, options)
    holder: list[NatsBus] = []
    nc = await open_client(url, settings, client_options, holder)
    bus = NatsBus(url, nc, settings)
    holder.append(bus)
    return bus


def _token(request_id: str) -> str:
    """The last inbox subject token for a request: its id, or a digest of an id that is no token."""
    if _TOKEN.fullmatch(request_id):
        return request_id
    return hashlib.blake2b(request_id.encode(), digest_size=16).hexdigest()
