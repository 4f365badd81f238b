"""The ``kafka://`` wire mapping: subject → topic, envelope ↔ headers, URL options, errors."""

from __future__ import annotations

import re

import pytest
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    UnknownError,
)
from hypothesis import given
from hypothesis import strategies as st

from agent_os.bus import (
    BusError,
    ConfigError,
    ConnectError,
    Envelope,
    MalformedEnvelope,
    PayloadTooLarge,
)
from agent_os.bus.backends._kafka import _parse
from agent_os.bus.backends._kafka_codec import (
    correlation_of,
    from_record,
    kafka_errors,
    to_headers,
    topic_for,
)

_LEGAL_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")


def test_plain_subjects_are_their_own_topic() -> None:
    assert topic_for("agentos.v1.action") == "agentos.v1.action"
    assert topic_for("t.ab-12.dlq") == "t.ab-12.dlq"
    assert topic_for("agentos.v1.action", "prod.") == "prod.agentos.v1.action"


def test_other_characters_are_escaped() -> None:
    assert topic_for("a b") == "a_20b"
    assert topic_for("a_b") == "a_5fb"  # "_" is the escape: escaped itself
    assert topic_for("é") == "_c3_a9"
    assert topic_for("..") == "_2e_2e"


@given(st.text(min_size=1, max_size=300))
def test_every_subject_maps_to_a_legal_topic(subject: str) -> None:
    assert _LEGAL_TOPIC.fullmatch(topic_for(subject))


@given(st.text(min_size=1, max_size=60), st.text(min_size=1, max_size=60))
def test_distinct_short_subjects_never_share_a_topic(a: str, b: str) -> None:
    if a != b:
        assert topic_for(a) != topic_for(b)


def test_long_subjects_are_cut_and_hashed_apart() -> None:
    one, two = "s." + "x" * 400 + "1", "s." + "x" * 400 + "2"
    assert len(topic_for(one)) == 249
    assert topic_for(one) != topic_for(two)


def test_envelope_round_trips_through_headers() -> None:
    sent = Envelope(
        "a.b",
        b"\x00body",
        headers={"trace": "t", "x-unicode": "é✓"},
        reply_to="agentos.reply.c1",
        correlation_id="c0ffee",
        key="k",
        deadline=1234.5678,
    )
    headers = to_headers(sent, attempt=3, origin="a.b/1/5")
    got, attempt, origin = from_record("a.b", 0, 7, b"k", sent.body, headers)
    assert got == sent
    assert (attempt, origin) == (3, "a.b/1/5")
    assert correlation_of(headers) == b"c0ffee"


def test_request_overrides_reply_to_and_deadline() -> None:
    headers = to_headers(Envelope("s", b""), reply_to="agentos.reply.me", deadline=9.5)
    got, attempt, origin = from_record("s", 0, 0, None, b"", headers)
    assert (got.reply_to, got.deadline, attempt, origin) == ("agentos.reply.me", 9.5, 1, None)


@pytest.mark.parametrize("raw", [b"0", b"-1000000", b"many"])
def test_an_attempt_below_one_is_not_an_envelope(raw: bytes) -> None:
    """A negative attempt would buy a message endless redeliveries."""
    with pytest.raises(MalformedEnvelope):
        from_record("s", 0, 0, None, b"", [(":i", b"x"), (":a", raw)])


def test_reserved_header_names_are_refused() -> None:
    with pytest.raises(MalformedEnvelope):
        to_headers(Envelope("s", b"", headers={":i": "spoof"}))


def test_foreign_records_still_decode() -> None:
    got, attempt, origin = from_record("orders", 2, 41, None, b"{}", [("content-type", b"json")])
    assert (got.subject, got.id, got.headers, attempt, origin) == (
        "orders",
        "orders-2-41",
        {"content-type": "json"},
        1,
        None,
    )
    with pytest.raises(MalformedEnvelope):
        from_record("orders", 0, 0, None, b"", [("h", b"\xff")])


def test_url_and_options() -> None:
    bootstrap, settings = _parse(
        "kafka://k1,k2:9093?fetch_max_wait_ms=25&acks=all", {"session_timeout_ms": 2000}
    )
    assert bootstrap == ["k1:9092", "k2:9093"]
    assert settings == {"fetch_max_wait_ms": 25, "acks": "all", "session_timeout_ms": 2000}
    with pytest.raises(ConfigError, match="unknown kafka:// option"):
        _parse("kafka://k1?linger=5", {})
    with pytest.raises(ConfigError):
        _parse("kafka://k1?fetch_max_wait_ms=soon", {})
    with pytest.raises(ConfigError):
        _parse("kafka://", {})


@pytest.mark.parametrize(
    ("raised", "expected", "retryable"),
    [
        (KafkaConnectionError("down"), ConnectError, True),
        (KafkaTimeoutError(), ConnectError, True),
        (MessageSizeTooLargeError(), PayloadTooLarge, False),
        (UnknownError(), BusError, False),
    ],
)
def test_client_errors_are_translated(
    raised: Exception, expected: type[BusError], retryable: bool
) -> None:
    with pytest.raises(expected) as caught, kafka_errors("doing it"):
        raise raised
    assert caught.value.retryable is retryable
    assert caught.value.__cause__ is raised
