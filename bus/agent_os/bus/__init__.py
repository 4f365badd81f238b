"""The message bus: envelopes, the backend protocol and ``connect(url)``."""

from ._envelope import (
    ATTEMPTS_HEADER,
    ERROR_CODE_HEADER,
    ERROR_DETAIL_HEADER,
    ORIGINAL_SUBJECT_HEADER,
    Envelope,
    decode,
    encode,
    new_id,
)
from ._errors import (
    BusClosed,
    BusError,
    BusTimeout,
    ConfigError,
    ConnectError,
    MalformedEnvelope,
    MissingDependency,
    NoResponders,
    NotSupported,
    PayloadTooLarge,
    UnknownScheme,
)
from ._liveness import Pingable, probe
from ._protocol import (
    DEFAULT_MAX_PAYLOAD,
    Bus,
    Delivery,
    Handler,
    SubscribeOptions,
    Subscription,
)
from ._registry import connect, schemes
from ._service import Service

__all__ = [
    "ATTEMPTS_HEADER",
    "DEFAULT_MAX_PAYLOAD",
    "ERROR_CODE_HEADER",
    "ERROR_DETAIL_HEADER",
    "ORIGINAL_SUBJECT_HEADER",
    "Bus",
    "BusClosed",
    "BusError",
    "BusTimeout",
    "ConfigError",
    "ConnectError",
    "Delivery",
    "Envelope",
    "Handler",
    "MalformedEnvelope",
    "MissingDependency",
    "NoResponders",
    "NotSupported",
    "PayloadTooLarge",
    "Pingable",
    "Service",
    "SubscribeOptions",
    "Subscription",
    "UnknownScheme",
    "connect",
    "decode",
    "encode",
    "new_id",
    "probe",
    "schemes",
]
