"""Signed messages: construction, wire format and parsing of hostile bytes."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_os.trust import AgentIdentity, MalformedMessage, SignedMessage

SENDER = AgentIdentity.from_seed("agent-1", b"\x01" * 32)
NOW = 1_700_000_000.0


def _header(msg: SignedMessage) -> dict[str, object]:
    line, _, _ = msg.signed_bytes.partition(b"\n")
    header = json.loads(line)
    assert isinstance(header, dict)
    return header


def test_mapping_content_is_compact_sorted_json() -> None:
    msg = SignedMessage.create(SENDER, "kernel", {"b": 1, "a": "é"}, now=NOW)
    assert msg.content == '{"a":"é","b":1}'.encode()
    assert msg.content_type == "application/json"
    assert msg.json() == {"a": "é", "b": 1}


def test_str_and_bytes_content_types() -> None:
    text = SignedMessage.create(SENDER, "kernel", "héllo", now=NOW)
    assert (text.content, text.content_type) == ("héllo".encode(), "text/plain; charset=utf-8")
    assert text.text() == "héllo"
    raw = SignedMessage.create(SENDER, "kernel", b"\x00\xff\n", now=NOW)
    assert (raw.content, raw.content_type) == (b"\x00\xff\n", "application/octet-stream")
    typed = SignedMessage.create(SENDER, "kernel", b"{}", now=NOW, content_type="application/json")
    assert typed.json() == {}
    quoted = 'multipart/mixed; boundary="a\\b"'
    odd = SignedMessage.create(SENDER, "kernel", b"", now=NOW, content_type=quoted)
    assert SignedMessage.from_bytes(odd.to_bytes()).content_type == quoted


def test_fields_and_header_agree() -> None:
    msg = SignedMessage.create(SENDER, "kernel", {"x": 1}, now=NOW, message_id="req-42")
    assert _header(msg) == {
        "v": 1,
        "id": "req-42",
        "from": "agent-1",
        "to": "kernel",
        "ts": NOW,
        "nonce": msg.nonce,
        "ct": "application/json",
    }
    assert len(msg.nonce) == 32
    int(msg.nonce, 16)
    assert len(msg.signature) == 64
    default_id = SignedMessage.create(SENDER, "kernel", b"", now=NOW).id
    assert len(default_id) == 32
    int(default_id, 16)


def test_nonces_and_ids_differ_between_messages() -> None:
    a = SignedMessage.create(SENDER, "kernel", b"", now=NOW)
    b = SignedMessage.create(SENDER, "kernel", b"", now=NOW)
    assert a.nonce != b.nonce
    assert a.id != b.id


def test_round_trip_through_bytes() -> None:
    msg = SignedMessage.create(SENDER, "kernel", b"line1\nline2\n", now=NOW + 0.123456789)
    again = SignedMessage.from_bytes(msg.to_bytes())
    assert again == msg
    assert again.timestamp == NOW + 0.123456789
    assert SignedMessage.from_bytes(bytearray(msg.to_bytes())) == msg


def test_json_on_non_json_content() -> None:
    with pytest.raises(MalformedMessage):
        SignedMessage.create(SENDER, "kernel", b"\xff", now=NOW).json()
    with pytest.raises(MalformedMessage):
        SignedMessage.create(SENDER, "kernel", "NaN", now=NOW).json()


def test_create_refuses_bad_arguments() -> None:
    with pytest.raises(MalformedMessage):
        SignedMessage.create(SENDER, "bad recipient", b"")
    with pytest.raises(MalformedMessage):
        SignedMessage.create(SENDER, "kernel", b"", message_id="x" * 200)
    with pytest.raises(MalformedMessage):
        SignedMessage.create(SENDER, "kernel", {"x": object()})
    with pytest.raises(MalformedMessage):
        SignedMessage.create(SENDER, "kernel", {"x": float("nan")})
    with pytest.raises(MalformedMessage):
        SignedMessage.create(SENDER, "kernel", b"", now=float("inf"))
    with pytest.raises(MalformedMessage):
        SignedMessage.create(SENDER, "kernel", b"", content_type="bad\nct")


def _wire(header: bytes, content: bytes = b"{}") -> bytes:
    return b"AOSM1" + b"\x00" * 64 + header + b"\n" + content


GOOD = {
    "v": 1,
    "id": "m1",
    "from": "agent-1",
    "to": "kernel",
    "ts": NOW,
    "nonce": "0" * 32,
    "ct": "application/json",
}


def _with(**changes: object) -> bytes:
    header = {**GOOD, **changes}
    return _wire(json.dumps({k: v for k, v in header.items() if v is not None}).encode())


def test_hand_built_good_header_parses() -> None:
    msg = SignedMessage.from_bytes(_with())
    assert (msg.id, msg.sender_id, msg.recipient_id, msg.timestamp) == (
        "m1",
        "agent-1",
        "kernel",
        NOW,
    )
    assert SignedMessage.from_bytes(_with(ts=5)).timestamp == 5.0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "too short"),
        (b"AOSM1" + b"\x00" * 64, "too short"),
        (b"AOSM2" + b"\x00" * 64 + b"{}\n", "bad magic"),
        (_wire(b"{" + b" " * 5000 + b"}"), "no header line"),
        (_wire(b"\xff{}"), "not ASCII JSON"),
        (_wire(b"[1]"), "not a JSON object"),
        (_wire(b"[" * 2000 + b"]" * 2000), "not ASCII JSON"),
        (_with(v=2), "version"),
        (_with(v=True), "version"),
        (_with(nonce=None), "keys must be exactly"),
        (_with(extra=1), "keys must be exactly"),
        (_with(id="has space"), "'id'"),
        (_with(**{"from": ""}), "'from'"),
        (_with(to=7), "'to'"),
        (_with(ts="1"), "'ts'"),
        (_with(ts=True), "'ts'"),
        (_with(ts=10**400), "finite"),
        (_wire(json.dumps(GOOD).replace(str(NOW), "1e999").encode()), "finite"),
        (_wire(json.dumps(GOOD).replace(str(NOW), "NaN").encode()), "not ASCII JSON"),
        (_with(nonce="A" * 32), "'nonce'"),
        (_with(nonce="0" * 31), "'nonce'"),
        (_with(ct=""), "'ct'"),
        (_wire(json.dumps(GOOD)[:-1].encode() + b',"id":"m2"}'), "duplicate"),
    ],
)
def test_from_bytes_specific_errors(data: bytes, message: str) -> None:
    with pytest.raises(MalformedMessage, match=message) as err:
        SignedMessage.from_bytes(data)
    assert err.value.code == "malformed"


def test_from_bytes_rejects_non_bytes() -> None:
    with pytest.raises(MalformedMessage, match="expected bytes"):
        SignedMessage.from_bytes("AOSM1")  # type: ignore[arg-type]


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_from_bytes_fuzz_random(data: bytes) -> None:
    with contextlib.suppress(MalformedMessage):
        SignedMessage.from_bytes(data)


_VALID = SignedMessage.create(SENDER, "kernel", {"k": [1, 2]}, now=NOW).to_bytes()


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200), st.binary(max_size=60))
def test_from_bytes_fuzz_near_valid(prefix_junk: bytes, header_junk: bytes) -> None:
    # Garbage spliced into a well-formed prefix reaches the header parser, which
    # random bytes alone rarely do.
    for data in (
        b"AOSM1" + b"\x00" * 64 + prefix_junk,
        _VALID[:69] + header_junk + _VALID[69:],
        _VALID[: 69 + len(header_junk)] + header_junk,
    ):
        with contextlib.suppress(MalformedMessage):
            SignedMessage.from_bytes(data)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(
        st.sampled_from(sorted(GOOD)),
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    )
)
def test_from_bytes_fuzz_headers(header: dict[str, object]) -> None:
    data = _wire(json.dumps(header).encode())
    try:
        msg = SignedMessage.from_bytes(data)
    except MalformedMessage:
        return
    assert msg.sender_id == header["from"]
