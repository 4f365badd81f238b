"""Signed, numbered audit batches and the gaps between them.

Anyone who can publish on the audit subject could once put "allow by
kernel-1" into the sealed chain, and anyone who could pull from the sink's
consumer could take events away unseen. Now:

* a publisher that has its kernel's key signs each batch: the body is a
  :class:`~agent_os.trust.SignedMessage` from the kernel to
  :data:`AUDIT_RECIPIENT` whose content is a header line
  ``{"stream": ..., "first": N, "count": K}`` and the events as JSON lines;
* ``stream`` names one publisher (its kernel id and a random instance id), and
  events are numbered ``first .. first + K - 1`` within it, so the sink sees a
  batch that never arrived as a jump in the numbers;
* the sink accepts a batch only when it verifies against a ``KERNEL`` key of
  its registry and every event in it names that kernel as ``kernel_id``; a
  ``REVIEWER`` key (a person's, or the review console's) may sign only review
  records (events with ``review`` set) in its own name (``audit_signer_role``);
  the sink's own key (the one that signs its chain heads) signs no batch
  at all, whatever its level (``audit_signer_is_sink``): a sink that could
  write decision records in its own name could invent them;
  anything else is dead-lettered with a stable code (``unsigned_audit``,
  ``bad_audit_signature``, ``audit_signer_mismatch``);
* a jump becomes a record of its own in the chain (:func:`gap_event`, code
  ``audit_gap``), which ``agent-os audit verify`` reports as a problem unless
  a later record (:func:`gap_event` with ``late=True``, code
  ``audit_gap_filled``) says those numbers arrived after all (a batch stored
  after a later one: a failed first attempt, or two sinks).

Freshness is not checked: the chain wants authenticity, and a redelivered or
late batch is still the truth (events are deduplicated by ``event_id``).
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass

from agent_os.trust import (
    AgentIdentity,
    MalformedMessage,
    PublicIdentity,
    SignedMessage,
    TrustLevel,
    TrustRegistry,
    strict_loads,
)

from ._errors import AuditError
from ._events import AuditEvent, args_digest

AUDIT_RECIPIENT = "agentos.audit"
#: Verdict-like code of the record the sink writes for missing events.
GAP_CODE = "audit_gap"
#: Code of the record the sink writes when events of a recorded gap arrive late.
GAP_FILLED_CODE = "audit_gap_filled"
_HEADER_KEYS = frozenset({"stream", "first", "count"})


class AuditStream:
    """One publisher's numbering: ``<kernel id>/<random instance>`` and the next number."""

    def __init__(self, signer: AgentIdentity) -> None:
        self.signer = signer
        self.name = f"{signer.agent_id}/{secrets.token_hex(6)}"
        self.next = 1

    def sign(self, events: list[AuditEvent]) -> bytes:
        """The signed body for ``events``, numbered on from the last batch."""
        header = json.dumps(
            {"stream": self.name, "first": self.next, "count": len(events)},
            separators=(",", ":"),
        )
        self.next += len(events)
        lines = [header.encode(), *(e.to_json() for e in events)]
        content = b"\n".join(lines)
        return SignedMessage.create(
            self.signer, AUDIT_RECIPIENT, content, content_type="application/x-ndjson"
        ).to_bytes()


@dataclass(frozen=True)
class SignedBatch:
    """A verified batch: who signed it, its stream and numbers, its events."""

    signer: str
    stream: str
    first: int
    events: list[AuditEvent]


