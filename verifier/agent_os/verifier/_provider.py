"""The ``Provider`` protocol and the one HTTP call path every vendor shares.

All three vendors (OpenAI-compatible chat, Anthropic Messages, Gemini
``generateContent``) are spoken over their documented HTTP APIs with
``httpx`` rather than through the vendors' SDKs: one dependency instead of
three (each SDK pins its own ``httpx`` and ``pydantic`` ranges), and one
place for the timeout, the retries with backoff and jitter, and the
concurrency limit, so the three behave the same under 429s and outages.
A vendor module only builds its request and reads its response.

A server that says when to come back is believed: ``retry-after-ms`` (sent
by OpenAI and Anthropic) or ``Retry-After`` in seconds or as an HTTP date
sets the wait before the next attempt instead of the backoff. A wait that
would end past the model's timeout is not waited out: the model fails at
once as timed out.
"""

from __future__ import annotations

import asyncio
import email.utils
import math
import random
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import httpx
from pydantic import SecretStr

from ._errors import MalformedResponse, ProviderError, ProviderTimeout, RateLimited

#: Status codes worth another try: rate limits and the server's own failures.
RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 529})
_SECONDS = re.compile(r"[0-9]{1,10}(\.[0-9]{1,6})?")


def retry_after(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds the server asks to wait before trying again, or ``None`` when it does not say.

    ``retry-after-ms`` wins over ``Retry-After``; ``Retry-After`` is
    delay-seconds or an HTTP date (RFC 9110 section 10.2.3), read against
    ``now`` (Unix seconds). An unreadable value is ignored, as if absent.
    """
    millis = headers.get("retry-after-ms", "").strip()
    if _SECONDS.fullmatch(millis):
        return float(millis) / 1000
    value = headers.get("retry-after", "").strip()
    if _SECONDS.fullmatch(value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    seconds = when.timestamp() - now if when.tzinfo is not None else math.nan
    return max(0.0, seconds) if math.isfinite(seconds) else None


@dataclass(frozen=True, slots=True)
class Answer:
    """One model's answer, with what the vendor reported about its cost."""

    model: str
    text: str
    latency_s: float
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None


@dataclass(frozen=True, slots=True)
class CallSettings:
    """How one model is called.

    ``timeout`` bounds the whole call, retries included; ``retries`` is the
    number of extra attempts after a 429, a 5xx or a dropped connection, each
    after ``backoff * 2**n`` seconds (at most ``max_backoff``) with full jitter,
    or after the server's ``Retry-After`` (plus up to 10 % jitter) when it
    gives one; ``concurrency`` caps the calls in flight to this model.
    """

    timeout: float = 30.0
    retries: int = 2
    backoff: float = 0.25
    max_backoff: float = 4.0
    concurrency: int = 8
    max_tokens: int = 512
    #: USD per million input / output tokens; the cost is reported when both are set.
    price_in: float | None = None
    price_out: float | None = None


@runtime_checkable
class Provider(Protocol):
    """A model that answers a prompt with text."""

    @property
    def name(self) -> str:
        """The model's label in results (``vendor:model``)."""
        ...

    async def complete(self, prompt: str) -> Answer:
        """Answer ``prompt``; raise :class:`ProviderError` on failure."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


@dataclass
class HTTPProvider:
    """Base of the vendor providers: request building and parsing left to subclasses."""

    model: str
    base_url: str
    api_key: SecretStr | None = None
    settings: CallSettings = field(default_factory=CallSettings)
    vendor: str = "http"
    _client: httpx.AsyncClient | None = field(default=None, init=False, repr=False)
    _limit: asyncio.Semaphore | None = field(default=None, init=False, repr=False)

    @property
    def name(self) -> str:
        return f"{self.vendor}:{self.model}"

    def _request(self, prompt: str) -> tuple[str, dict[str, str], dict[str, Any]]:
        """URL path (joined to ``base_url``), headers and JSON body."""
        raise NotImplementedError

    def _parse(self, body: Any) -> tuple[str, int | None, int | None]:
        """Text, input tokens, output tokens; raise ``MalformedResponse``."""
        raise NotImplementedError

    def _key(self) -> str:
        return self.api_key.get_secret_value() if self.api_key is not None else ""

    async def complete(self, prompt: str) -> Answer:
        if self._limit is None:
            self._limit = asyncio.Semaphore(self.settings.concurrency)
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self.base_url.rstrip("/") + "/",
                limits=httpx.Limits(max_connections=self.settings.concurrency),
            )
        started = time.perf_counter()
        deadline = asyncio.get_running_loop().time() + self.settings.timeout
        try:
            async with asyncio.timeout_at(deadline), self._limit:
                body = await self._post_with_retries(self._client, prompt, deadline)
        except TimeoutError:
            raise ProviderTimeout(
                f"{self.name}: no answer within {self.settings.timeout:g} s"
            ) from None
        text, tokens_in, tokens_out = self._parse(body)
        return Answer(
            model=self.name,
            text=text,
            latency_s=time.perf_counter() - started,
            input_tokens=tokens_in,
            output_tokens=tokens_out,
            cost_usd=self._cost(tokens_in, tokens_out),
        )

    def _cost(self, tokens_in: int | None, tokens_out: int | None) -> float | None:
        s = self.settings
        if None in (s.price_in, s.price_out, tokens_in, tokens_out):
            return None
        assert s.price_in is not None and s.price_out is not None
        assert tokens_in is not None and tokens_out is not None
        return (tokens_in * s.price_in + tokens_out * s.price_out) / 1e6

    async def _post_with_retries(
        self, client: httpx.AsyncClient, prompt: str, deadline: float
    ) -> Any:
        path, headers, payload = self._request(prompt)
        attempt = 0
        while True:
            error: ProviderError
            asked: float | None = None
            try:
                response = await client.post(path.lstrip("/"), headers=headers, json=payload)
            except httpx.TransportError as exc:
                # The key is in the headers, never in the exception text we keep.
                error = ProviderError(f"{self.name}: {type(exc).__name__}", code="connect_error")
            else:
                if response.status_code == 200:
                    try:
                        return response.json()
                    except ValueError:
                        raise MalformedResponse(f"{self.name}: response is not JSON") from None
                if response.status_code not in RETRY_STATUS:
                    raise ProviderError(
                        f"{self.name}: HTTP {response.status_code}", code="http_error"
                    )
                asked = retry_after(response.headers, time.time())
                if response.status_code == 429:
                    error = RateLimited(f"{self.name}: HTTP 429 after {attempt + 1} attempts")
                else:
                    error = ProviderError(
                        f"{self.name}: HTTP {response.status_code}", code="http_error"
                    )
            if attempt >= self.settings.retries:
                raise error
            await asyncio.sleep(self._pause(attempt, asked, deadline))
            attempt += 1

    def _pause(self, attempt: int, asked: float | None, deadline: float) -> float:
        """Seconds to the next attempt; ``ProviderTimeout`` if told to wait past the timeout."""
        if asked is None:
            ceiling = min(self.settings.max_backoff, self.settings.backoff * 2**attempt)
            return random.uniform(0, ceiling)
        left = deadline - asyncio.get_running_loop().time()
        if asked >= left:
            raise ProviderTimeout(
                f"{self.name}: asked to retry after {asked:g} s, past its "
                f"{self.settings.timeout:g} s timeout ({max(0.0, left):.3g} s left)"
            )
        # A little jitter after the server's time, so callers told the same time spread out.
        return min(asked * random.uniform(1.0, 1.1), left)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def malformed(provider: HTTPProvider, what: str) -> MalformedResponse:
    """The error for a body that lacks ``what``."""
    return MalformedResponse(f"{provider.name}: response has no {what}")


def optional_int(value: Any) -> int | None:
    """A token count as reported, or ``None`` when absent or not an integer."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None
