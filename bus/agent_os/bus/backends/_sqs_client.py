"""The one place the SQS backend calls aiobotocore, and translates its errors.

Every call goes through :meth:`SqsClient.call`, so no ``botocore`` or
``aiohttp`` exception reaches a caller: each becomes a :class:`BusError`
subclass, raised ``from`` the original.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import aiohttp
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

from .._envelope import Envelope, decode, encode
from .._errors import BusError, ConfigError, ConnectError, PayloadTooLarge, auth_refused
from ._options import Kind, parse_options
from ._sqs_names import valid_prefix

#: SQS accepts at most 256 KiB per message (body plus attributes).
SQS_MAX_MESSAGE = 256 * 1024

_GONE = frozenset({"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"})
_STALE = frozenset({"ReceiptHandleIsInvalid", "MessageNotInflight", "InvalidReceiptHandle"})
_BUSY = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "RequestThrottled",
        "ServiceUnavailable",
        "InternalError",
        "InternalFailure",
        "KmsThrottled",
    }
)
_AUTH = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "UnrecognizedClientException",
        "ExpiredToken",
    }
)


class StaleReceipt(BusError):
    """A receipt handle no longer names an in-flight message (settled elsewhere)."""

    code = "stale_receipt"


class QueueGone(BusError):
    """The queue behind a subject does not exist (deleted, or the server lost its state)."""

    code = "queue_not_found"
    retryable = True


def translate(exc: BaseException, op: str) -> BusError:
    """The bus error for a client-library exception raised by operation ``op``."""
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code", ""))
        message = f"SQS {op} failed: {code}: {err.get('Message', '')}"
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if code in _GONE:
            return QueueGone(message)
        if code in _STALE:
            return StaleReceipt(message)
        if code == "MessageTooLong" or (code == "InvalidParameterValue" and "long" in message):
            return PayloadTooLarge(message)
        if code in _AUTH:
            return auth_refused(message)
        error = BusError(message, code="broker_error")
        error.retryable = code in _BUSY or status >= 500
        return error
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return auth_refused(f"SQS credentials: {exc}")
    if isinstance(exc, BotoConnectionError | HTTPClientError | aiohttp.ClientError | OSError):
        return ConnectError(f"SQS {op}: endpoint unreachable: {exc}")
    if isinstance(exc, TimeoutError):
        return ConnectError(f"SQS {op}: timed out")
    if isinstance(exc, BotoCoreError):
        return BusError(f"SQS {op}: {exc}", code="broker_error")
    return BusError(f"SQS {op}: unexpected {type(exc).__name__}: {exc}", code="broker_error")


def to_body(envelope: Envelope) -> str:
    """The message body: the :func:`encode` frame in base64 (SQS bodies are text)."""
    body = base64.b64encode(encode(envelope)).decode("ascii")
    if len(body) > SQS_MAX_MESSAGE:
        raise PayloadTooLarge(
            f"envelope {envelope.id} is {len(body)} bytes in base64; SQS takes {SQS_MAX_MESSAGE}"
        )
    return body


def from_body(body: str) -> Envelope:
    """Inverse of :func:`to_body`; raises ``MalformedEnvelope``."""
    return decode(base64.b64decode(body.encode("ascii"), validate=False))


_CREDENTIALS = ("aws_access_key_id", "aws_secret_access_key", "aws_session_token")
_OPTIONS: dict[str, Kind] = {
    "endpoint_url": str,
    "wait_time": int,
    "route_ttl": float,
    "drain_timeout": float,
    "max_payload": int,
    "dead_letter_retention": int,
    "max_pool_connections": int,
    "connect_timeout": float,
    "max_attempts": int,
    "profile_name": str,
    **dict.fromkeys(_CREDENTIALS, str),
}
SESSION_OPTIONS = (*_CREDENTIALS, "profile_name")


def parse_url(
    url: str, options: dict[str, Any], max_payload: int
) -> tuple[str, str, dict[str, Any]]:
    """Region, queue prefix and typed options of an ``sqs://`` URL plus ``connect`` options."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "sqs":
        raise ConfigError(f"not an sqs:// URL: {url!r}")
    region = parts.netloc
    prefix = parts.path.strip("/") or "agentos"
    if not region:
        raise ConfigError(f"sqs:// URL {url!r} names no region (sqs://us-east-1/prefix)")
    if not valid_prefix(prefix):
        raise ConfigError(f"sqs:// queue prefix {prefix!r} must be 1-32 of [A-Za-z0-9_-]")
    query = dict(parse_qsl(parts.query))
    if any(k in query for k in _CREDENTIALS):
        raise ConfigError("pass AWS credentials as connect() options or the AWS chain, not in URLs")
    settings, _ = parse_options(url, options, _OPTIONS)
    if not 0 <= int(settings.get("wait_time", 20)) <= 20:
        raise ConfigError("sqs:// wait_time must be 0-20 seconds")
    if not 0 < int(settings.get("max_payload", max_payload)) <= max_payload:
        raise ConfigError(f"sqs:// max_payload must be 1-{max_payload} bytes")
    return region, prefix, settings


