"""Model strings to providers, and API keys from the environment or files.

A model string is ``[vendor:]model[@base_url]``::

    gpt-4o                                  OpenAI (vendor read from the name)
    claude-sonnet-4-5                       Anthropic
    anthropic:claude-sonnet-4-5             Anthropic, named
    gemini:gemini-2.5-pro                   Gemini
    openai:llama3@http://127.0.0.1:8000/v1  any OpenAI-compatible server

A key is read from ``<VENDOR>_API_KEY`` or from the file named by
``<VENDOR>_API_KEY_FILE`` (a mounted Secret), held as ``SecretStr``. A model
on a loopback ``base_url`` needs no key (vLLM, Ollama); any other model
without one is a :class:`ConfigurationError` at once, before any call.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import SecretStr

from ._errors import ConfigurationError
from ._provider import CallSettings, HTTPProvider, Provider
from ._vendors import AnthropicMessages, GeminiGenerate, OpenAIChat

VENDORS: dict[str, type[HTTPProvider]] = {
    "openai": OpenAIChat,
    "anthropic": AnthropicMessages,
    "gemini": GeminiGenerate,
}
DEFAULT_BASE_URL = {
    "openai": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com",
    "gemini": "https://generativelanguage.googleapis.com",
}
KEY_ENV = {
    "openai": ("OPENAI_API_KEY",),
    "anthropic": ("ANTHROPIC_API_KEY",),
    "gemini": ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
}
_NAME_PREFIXES = (
    ("gpt-", "openai"),
    ("o1", "openai"),
    ("o3", "openai"),
    ("o4", "openai"),
    ("claude", "anthropic"),
    ("gemini", "gemini"),
)


def _vendor_of(name: str) -> str:
    for prefix, vendor in _NAME_PREFIXES:
        if name.startswith(prefix):
            return vendor
    raise ConfigurationError(
        f"cannot tell the vendor of model {name!r}: write it as vendor:model "
        f"(vendors: {', '.join(sorted(VENDORS))})"
    )


def parse_model(spec: str) -> tuple[str, str, str | None]:
    """``(vendor, model, base_url or None)`` of a model string."""
    text = spec.strip()
    base_url: str | None = None
    if "@" in text:
        text, base_url = text.split("@", 1)
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigurationError(f"model {spec!r}: base URL must be http(s)://host[:port]/...")
    vendor, sep, model = text.partition(":")
    if not sep:
        vendor, model = _vendor_of(text), text
    if vendor not in VENDORS:
        raise ConfigurationError(
            f"model {spec!r}: unknown vendor {vendor!r} (vendors: {', '.join(sorted(VENDORS))})"
        )
    if not model:
        raise ConfigurationError(f"model {spec!r}: empty model name")
    return vendor, model, base_url


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_key(vendor: str, environ: Mapping[str, str] | None = None) -> SecretStr | None:
    """The vendor's key from ``<NAME>`` or the file named by ``<NAME>_FILE``."""
    env = os.environ if environ is None else environ
    for name in KEY_ENV[vendor]:
        value = env.get(name, "").strip()
        if value:
            return SecretStr(value)
        path = env.get(f"{name}_FILE", "").strip()
        if path:
            try:
                value = Path(path).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigurationError(
                    f"{name}_FILE: cannot read key file: {exc.strerror}"
                ) from None
            if not value:
                raise ConfigurationError(f"{name}_FILE: key file is empty")
            return SecretStr(value)
    return None


def resolve(
    model: str | Provider,
    *,
    settings: CallSettings | None = None,
    environ: Mapping[str, str] | None = None,
) -> Provider:
    """A provider for a model string (or the provider itself)."""
    if not isinstance(model, str):
        if not isinstance(model, Provider):
            raise ConfigurationError(f"not a model string or provider: {model!r}")
        return model
    vendor, name, base_url = parse_model(model)
    url = base_url or DEFAULT_BASE_URL[vendor]
    key = read_key(vendor, environ)
    if key is None and not _is_loopback(url):
        names = " or ".join(f"{n} / {n}_FILE" for n in KEY_ENV[vendor])
        raise ConfigurationError(f"model {model!r}: no API key (set {names})")
    return VENDORS[vendor](
        model=name, base_url=url, api_key=key, settings=settings or CallSettings()
    )
