"""Ed25519 identities, signed messages, the trust registry and revocation.

``AgentIdentity`` holds an agent's private key; ``SignedMessage`` is a
message signed over its exact wire bytes; ``TrustRegistry`` binds agent ids
to public keys at a ``TrustLevel`` and verifies messages (sender known and
not revoked, signature, freshness, recipient, replay). Everything here is
synchronous and takes the clock as a ``now`` parameter, except the network
nonce stores (``RedisNonceStore``, ``AsyncRedisNonceStore``,
``JetStreamNonceStore``) and
``RedisChecks``, the pipelined yes / no checks they and the kernel's shared
rate limiter are built on, which import ``redis`` only when built.
"""

from ._errors import KeyFileError, MalformedMessage, TrustError
from ._file_store import FileTrustStore
from ._identity import AgentIdentity, PublicIdentity
from ._json import StrictJSONError, strict_loads
from ._message import SignedMessage
from ._nonces import AsyncNonceStore, MemoryNonceStore, NonceStore, as_async_nonce_store
from ._nonces_nats import JetStreamNonceStore
from ._nonces_redis import AsyncRedisNonceStore, RedisNonceStore
from ._redis_checks import RedisChecks
from ._registry import TrustRegistry, VerificationResult
from ._request import reply_bound_request
from ._store import MemoryTrustStore, TrustEntry, TrustLevel, TrustStore

__all__ = [
    "AgentIdentity",
    "AsyncNonceStore",
    "AsyncRedisNonceStore",
    "FileTrustStore",
    "JetStreamNonceStore",
    "KeyFileError",
    "MalformedMessage",
    "MemoryNonceStore",
    "MemoryTrustStore",
    "NonceStore",
    "PublicIdentity",
    "RedisChecks",
    "RedisNonceStore",
    "SignedMessage",
    "StrictJSONError",
    "TrustEntry",
    "TrustError",
    "TrustLevel",
    "TrustRegistry",
    "TrustStore",
    "VerificationResult",
    "as_async_nonce_store",
    "reply_bound_request",
    "strict_loads",
]