def open_batch(
    body: bytes, kernels: TrustRegistry, *, sink: PublicIdentity | None = None
) -> SignedBatch:
    """Verify and read a signed batch; ``AuditError`` with a stable code otherwise.

    ``sink``: the reading sink's own key, refused as a batch signer.
    """
    try:
        message = SignedMessage.from_bytes(body)
    except MalformedMessage as exc:
        raise AuditError(f"audit message is not signed: {exc}", code="unsigned_audit") from None
    result = kernels.verify(message, now=message.timestamp, expected_recipient=AUDIT_RECIPIENT)
    role = result.trust_level
    if not result.valid or role not in (TrustLevel.KERNEL, TrustLevel.REVIEWER):
        why = result.reason if not result.valid else f"signer level {result.trust_level.name}"
        raise AuditError(
            f"audit message from {message.sender_id!r} refused: {why}", code="bad_audit_signature"
        )
    entry = kernels.get(message.sender_id)
    if sink is not None and (
        message.sender_id == sink.agent_id
        or (entry is not None and entry.identity.public_key == sink.public_key)
    ):
        raise AuditError(
            f"audit message signed by the sink's own key ({message.sender_id!r}): the sink "
            "signs chain heads, never the records it stores",
            code="audit_signer_is_sink",
        )
    head, _, rest = message.content.partition(b"\n")
    try:
        header = strict_loads(head)
    except MalformedMessage as exc:
        raise AuditError(f"audit batch header: {exc}", code="malformed_audit") from None
    if (
        not isinstance(header, dict)
        or header.keys() != _HEADER_KEYS
        or not isinstance(header["stream"], str)
        or not header["stream"].startswith(message.sender_id + "/")
        or type(header["first"]) is not int
        or type(header["count"]) is not int
        or header["first"] < 1
    ):
        raise AuditError("audit batch header is not valid", code="malformed_audit")
    events = [AuditEvent.from_json(line) for line in rest.split(b"\n") if line.strip()]
    if len(events) != header["count"]:
        raise AuditError("audit batch count does not match its events", code="malformed_audit")
    for event in events:
        if event.kernel_id != message.sender_id:
            raise AuditError(
                f"event {event.event_id} names kernel {event.kernel_id!r} but was signed by "
                f"{message.sender_id!r}",
                code="audit_signer_mismatch",
            )
        if role is TrustLevel.REVIEWER and event.review is None:
            # A reviewer records decisions on held actions, never a policy verdict.
            raise AuditError(
                f"reviewer {message.sender_id!r} may sign only review records, not "
                f"{event.event_id}",
                code="audit_signer_role",
            )
    return SignedBatch(message.sender_id, header["stream"], header["first"], events)


def advance(expected: int | None, first: int, count: int) -> tuple[int, tuple[int, int] | None]:
    """A stream's next expected number after a batch ``first .. first + count - 1``.

    Also the missing range ``(first, last)`` before the batch, if any.
    ``expected`` None: the first batch seen from the stream.
    """
    end = first + count
    if expected is None or first <= expected:
        # The first batch seen from a stream, or a redelivery of numbers already seen.
        return max(end, expected or 0), None
    return end, (expected, first - 1)


def overlaps(
    gap: tuple[int, int], batch: tuple[int, int]
) -> tuple[tuple[int, int], list[tuple[int, int]]]:
    """The part of ``gap`` that ``batch`` covers, and what is left of the gap around it."""
    low, high = max(gap[0], batch[0]), min(gap[1], batch[1])
    rest = [(gap[0], low - 1)] if gap[0] < low else []
    if high < gap[1]:
        rest.append((high + 1, gap[1]))
    return (low, high), rest


class GapTracker:
    """The next number expected from each stream, in memory (for stores that keep none)."""

    def __init__(self) -> None:
        self._next: dict[str, int] = {}

    def see(self, batch: SignedBatch) -> tuple[int, int] | None:
        """Note ``batch``; the missing range ``(first, last)`` before it, if any."""
        expected = self._next.get(batch.stream)
        self._next[batch.stream], missing = advance(expected, batch.first, len(batch.events))
        return missing


def gap_event(
    stream: str, missing: tuple[int, int], now: float | None = None, *, late: bool = False
) -> AuditEvent:
    """The chain record for events ``missing`` of ``stream`` that never reached the sink.

    With ``late``: the record that those events (of an earlier gap record) did
    arrive. ``tool`` holds the stream and ``request_id`` the range
    ``"first..last"``, which ``verify_chain`` matches.
    """
    first, last = missing
    what = "arrived late" if late else "never reached the sink"
    reason = f"audit events {first}..{last} of stream {stream} {what}"
    return AuditEvent(
        event_id=secrets.token_hex(16),
        ts=time.time() if now is None else now,
        agent_id="audit-sink",
        action="audit_gap",
        tool=stream,
        request_id=f"{first}..{last}",
        decision="deny",
        signal=None,
        rule=None,
        reason=reason,
        code=GAP_FILLED_CODE if late else GAP_CODE,
        policy="",
        policy_hash="",
        kernel_id=stream.split("/", 1)[0],
        elapsed_us=None,
        args_digest=args_digest({"stream": stream, "first": first, "last": last}),
    )
