"""The three vendor dialects: OpenAI-compatible chat, Anthropic Messages, Gemini.

Each documents one request and one response shape; everything else (timeout,
retries, concurrency) is :class:`HTTPProvider`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._provider import HTTPProvider, malformed, optional_int

ANTHROPIC_VERSION = "2023-06-01"


@dataclass
class OpenAIChat(HTTPProvider):
    """``POST {base_url}/chat/completions``: OpenAI, Azure OpenAI, vLLM, Ollama, LM Studio."""

    vendor: str = "openai"

    def _request(self, prompt: str) -> tuple[str, dict[str, str], dict[str, Any]]:
        headers = {"authorization": f"Bearer {self._key()}"} if self.api_key else {}
        body = {
            "model": self.model,
            "messages": [{"role": "user", "content": prompt}],
            "temperature": 0,
            "max_tokens": self.settings.max_tokens,
        }
        return "chat/completions", headers, body

    def _parse(self, body: Any) -> tuple[str, int | None, int | None]:
        try:
            text = body["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise malformed(self, "choices[0].message.content") from None
        if not isinstance(text, str):
            raise malformed(self, "text content")
        usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
        return (
            text,
            optional_int(usage.get("prompt_tokens")),
            optional_int(usage.get("completion_tokens")),
        )


@dataclass
class AnthropicMessages(HTTPProvider):
    """``POST {base_url}/v1/messages`` with ``x-api-key`` and ``anthropic-version``."""

    vendor: str = "anthropic"

    def _request(self, prompt: str) -> tuple[str, dict[str, str], dict[str, Any]]:
        headers = {"x-api-key": self._key(), "anthropic-version": ANTHROPIC_VERSION}
        body = {
            "model": self.model,
            "max_tokens": self.settings.max_tokens,
            "messages": [{"role": "user", "content": prompt}],
        }
        return "v1/messages", headers, body

    def _parse(self, body: Any) -> tuple[str, int | None, int | None]:
        blocks = body.get("content") if isinstance(body, dict) else None
        if not isinstance(blocks, list):
            raise malformed(self, "content blocks")
        texts = [b["text"] for b in blocks if isinstance(b, dict) and b.get("type") == "text"]
        if not texts or not all(isinstance(t, str) for t in texts):
            raise malformed(self, "text block")
        usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
        return (
            "".join(texts),
            optional_int(usage.get("input_tokens")),
            optional_int(usage.get("output_tokens")),
        )


@dataclass
class GeminiGenerate(HTTPProvider):
    """``POST {base_url}/v1beta/models/{model}:generateContent`` with ``x-goog-api-key``."""

    vendor: str = "gemini"

    def _request(self, prompt: str) -> tuple[str, dict[str, str], dict[str, Any]]:
        headers = {"x-goog-api-key": self._key()}
        body = {
            "contents": [{"role": "user", "parts": [{"text": prompt}]}],
            "generationConfig": {"temperature": 0, "maxOutputTokens": self.settings.max_tokens},
        }
        return f"v1beta/models/{self.model}:generateContent", headers, body

    def _parse(self, body: Any) -> tuple[str, int | None, int | None]:
        try:
            parts = body["candidates"][0]["content"]["parts"]
            texts = [p["text"] for p in parts if "text" in p]
        except (KeyError, IndexError, TypeError):
            raise malformed(self, "candidates[0].content.parts") from None
        if not texts or not all(isinstance(t, str) for t in texts):
            raise malformed(self, "text part")
        usage = body.get("usageMetadata") if isinstance(body.get("usageMetadata"), dict) else {}
        return (
            "".join(texts),
            optional_int(usage.get("promptTokenCount")),
            optional_int(usage.get("candidatesTokenCount")),
        )
