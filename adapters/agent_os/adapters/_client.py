"""The agent side: ask a kernel worker before acting.

:class:`KernelClient` signs an action request with the agent's key, sends it
over the bus, and waits for a verdict. It accepts only a verdict signed by a
pinned kernel key, addressed to this agent and bound to this request's id.
A reply that is not such a verdict — unsigned, signed by another key, in
ambiguous JSON, or a genuine verdict for another request — is dropped, logged
and counted in ``dropped``, and the client keeps waiting: whoever can publish
on the reply subject can answer first, and must not be able to turn a real
verdict into a deny. No valid verdict by the deadline, or no kernel
listening, is a deny: the action does not run.

The request signs its reply subject (``Bus.reply_address``), and kernels
answer there only: a rogue that re-publishes the agent's bytes with its own
reply subject gets no verdict, and the verdict on its copy reaches the agent.
A ``replay`` deny for a request still waited on therefore means another copy
of these very bytes was judged first, and that copy's verdict comes here: it
is dropped and counted like an invalid reply (``dropped["replay"]``) and the
wait goes on until the deadline (then ``timeout``). A deny the kernel gave
before it could verify the bytes as this agent's (``expired``,
``bad_signature``, ``malformed``, ``payload_too_large``) may answer an altered
copy: it is held, and becomes the answer only if no other verdict arrives by
the deadline.

An action held for review is waited on for as long as its rule's review term
allows: the ``review`` verdict carries the deadline the kernel set from that
term, under the kernel's signature, so a reply that is not the kernel's
cannot stretch or shorten it. ``review_max`` bounds the wait on the agent's
side; reaching either is a deny (``review_timeout``).
"""

from __future__ import annotations

import base64
import binascii
import functools
import inspect
import json
import logging
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any, ParamSpec, TypeVar

from agent_os.bus import Bus, BusError, Envelope
from agent_os.kernel_worker import (
    ACTION_SUBJECT,
    Decision,
    PolicyError,
    PolicyViolation,
    Verdict,
    action_content,
    action_request,
    call_args,
)
from agent_os.observability import ClientObserver, Metrics
from agent_os.review import wait_for_decision
from agent_os.trust import (
    AgentIdentity,
    PublicIdentity,
    SignedMessage,
    TrustError,
    TrustLevel,
    TrustRegistry,
)

log = logging.getLogger("agent_os.client")

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_TIMEOUT = 5.0
#: The longest an agent waits for a review unless told otherwise (the rule's term decides first).
DEFAULT_REVIEW_MAX = 24 * 3600.0


