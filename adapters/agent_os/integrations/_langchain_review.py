"""A SIGSTOP as a LangGraph interrupt, and the resume that carries the review back.

A held tool call raises ``interrupt(value)``; the graph stops and, once
resumed, runs the tool node again from its start. Judging the call again there
would ask the kernel a second time: a second audit record for a local kernel,
a second review item under a new ticket for a remote one. Instead the
interrupt's value carries ``review``, a sealed token of the held verdict (its
review ticket, request id and deadline) bound to the graph thread and to the
call (tool, call id, arguments), and the resumed node takes the held verdict
from the resume instead of judging again:

* remote kernel (``KernelClient``): sealed with the agent's own key, so it
  verifies in any later process of the same agent; the decision is the
  kernel-signed final verdict the review desks give for that ticket. A resume
  can refuse a held call, never approve one; resumed before any reviewer
  decided, the call interrupts again (the graph never blocks on a person).
* local kernel: sealed with a key of the governor's own (HMAC); the resume's
  answer decides, as before, and is audited once.

Resume with ``{"approved": True, "review": value["review"]}``
(:func:`review_answer`, also ``LangChainKernel.review_answer``). A plain
answer (``True``, ``"approve"``) works in the process that raised the
interrupt, which remembers the calls it held. A token sealed for another call
or thread is a deny, and so is one that does not verify with a remote kernel.
With neither token nor memory (another process, a local kernel) the call is
judged again, which is never less safe.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from langgraph.config import get_config

from agent_os.adapters import KernelClient
from agent_os.adapters._client import seal, unseal
from agent_os.kernel_worker import Decision, PolicyError, ReviewOutcome, Verdict
from agent_os.kernel_worker._call_args import json_safe

from ._bridge import await_on, run_blocking
from ._core import ToolCall, _failure

__all__ = ["REVIEW_INTERRUPT", "HeldCalls", "approved", "can_interrupt", "review_answer"]

#: The ``type`` of the value a SIGSTOP interrupt carries.
REVIEW_INTERRUPT = "agent_os.review"

_APPROVALS = frozenset({"approve", "approved", "allow", "yes"})
_CHECKPOINTER_KEY = "__pregel_checkpointer"
_SCRATCHPAD_KEY = "__pregel_scratchpad"
#: Seconds a resumed remote call asks the review desks for a decision before stopping again.
_PEEK = 1.0


def _configurable() -> Mapping[str, Any]:
    try:  # outside a graph run there is no config
        found = get_config().get("configurable") or {}
    except Exception:
        return {}
    return found if isinstance(found, Mapping) else {}


def can_interrupt() -> bool:
    """True inside a graph run with a checkpointer (an interrupt there can be resumed)."""
    return _configurable().get(_CHECKPOINTER_KEY) is not None


def _resume_values() -> list[Any]:
    """The resume values waiting for this graph task's interrupts (none on a first run)."""
    scratchpad = _configurable().get(_SCRATCHPAD_KEY)
    if scratchpad is None:
        return []
    try:
        values = list(scratchpad.resume)
        null = scratchpad.get_null_resume(False)  # peek: interrupt() consumes it
    except Exception:
        return []
    return values if null is None else [*values, null]


def approved(answer: Any) -> bool:
    """Only an explicit approval approves; anything else denies."""
    if answer is True or answer is ReviewOutcome.APPROVED:
        return True
    if isinstance(answer, str):
        return answer.strip().lower() in _APPROVALS
    if isinstance(answer, Mapping):
        if answer.get("approved") is True:
            return True
        decision = answer.get("decision")
        return isinstance(decision, str) and decision.strip().lower() in _APPROVALS
    return False


def review_answer(value: Mapping[str, Any], *, approved: bool = True) -> dict[str, Any]:
    """The resume for a review interrupt's ``value``: ``Command(resume=review_answer(v))``."""
    return {"approved": approved, "review": value.get("review")}


def _token_of(answer: Any) -> object:
    return answer.get("review") if isinstance(answer, Mapping) else None


