"""``connect(url)``: scheme registry, lazy imports and the exported API."""

from __future__ import annotations

import pytest

import agent_os.bus
from agent_os.bus import (
    Bus,
    ConfigError,
    MissingDependency,
    UnknownScheme,
    _registry,
    connect,
    schemes,
)


async def test_unknown_scheme_lists_every_valid_one() -> None:
    with pytest.raises(UnknownScheme) as caught:
        await connect("amqp://localhost")
    message = str(caught.value)
    assert "'amqp'" in message
    for scheme in schemes():
        assert scheme in message
    assert caught.value.code == "unknown_scheme"
    assert isinstance(caught.value, ConfigError)


async def test_url_without_scheme_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as caught:
        await connect("localhost:4222")
    assert "memory" in str(caught.value)


async def test_missing_dependency_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _registry._Backend(
        "agent_os.bus.backends._does_not_exist", "pigeon", ("agent_os_no_such_client_lib",)
    )
    monkeypatch.setitem(_registry._BACKENDS, "pigeon", fake)
    with pytest.raises(MissingDependency) as caught:
        await connect("pigeon://coop")
    assert "agent-os[pigeon]" in str(caught.value)
    assert "agent_os_no_such_client_lib" in str(caught.value)
    assert isinstance(caught.value.__cause__, ImportError)


def test_schemes_cover_the_five_backends() -> None:
    assert {"memory", "nats", "redis", "kafka", "sqs"} <= set(schemes())


async def test_memory_scheme_connects_to_a_bus() -> None:
    bus = await connect("memory://")
    try:
        assert isinstance(bus, Bus)
        assert bus.url == "memory://"
    finally:
        await bus.close()


def test_exported_names_are_pinned() -> None:
    assert sorted(agent_os.bus.__all__) == sorted(
        [
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
    )
    for name in agent_os.bus.__all__:
        assert hasattr(agent_os.bus, name), name


def test_refused_credentials_are_the_same_error_on_every_backend() -> None:
    """A broker that refuses the credentials: ConfigError "bus_auth", never a retryable one."""
    import nats.errors
    from aiokafka.errors import SaslAuthenticationFailed
    from botocore.exceptions import NoCredentialsError
    from redis.exceptions import AuthenticationError

    from agent_os.bus import ConfigError
    from agent_os.bus.backends import _kafka_codec, _nats_codec, _redis_codec, _sqs_client

    errors = [
        _nats_codec.translate(nats.errors.AuthorizationError(), "connect"),
        _redis_codec.translate(AuthenticationError("WRONGPASS"), "connect"),
        _kafka_codec.translate(SaslAuthenticationFailed("bad"), "connect"),
        _sqs_client.translate(NoCredentialsError(), "connect"),
    ]
    assert all(isinstance(e, ConfigError) for e in errors)
    assert {(e.code, e.retryable) for e in errors} == {("bus_auth", False)}