class SqsClient:
    """One aiobotocore SQS client (one connection pool) per bus, with translated errors."""

    def __init__(self, client: Any, stack: contextlib.AsyncExitStack) -> None:
        self._client = client
        self._stack = stack
        self.closed = False

    async def call(self, op: str, **kwargs: Any) -> dict[str, Any]:
        try:
            result: dict[str, Any] = await getattr(self._client, op)(**kwargs)
        except Exception as exc:
            raise translate(exc, op) from exc
        return result

    async def create_queue(self, name: str, attributes: dict[str, str] | None = None) -> str:
        kwargs: dict[str, Any] = {"QueueName": name}
        if attributes:
            kwargs["Attributes"] = attributes
        return str((await self.call("create_queue", **kwargs))["QueueUrl"])

    async def queue_url(self, name: str) -> str | None:
        try:
            return str((await self.call("get_queue_url", QueueName=name))["QueueUrl"])
        except QueueGone:
            return None

    async def queue_arn(self, url: str) -> str:
        got = await self.call("get_queue_attributes", QueueUrl=url, AttributeNames=["QueueArn"])
        return str(got["Attributes"]["QueueArn"])

    async def list_queues(self, name_prefix: str) -> list[str]:
        urls: list[str] = []
        kwargs: dict[str, Any] = {"QueueNamePrefix": name_prefix, "MaxResults": 1000}
        while True:
            got = await self.call("list_queues", **kwargs)
            urls.extend(got.get("QueueUrls", ()))
            token = got.get("NextToken")
            if not token:
                return urls
            kwargs["NextToken"] = token

    async def send(self, url: str, body: str) -> None:
        await self.call("send_message", QueueUrl=url, MessageBody=body)

    async def receive(
        self, url: str, max_messages: int, wait: int, visibility: int
    ) -> list[dict[str, Any]]:
        got = await self.call(
            "receive_message",
            QueueUrl=url,
            MaxNumberOfMessages=max_messages,
            WaitTimeSeconds=wait,
            VisibilityTimeout=visibility,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        messages: list[dict[str, Any]] = got.get("Messages", [])
        return messages

    async def delete_batch(self, url: str, receipts: Sequence[str]) -> None:
        """Delete up to 10 messages; a stale receipt is not an error (the ack is moot)."""
        entries = [{"Id": str(i), "ReceiptHandle": r} for i, r in enumerate(receipts)]
        await self.call("delete_message_batch", QueueUrl=url, Entries=entries)

    async def change_visibility(self, url: str, receipt: str, seconds: int) -> None:
        await self.call(
            "change_message_visibility",
            QueueUrl=url,
            ReceiptHandle=receipt,
            VisibilityTimeout=seconds,
        )

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(Exception):
            await self._stack.aclose()
