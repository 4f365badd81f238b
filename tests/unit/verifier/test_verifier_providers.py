"""Each vendor's provider against a loopback server speaking that vendor's API."""

from __future__ import annotations

import email.utils
import logging
import time
from pathlib import Path

import pytest

from agent_os.verifier import (
    Answer,
    AnthropicMessages,
    CallSettings,
    ConfigurationError,
    ConsensusVerifier,
    GeminiGenerate,
    LexicalJudge,
    MalformedResponse,
    OpenAIChat,
    ProviderError,
    ProviderTimeout,
    RateLimited,
    parse_model,
    resolve,
)
from agent_os.verifier._provider import HTTPProvider, retry_after
from tests.unit.verifier.vendor_server import Delay, Hang, Malformed, Status, vendor_server

FAST = CallSettings(timeout=5.0, retries=2, backoff=0.01, max_backoff=0.02)
VENDORS = {
    "openai": ("openai:m", "/v1", "authorization", "Bearer sk-test-123", (11, 3)),
    "anthropic": ("anthropic:m", "", "x-api-key", "sk-test-123", (12, 4)),
    "gemini": ("gemini:m", "", "x-goog-api-key", "sk-test-123", (13, 5)),
}
ENV = {
    "OPENAI_API_KEY": "sk-test-123",
    "ANTHROPIC_API_KEY": "sk-test-123",
    "GEMINI_API_KEY": "sk-test-123",
}


def provider(vendor: str, url: str, settings: CallSettings = FAST) -> HTTPProvider:
    spec, suffix, *_ = VENDORS[vendor]
    made = resolve(f"{spec}@{url}{suffix}", settings=settings, environ=ENV)
    assert isinstance(made, HTTPProvider)
    return made


async def ask(vendor: str, url: str, settings: CallSettings = FAST, prompt: str = "q") -> Answer:
    """One ``complete`` of a fresh provider, closed after, whatever it raised."""
    p = provider(vendor, url, settings)
    try:
        return await p.complete(prompt)
    finally:
        await p.aclose()


@pytest.fixture(params=sorted(VENDORS))
def vendor(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_answer_tokens_and_key_header(vendor: str) -> None:
    with vendor_server({"m": ["Paris"]}) as server:
        answer = await ask(vendor, server.url, prompt="capital of France?")
    _, _, header, value, tokens = VENDORS[vendor]
    assert answer.text == "Paris"
    assert answer.model == f"{vendor}:m"
    assert (answer.input_tokens, answer.output_tokens) == tokens
    assert server.requests[0]["headers"][header] == value
    assert "capital of France?" in str(server.requests[0]["body"])


async def test_429_then_success(vendor: str) -> None:
    with vendor_server({"m": [Status(429), Status(503), "Paris"]}) as server:
        answer = await ask(vendor, server.url)
    assert answer.text == "Paris"
    assert server.calls("m") == 3


def _http_date(seconds_from_now: float) -> str:
    return email.utils.formatdate(time.time() + seconds_from_now, usegmt=True)


@pytest.mark.parametrize(("status", "form"), [(429, "seconds"), (503, "http-date")])
async def test_retry_after_is_waited_out_then_success(vendor: str, status: int, form: str) -> None:
    # The backoff alone would retry within 20 ms: the wait seen by the server is the header's.
    wait = "1" if form == "seconds" else _http_date(2)
    with vendor_server({"m": [Status(status, retry_after=wait), "Paris"]}) as server:
        answer = await ask(vendor, server.url)
    assert answer.text == "Paris"
    first, second = (r["at"] for r in server.requests)
    # An HTTP date has whole seconds: "now + 2 s" is at least 1 s away when it is read.
    assert second - first >= 1.0


async def test_retry_after_past_the_timeout_fails_as_a_timeout_without_waiting(
    vendor: str,
) -> None:
    settings = CallSettings(timeout=3.0, retries=2, backoff=0.01)
    with (
        vendor_server({"m": [Status(429, retry_after="120"), "Paris"]}) as server,
        pytest.raises(ProviderTimeout, match="asked to retry after 120 s") as info,
    ):
        await ask(vendor, server.url, settings)
    assert info.value.code == "timeout"
    assert server.calls("m") == 1


async def test_a_model_told_to_come_back_after_its_timeout_is_reported_failed() -> None:
    scripts = {
        "a": ["1889"],
        "b": ["1889"],
        "c": [Status(503, retry_after=_http_date(3600))],
    }
    settings = CallSettings(timeout=3.0, retries=2, backoff=0.01)
    with vendor_server(scripts) as server:
        models = [f"openai:{m}@{server.url}/v1" for m in scripts]
        verifier = ConsensusVerifier(models=models, settings=settings, judge=LexicalJudge())
        async with verifier:
            result = await verifier.verify_consensus("Year?")
    assert result.outcome == "agreed"
    assert result.failed_models == ("openai:c",)
    assert {m.model: m.error_code for m in result.models}["openai:c"] == "timeout"
    assert server.calls("c") == 1


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": " 1.5 "}, 1.5),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after": "Sun, 06 Nov 1994 08:49:37 GMT"}, 0.0),  # in the past: at once
        ({"retry-after": "Sun, 06 Nov 1994 08:49:47 GMT"}, 10.0),
        ({"retry-after": "-3"}, None),
        ({"retry-after": "soon"}, None),
        ({"retry-after": "Sun, 06 Nov 1994 08:49:47"}, None),  # no zone: unreadable
        ({}, None),
    ],
)
def test_retry_after_forms(headers: dict[str, str], seconds: float | None) -> None:
    now = 784111777.0  # Sun, 06 Nov 1994 08:49:37 GMT
    assert retry_after(headers, now) == seconds


