"""Errors of the verifier.

::

    VerifierError                 base; stable ``code``; ``retryable``: can trying again help
    ├── ConfigurationError        a model string, key or setting that cannot work (raised at once)
    ├── ProviderError             one model call failed (translated from httpx at the provider edge)
    │   ├── ProviderTimeout       no answer within the model's timeout
    │   ├── RateLimited           429 after every retry
    │   └── MalformedResponse     the body is not the vendor's documented shape
    └── RemoteError               the verifier pool answered with an error, or not at all
"""

from __future__ import annotations


class VerifierError(Exception):
    """Base of every verifier error."""

    code = "verifier_error"
    retryable = False

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class ConfigurationError(VerifierError):
    """A model string, key or setting that cannot work; raised before any call."""

    code = "configuration"


class ProviderError(VerifierError):
    """One model call failed."""

    code = "provider_error"
    retryable = True


class ProviderTimeout(ProviderError):
    """The model gave no answer within its timeout."""

    code = "timeout"


class RateLimited(ProviderError):
    """The vendor kept answering 429."""

    code = "rate_limited"


class MalformedResponse(ProviderError):
    """The body is not the vendor's documented response shape."""

    code = "malformed_response"
    retryable = False


class RemoteError(VerifierError):
    """The verifier pool answered with an error, a bad signature or not at all."""

    code = "remote_error"
