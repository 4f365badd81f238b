"""The ``Provider`` protocol and the one HTTP call path every vendor shares.

All three vendors (OpenAI-compatible chat, Anthropic Messages, Gemini
``generateContent``) are spoken over their documented HTTP APIs with
``httpx`` rather than through the vendors' SDKs: one dependency instead of
three (each SDK pins its own ``httpx`` and ``pydantic`` ranges), and one
place for the timeout, the retries with backoff and jitter, and the
concurrency limit, so the three behave the same under 429s and outages.
A vendor module only builds its request and reads its response.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import httpx
from pydantic import SecretStr

from ._errors import MalformedResponse, ProviderError, ProviderTimeout, RateLimited

#: Status codes worth another try: rate limits and the server's own failures.
RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 529})


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
    after ``backoff * 2**n`` seconds (at most ``max_backoff``) with full jitter;
    ``concurrency`` caps the calls in flight to this model.
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
        try:
            async with asyncio.timeout(self.settings.timeout), self._limit:
                body = await self._post_with_retries(self._client, prompt)
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

    async def _post_with_retries(self, client: httpx.AsyncClient, prompt: str) -> Any:
        path, headers, payload = self._request(prompt)
        attempt = 0
        while True:
            error: ProviderError
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
                if response.status_code == 429:
                    error = RateLimited(f"{self.name}: HTTP 429 after {attempt + 1} attempts")
                else:
                    error = ProviderError(
                        f"{self.name}: HTTP {response.status_code}", code="http_error"
                    )
            if attempt >= self.settings.retries:
                raise error
            delay = min(self.settings.max_backoff, self.settings.backoff * 2**attempt)
            await asyncio.sleep(random.uniform(0, delay))
            attempt += 1

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