async def test_429_every_time_is_rate_limited(vendor: str) -> None:
    with vendor_server({"m": [Status(429)]}) as server, pytest.raises(RateLimited) as info:
        await ask(vendor, server.url)
    assert info.value.code == "rate_limited"
    assert server.calls("m") == FAST.retries + 1


async def test_client_error_is_not_retried(vendor: str) -> None:
    with (
        vendor_server({"m": [Status(401), "Paris"]}) as server,
        pytest.raises(ProviderError) as info,
    ):
        await ask(vendor, server.url)
    assert info.value.code == "http_error"
    assert server.calls("m") == 1


@pytest.mark.parametrize("body", [b"not json", b'{"unexpected": true}', b"[]", b'{"choices": 3}'])
async def test_malformed_body(vendor: str, body: bytes) -> None:
    with (
        vendor_server({"m": [Malformed(body)]}) as server,
        pytest.raises(MalformedResponse) as info,
    ):
        await ask(vendor, server.url)
    assert info.value.code == "malformed_response"


async def test_model_that_never_answers_times_out(vendor: str) -> None:
    with vendor_server({"m": [Hang()]}) as server, pytest.raises(ProviderTimeout) as info:
        await ask(vendor, server.url, CallSettings(timeout=0.3, retries=0))
    assert info.value.code == "timeout"


async def test_unreachable_server_is_a_connect_error(vendor: str) -> None:
    with vendor_server({}) as server:
        url = server.url
    with pytest.raises(ProviderError) as info:
        await ask(vendor, url, CallSettings(timeout=5.0, retries=1, backoff=0.01))
    assert info.value.code == "connect_error"


async def test_concurrency_limit_holds_calls_back(vendor: str) -> None:
    import asyncio

    with vendor_server({"m": [Delay(0.1, "Paris")]}) as server:
        p = provider(vendor, server.url, CallSettings(timeout=10, retries=0, concurrency=1))
        answers = await asyncio.gather(*(p.complete("q") for _ in range(3)))
        await p.aclose()
    assert [a.text for a in answers] == ["Paris"] * 3
    assert server.max_in_flight == 1


def test_model_strings() -> None:
    assert parse_model("gpt-4o") == ("openai", "gpt-4o", None)
    assert parse_model("claude-sonnet-4-5") == ("anthropic", "claude-sonnet-4-5", None)
    assert parse_model("anthropic:claude-sonnet-4-5") == ("anthropic", "claude-sonnet-4-5", None)
    assert parse_model("gemini:gemini-2.5-pro") == ("gemini", "gemini-2.5-pro", None)
    assert parse_model("openai:llama3@http://127.0.0.1:8000/v1") == (
        "openai",
        "llama3",
        "http://127.0.0.1:8000/v1",
    )
    for bad in ("llama3", "mistral:x", "openai:", "openai:x@ftp://h/"):
        with pytest.raises(ConfigurationError):
            parse_model(bad)


def test_vendor_classes() -> None:
    env = ENV
    assert isinstance(resolve("gpt-4o", environ=env), OpenAIChat)
    assert isinstance(resolve("claude-sonnet-4-5", environ=env), AnthropicMessages)
    assert isinstance(resolve("gemini-2.5-pro", environ=env), GeminiGenerate)


def test_missing_key_is_a_configuration_error_naming_the_variable() -> None:
    with pytest.raises(ConfigurationError, match="ANTHROPIC_API_KEY"):
        resolve("anthropic:claude-sonnet-4-5", environ={})
    # A loopback server (vLLM, Ollama) needs none.
    assert resolve("openai:llama3@http://127.0.0.1:8000/v1", environ={}).name == "openai:llama3"
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        resolve("openai:llama3@http://gateway.example:8000/v1", environ={})


def test_key_from_file_and_never_shown(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("sk-secret-from-file\n")
    caplog.set_level(logging.DEBUG)
    p = resolve("gpt-4o", environ={"OPENAI_API_KEY_FILE": str(key_file)})
    assert isinstance(p, HTTPProvider)
    assert p.api_key is not None and p.api_key.get_secret_value() == "sk-secret-from-file"
    assert "sk-secret" not in repr(p) and "sk-secret" not in str(p)
    assert "sk-secret" not in caplog.text
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY_FILE"):
        resolve("gpt-4o", environ={"OPENAI_API_KEY_FILE": str(tmp_path / "absent")})