class KernelClient:
    """Governs an agent's actions through kernel workers on ``bus``.

    ``kernel_keys`` are the public identities of the kernel workers whose
    verdicts this agent accepts (pinned; nothing else can allow an action).
    With ``metrics``, verdict latency as the agent sees it, bus errors and
    dropped replies are recorded; spans follow when tracing is enabled.
    ``review_max`` is the longest this agent waits for a held action's review,
    whatever the rule's term (seconds; see :meth:`wait`).
    """

    def __init__(
        self,
        bus: Bus,
        identity: AgentIdentity,
        kernel_keys: Iterable[PublicIdentity],
        *,
        subject: str = ACTION_SUBJECT,
        timeout: float = DEFAULT_TIMEOUT,
        policy: str | None = None,
        metrics: Metrics | None = None,
        review_max: float = DEFAULT_REVIEW_MAX,
        wait_review: bool = True,
    ) -> None:
        self._bus = bus
        self._identity = identity
        keys = list(kernel_keys)
        if not keys:
            raise ValueError("a KernelClient needs at least one pinned kernel key")
        self._kernels = TrustRegistry.pinned(keys)
        self._subject = subject
        self._timeout = timeout
        self._policy = policy
        if not (math.isfinite(review_max) and review_max > 0):
            raise ValueError(f"review_max must be a positive number of seconds, not {review_max!r}")
        self._review_max = float(review_max)
        self._wait_review = wait_review
        #: Replies dropped because they were not a valid verdict for the request, by reason.
        self.dropped: Counter[str] = Counter()
        # Metrics and spans wrap the check, the request and the reading of replies.
        self._observer = ClientObserver(metrics)
        self._read = self._observer.receive(self._verdict)

    @property
    def agent_id(self) -> str:
        return self._identity.agent_id

    async def check(
        self,
        action: str,
        args: Mapping[str, Any] | None = None,
        *,
        tool: str | None = None,
        timeout: float | None = None,
        policy: str | None = None,
        hints: Mapping[str, Any] | None = None,
        wait_review: bool | None = None,
    ) -> Verdict:
        """Ask for a verdict. Never raises for a deny; every failure is a deny.

        ``hints`` help the kernel classify a tool call (``{"action": declared
        kind, "class": tool class, "annotations": {...}}``). An action held
        for human review is waited on (:meth:`wait`) unless ``wait_review`` is
        false: then the ``review`` verdict comes back with its ticket.
        """
        verdict = await self._observer.check(
            self._check, action, args, tool=tool, timeout=timeout, policy=policy, hints=hints
        )
        if verdict.decision is Decision.REVIEW and (
            self._wait_review if wait_review is None else wait_review
        ):
            return await self.wait(verdict)
        return verdict

    async def wait(
        self, ticket: Verdict, *, timeout: float | None = None, poll: float | None = None
    ) -> Verdict:
        """The final verdict on an action held for review (``ticket``: its ``review`` verdict).

        Waits until a reviewer decides or the ticket's deadline passes: the
        kernel set it from the holding rule's review term and signed it. The
        wait is bounded by ``timeout``, else the client's ``review_max``
        (:meth:`review_wait`). No decision by then is a deny. Only a verdict
        signed by a pinned kernel key counts. ``poll`` bounds one long poll (a
        desk that dies costs at most that).
        """
        bound = self._review_max if timeout is None else timeout
        now = time.time()
        if ticket.deadline is not None and ticket.deadline - now > bound:
            log.warning(
                "review %s: rule %s allows reviewers %.0fs; this agent waits at most %gs",
                ticket.ticket, ticket.rule, ticket.deadline - now, bound,
            )  # fmt: skip
        return await wait_for_decision(
            self._bus,
            self._identity,
            self._kernels,
            ticket,
            timeout=bound,
            **({} if poll is None else {"poll": poll}),
        )

    def review_wait(self, ticket: Verdict, *, now: float | None = None) -> float:
        """Seconds :meth:`wait` would wait on ``ticket`` from ``now``: the term, capped.

        0 for a verdict that carries no deadline (nothing to wait for: a deny).
        """
        if ticket.deadline is None:
            return 0.0
        left = ticket.deadline - (time.time() if now is None else now)
        return max(0.0, min(left, self._review_max))

    def seal(self, content: Mapping[str, Any]) -> str:
        """``content`` (JSON) signed with this agent's key, as one string.

        For state the agent hands out and must get back unchanged, such as a
        held call's ticket in a LangGraph interrupt: only this agent's key
        makes a token :meth:`unseal` accepts, in this process or a later one.
        """
        return seal(content, self._identity.sign)

    def unseal(self, token: object) -> dict[str, Any] | None:
        """The content of a token :meth:`seal` made with this agent's key; ``None`` otherwise."""
        return unseal(token, self._identity.public().verify)

    async def _check(
        self,
        action: str,
        args: Mapping[str, Any] | None,
        *,
        tool: str | None,
        timeout: float | None,
        policy: str | None,
        hints: Mapping[str, Any] | None = None,
    ) -> Verdict:
        timeout = self._timeout if timeout is None else timeout
        try:
            content = action_content(
                action, args, tool=tool, policy=policy or self._policy, hints=hints
            )
            request = await action_request(
                self._bus, self._identity, content, timeout=timeout, subject=self._subject
            )
        except BusError as exc:
            return Verdict.deny(exc.code, f"no verdict: {exc}")
        except (TypeError, ValueError) as exc:
            return Verdict.deny("malformed_action", f"action cannot be sent: {exc}")
        accepted: list[Verdict] = []
        refused: list[str] = []
        held: list[Verdict] = []

        def accept(reply: Envelope) -> bool:
            verdict = self._read(reply, request.id)
            if isinstance(verdict, Verdict) and verdict.code in _ABOUT_A_COPY:
                # A deny about bytes the kernel could not take as these: a copy may have
                # been altered on the way. Kept for the deadline, not taken as the answer.
                held.append(verdict)
                self.dropped[verdict.code] += 1
                self._observer.dropped(verdict.code)
                log.warning("request %s: a %s deny held until the deadline: a copy of the "
                            "request may have been altered", request.id, verdict.code)  # fmt: skip
                return False
            if isinstance(verdict, str):
                refused.append(verdict)
                self.dropped[verdict] += 1
                self._observer.dropped(verdict)
                if verdict in _UNPINNED:
                    _log_unpinned(request.id, reply.body, verdict)
                else:
                    log.warning("request %s: dropped a reply that is no valid verdict (%s)",
                                request.id, verdict)  # fmt: skip
                return False
            accepted.append(verdict)
            return True

        try:
            await self._observer.request(self._bus, request, timeout, accept=accept)
        except BusError as exc:
            if held and exc.code == "timeout":
                first = held[0]
                return replace(first, reason=f"{first.reason} (no other verdict by the deadline)")
            dropped = f"; {len(refused)} invalid repl(ies) dropped" if refused else ""
            return Verdict.deny(exc.code, f"no verdict: {exc}{dropped}")
        return accepted[-1]

    def _verdict(self, reply: Envelope, request_id: str) -> Verdict | str:
        """The verdict in ``reply`` if it is valid for ``request_id``, else why not."""
        try:
            message = SignedMessage.from_bytes(reply.body)
        except TrustError:
            return "unreadable"
        result = self._kernels.verify(message, expected_recipient=self.agent_id)
        if not result.valid:
            return result.reason
        if result.trust_level is not TrustLevel.KERNEL:
            return "not_a_kernel"
        try:
            verdict = Verdict.from_dict(message.json())
        except (TrustError, PolicyError):
            return "unreadable"
        if verdict.request_id != request_id:
            return "other_request"
        if verdict.decision is Decision.DENY and verdict.code == "replay":
            return "replay"  # another copy of this request was judged first: its verdict comes
        return verdict

    async def execute(
        self,
        fn: Callable[..., Any],
        *args: Any,
        action: str = "tool_call",
        tool: str | None = None,
        **kwargs: Any,
    ) -> Any:
        """Run ``fn(*args, **kwargs)`` only if the kernel allows it.

        The call is sent as ``action`` (``tool_call`` unless given: another
        type such as ``file_write`` is an explicit declaration of what the
        function does) of the tool ``tool`` (default: the function's name).
        Raises :class:`PolicyViolation` (carrying the verdict) otherwise.
        """
        verdict = await self.check(action, call_args(fn, args, kwargs), tool=tool or fn.__name__)
        if verdict.decision not in (Decision.ALLOW, Decision.WARN):
            raise PolicyViolation(verdict)
        result = fn(*args, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result


#: Denies a kernel gives before it has verified the bytes as this agent's own: whoever
#: can copy a request can alter the copy (an unsigned deadline, one flipped byte) and
#: earn one of these, bound to the real request's id. Such a deny is held, and is the
#: answer only if no other verdict comes by the deadline.
_ABOUT_A_COPY = frozenset({"expired", "bad_signature", "malformed", "payload_too_large"})

#: Why a reply signed by a key this agent does not pin is dropped.
_UNPINNED = frozenset({"unknown_agent", "bad_signature"})


def _log_unpinned(request_id: str, body: bytes, reason: str) -> None:
    """Name the kernel a dropped verdict claims to come from: a worker serving with a key
    the agents do not pin (a rotation done in the wrong order) shows up here as timeouts."""
    sender = SignedMessage.from_bytes(body).sender_id
    which = "an unpinned key" if reason == "unknown_agent" else "a key other than the pinned one"
    log.warning(
        "request %s: dropped a verdict signed as kernel %r with %s (%s): if %r is one of your "
        "workers, every agent must pin its key before it serves, or its verdicts time out",
        request_id, sender, which, reason, sender,
    )  # fmt: skip


def seal(content: Mapping[str, Any], sign: Callable[[bytes], bytes]) -> str:
    """``content`` as canonical JSON and ``sign``'s signature over it: ``BODY.SIGNATURE``."""
    body = json.dumps(content, sort_keys=True, separators=(",", ":")).encode()
    return f"{_b64(body)}.{_b64(sign(body))}"


def unseal(token: object, verify: Callable[[bytes, bytes], bool]) -> dict[str, Any] | None:
    """The JSON object a :func:`seal` token carries if ``verify(body, signature)``; else None."""
    if not isinstance(token, str) or token.count(".") != 1:
        return None
    body_text, _, signature_text = token.partition(".")
    try:
        body, signature = _unb64(body_text), _unb64(signature_text)
        if not verify(body, signature):
            return None
        content = json.loads(body)
    except (binascii.Error, ValueError):
        return None
    return content if isinstance(content, dict) else None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def governed(
    client: KernelClient, *, action: str = "tool_call", tool: str | None = None
) -> Callable[[Callable[P, Any]], Callable[P, Awaitable[Any]]]:
    """Route every call of a plain function through ``client`` first.

    The decorated function becomes a coroutine function: ``await fn(...)``
    runs it only after an allowing verdict and raises ``PolicyViolation``
    otherwise.
    """

    def decorate(fn: Callable[P, Any]) -> Callable[P, Awaitable[Any]]:
        @functools.wraps(fn)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
            return await client.execute(fn, *args, action=action, tool=tool, **kwargs)

        return wrapper

    return decorate
