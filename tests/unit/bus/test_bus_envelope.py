"""Envelope framing: round trips, and any bytes decode or fail cleanly."""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent_os.bus import Envelope, MalformedEnvelope, decode, encode

_text = st.text(max_size=40)
_envelopes = st.builds(
    Envelope,
    subject=st.text(min_size=1, max_size=40),
    body=st.binary(max_size=512),
    headers=st.dictionaries(_text, _text, max_size=5),
    id=st.text(min_size=1, max_size=32),
    reply_to=st.none() | _text,
    correlation_id=st.none() | _text,
    key=st.none() | _text,
    deadline=st.none() | st.floats(allow_nan=False, allow_infinity=False),
)


def test_round_trip_keeps_every_field() -> None:
    sent = Envelope(
        "agentos.v1.action",
        b"\x00\xffbody",
        headers={"a": "1", "é": "✓"},
        reply_to="_inbox.x",
        correlation_id="c-1",
        key="agent-7",
        deadline=1234.5,
    )
    assert decode(encode(sent)) == sent


def test_minimal_envelope_round_trips() -> None:
    sent = Envelope("s", b"")
    got = decode(encode(sent))
    assert got == sent
    assert got.headers == {} and got.reply_to is None and got.deadline is None


@given(_envelopes)
def test_any_envelope_round_trips(sent: Envelope) -> None:
    assert decode(encode(sent)) == sent


@given(st.binary(max_size=300))
def test_any_bytes_decode_or_raise_malformed(frame: bytes) -> None:
    try:
        got = decode(frame)
    except MalformedEnvelope as exc:
        assert exc.code == "malformed_envelope"
    else:
        assert isinstance(got, Envelope)


@given(st.binary(max_size=200), st.binary(max_size=50))
def test_any_meta_after_a_valid_header_decodes_or_raises_malformed(
    meta: bytes, body: bytes
) -> None:
    frame = struct.pack(">4sI", b"AOS1", len(meta)) + meta + body
    with contextlib.suppress(MalformedEnvelope):
        decode(frame)


@pytest.mark.parametrize(
    "meta",
    [b"[]", b'"s"', b'{"s": "x"}', b'{"s": "x", "i": "1", "h": []}', b'{"i": "1"}', b"[" * 5000],
)
def test_structurally_wrong_meta_is_malformed(meta: bytes) -> None:
    with pytest.raises(MalformedEnvelope):
        decode(struct.pack(">4sI", b"AOS1", len(meta)) + meta)


def test_truncated_and_foreign_frames_are_malformed() -> None:
    frame = encode(Envelope("s", b"body"))
    for bad in (b"", frame[:6], b"XXXX" + frame[4:], frame[:10]):
        with pytest.raises(MalformedEnvelope):
            decode(bad)


def test_reply_answers_the_request() -> None:
    request = Envelope("work", b"q", reply_to="_inbox.c1", deadline=99.0)
    reply = request.reply(b"a", {"x": "1"})
    assert (reply.subject, reply.correlation_id, reply.deadline) == ("_inbox.c1", request.id, 99.0)
    assert reply.id != request.id


def test_reply_without_reply_to_is_malformed() -> None:
    with pytest.raises(MalformedEnvelope) as caught:
        Envelope("work", b"q").reply(b"a")
    assert caught.value.code == "no_reply_to"


def test_expiry_uses_the_given_clock() -> None:
    assert not Envelope("s", b"").expired(now=1e12)
    envelope = Envelope("s", b"", deadline=100.0)
    assert not envelope.expired(now=99.9)
    assert envelope.expired(now=100.0)