class HeldCalls:
    """The calls a governor held with an interrupt, sealed into their interrupts' values.

    ``client``: a remote kernel's client, whose agent key seals (else a random
    key of this object's), living on ``loop``. Keeps the last ``keep`` held
    calls in memory.
    """

    def __init__(
        self,
        client: KernelClient | None,
        loop: asyncio.AbstractEventLoop | None = None,
        *,
        keep: int = 1024,
    ) -> None:
        self._client = client
        self._loop = loop
        self._key = secrets.token_bytes(32)
        self._held: OrderedDict[str, Verdict] = OrderedDict()
        self._keep = keep
        self._lock = threading.Lock()

    def payload(self, call: ToolCall, verdict: Verdict) -> dict[str, Any]:
        """The interrupt's value for ``call`` held by ``verdict`` (remembered, and sealed)."""
        key = _call_key(call)
        with self._lock:
            self._held[key] = verdict
            self._held.move_to_end(key)
            while len(self._held) > self._keep:
                self._held.popitem(last=False)
        return {
            "type": REVIEW_INTERRUPT,
            "tool": call.tool,
            "args": dict(call.args),
            "tool_call_id": call.call_id,
            "rule": verdict.rule,
            "reason": verdict.reason,
            "policy": verdict.policy,
            "request_id": verdict.request_id,
            "ticket": verdict.ticket,
            "deadline": verdict.deadline,
            "review": self._seal({"call": key, "verdict": verdict.to_dict()}),
        }

    def resumed(self, call: ToolCall) -> Verdict | None:
        """The held verdict of ``call`` when this graph task is resuming it, else ``None``."""
        values = _resume_values()
        if not values:
            return None
        key = _call_key(call)
        with self._lock:
            held = self._held.get(key)
        if held is not None:
            return held
        for value in values:
            found = self._unsealed(_token_of(value), key)
            if found is not None:
                return found
        return None

    def answered(self, call: ToolCall, held: Verdict, answer: Any) -> Verdict:
        """The held verdict ``answer`` resumes: ``held``, or a deny for a token not ``call``'s.

        A token that does not verify is a deny for a remote kernel (only this
        agent's key seals). For a local kernel it was sealed by another
        process: ``held`` (this call's own verdict) stands and the answer decides.
        """
        key = _call_key(call)
        with self._lock:
            self._held.pop(key, None)
        token = _token_of(answer)
        if token is None:
            return held  # a plain answer (True, "approve") to the interrupt of this call
        content = self._unseal(token)
        if content is None and self._client is None:
            return held
        found = None if content is None else _held_verdict(content, key)
        if found is None:
            return Verdict.deny(
                "review_mismatch",
                "the resume carries a review token that is not this call's (or does not verify)",
            )
        return found

    # -- a remote kernel's decision ----------------------------------------------------

    def decided(self, call: ToolCall, held: Verdict) -> Verdict | None:
        """A remote held call's final verdict if a reviewer decided; ``None`` while pending."""
        try:
            return _settled(held, run_blocking(self._loop, lambda: self._peek(held), None))
        except Exception as exc:
            return _failure(call, exc)

    async def adecided(self, call: ToolCall, held: Verdict) -> Verdict | None:
        """Async :meth:`decided`."""
        try:
            return _settled(held, await await_on(self._loop, lambda: self._peek(held)))
        except Exception as exc:
            return _failure(call, exc)

    async def _peek(self, held: Verdict) -> Verdict:
        # The desks answer at once when the item is decided, after a short wait otherwise.
        assert self._client is not None
        return await self._client.wait(held, timeout=_PEEK)

    # -- sealing ---------------------------------------------------------------------

    def _seal(self, content: Mapping[str, Any]) -> str:
        if self._client is not None:
            return self._client.seal(content)
        return seal(content, self._mac)

    def _unseal(self, token: object) -> dict[str, Any] | None:
        if self._client is not None:
            return self._client.unseal(token)
        return unseal(token, lambda body, mac: hmac.compare_digest(self._mac(body), mac))

    def _mac(self, body: bytes) -> bytes:
        return hmac.digest(self._key, body, "sha256")

    def _unsealed(self, token: object, key: str) -> Verdict | None:
        content = self._unseal(token)
        return None if content is None else _held_verdict(content, key)


def _held_verdict(content: Mapping[str, Any], key: str) -> Verdict | None:
    """The held verdict a token's ``content`` carries, if it was sealed for the call ``key``."""
    if content.get("call") != key:
        return None
    try:
        verdict = Verdict.from_dict(content.get("verdict"))
    except PolicyError:
        return None
    return verdict if verdict.decision is Decision.REVIEW else None


def _settled(held: Verdict, final: Verdict) -> Verdict | None:
    """``final``, or ``None`` when it only says a short wait ended before anyone decided."""
    waiting = final.code == "review_timeout" and time.time() < (held.deadline or 0.0)
    return None if waiting else final


def _call_key(call: ToolCall) -> str:
    """What binds a held verdict to one call: the graph thread, the call's id, tool and args."""
    scope = _configurable().get("thread_id")
    text = json.dumps(
        [str(scope), call.tool, call.call_id, json_safe(call.args)],
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(text.encode()).hexdigest()
