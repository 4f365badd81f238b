"""Errors raised by the bus.

    BusError                 base; ``code`` is stable and may cross a process boundary
    ├── ConnectError         the broker cannot be reached (retryable)
    ├── BusTimeout           a request got no reply before its deadline (retryable)
    ├── NoResponders         nobody is subscribed to answer a request (retryable)
    ├── PayloadTooLarge      an envelope is larger than the bus accepts
    ├── MalformedEnvelope    bytes on the wire are not an envelope
    ├── NotSupported         the backend cannot do what was asked
    ├── BusClosed            the bus was used after ``close()``
    └── ConfigError          a bus URL or option is invalid; code "bus_auth": the broker
        │                    refused the credentials (every backend: ``auth_refused``)
        ├── UnknownScheme    no backend for the URL's scheme
        └── MissingDependency  the backend's extra is not installed

Client-library exceptions never reach a caller: each backend translates them
at its boundary with ``raise ... from`` (its codec's ``translate``), into the
same branches on every backend:

* refused credentials or permissions → ``ConfigError`` code ``bus_auth``
  (:func:`auth_refused`), never retryable: NATS ``AuthorizationError`` and an
  "Authorization Violation" while connecting; Redis
  ``AuthenticationError`` / ``AuthorizationError`` / ``NoPermissionError``
  (NOAUTH, WRONGPASS, NOPERM); Kafka ``AuthenticationFailedError`` /
  ``SaslAuthenticationFailed``; SQS ``AccessDenied``, ``InvalidClientTokenId``,
  ``SignatureDoesNotMatch``, ``ExpiredToken``, ... and missing credentials;
* an unreachable or restarting broker → ``ConnectError`` (retryable);
* a message over the broker's limit → ``PayloadTooLarge``;
* anything else → ``BusError`` with a backend code (``nats_api_*``,
  ``redis_error``, ``kafka_error``, ``broker_error``).

Bad options are ``ConfigError`` with the same texts on every backend
(``backends/_options.py``). No error text shows a URL's password or a
secret-looking option value (``redacted``).
"""

from __future__ import annotations


class BusError(Exception):
    """Base class of every bus error."""

    code: str = "bus_error"
    retryable: bool = False

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class ConnectError(BusError):
    code = "bus_unavailable"
    retryable = True


class BusTimeout(BusError):
    code = "timeout"
    retryable = True


class NoResponders(BusError):
    code = "no_responders"
    retryable = True


class PayloadTooLarge(BusError):
    code = "payload_too_large"


class MalformedEnvelope(BusError):
    code = "malformed_envelope"


class NotSupported(BusError):
    code = "not_supported"


class BusClosed(BusError):
    code = "bus_closed"


class ConfigError(BusError):
    code = "bus_config"


class UnknownScheme(ConfigError):
    code = "unknown_scheme"


class MissingDependency(ConfigError):
    code = "missing_dependency"


def auth_refused(text: str) -> ConfigError:
    """The error for credentials the broker refuses, the same on every backend.

    Not a ``ConnectError``: retrying with the same credentials cannot help.
    """
    return ConfigError(text, code="bus_auth")
