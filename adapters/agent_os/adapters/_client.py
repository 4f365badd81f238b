"""The agent side: ask a kernel worker before acting.

:class:`KernelClient` signs an action request with the agent's key, sends it
over the bus, and waits for a verdict. It accepts only a verdict signed by a
pinned kernel key, addressed to this agent and bound to this request's id.
Anything else — no answer in time, no kernel listening, a verdict that does
not verify — is a deny: the action does not run.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, ParamSpec, TypeVar

from agent_os.bus import Bus, BusError, Envelope
from agent_os.kernel_worker import (
    ACTION_SUBJECT,
    Decision,
    PolicyError,
    PolicyViolation,
    Verdict,
    action_content,
    call_args,
)
from agent_os.trust import (
    AgentIdentity,
    PublicIdentity,
    SignedMessage,
    TrustError,
    TrustLevel,
    TrustRegistry,
)

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_TIMEOUT = 5.0


class KernelClient:
    """Governs an agent's actions through kernel workers on ``bus``.

    ``kernel_keys`` are the public identities of the kernel workers whose
    verdicts this agent accepts (pinned; nothing else can allow an action).
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
    ) -> None:
        self._bus = bus
        self._identity = identity
        keys = list(kernel_keys)
        if not keys:
            raise ValueError("a KernelClient needs at least one pinned kernel key")
        self._kernels = TrustRegistry()
        for key in keys:
            self._kernels.register(key, TrustLevel.KERNEL)
        self._subject = subject
        self._timeout = timeout
        self._policy = policy

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
    ) -> Verdict:
        """Ask for a verdict. Never raises for a deny; every failure is a deny."""
        timeout = self._timeout if timeout is None else timeout
        try:
            content = action_content(action, args, tool=tool, policy=policy or self._policy)
            message = SignedMessage.create(self._identity, "agentos.kernel", content)
        except (TypeError, ValueError) as exc:
            return Verdict.deny("malformed_action", f"action cannot be sent: {exc}")
        request = Envelope(
            subject=self._subject,
            body=message.to_bytes(),
            id=message.id,
            deadline=time.time() + timeout,
        )
        try:
            reply = await self._bus.request(request, timeout)
        except BusError as exc:
            return Verdict.deny(exc.code, f"no verdict: {exc}")
        return self._accept(reply, message.id)

    def _accept(self, reply: Envelope, request_id: str) -> Verdict:
        try:
            message = SignedMessage.from_bytes(reply.body)
        except TrustError as exc:
            return Verdict.deny("bad_verdict", f"verdict unreadable: {exc}")
        result = self._kernels.verify(message, expected_recipient=self.agent_id)
        if not result.valid or result.trust_level is not TrustLevel.KERNEL:
            return Verdict.deny("bad_verdict", f"verdict rejected: {result.reason}")
        try:
            verdict = Verdict.from_dict(message.json())
        except (TrustError, PolicyError) as exc:
            return Verdict.deny("bad_verdict", f"verdict unreadable: {exc}")
        if verdict.request_id != request_id:
            return Verdict.deny("bad_verdict", "verdict is bound to another request")
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

        Raises :class:`PolicyViolation` (carrying the verdict) otherwise.
        """
        verdict = await self.check(action, call_args(fn, args, kwargs), tool=tool or fn.__name__)
        if verdict.decision not in (Decision.ALLOW, Decision.WARN):
            raise PolicyViolation(verdict)
        result = fn(*args, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result


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
