"""Strict JSON: one reading of a document, or a refusal with a stable code."""

from __future__ import annotations

import pytest

from agent_os.trust import (
    AgentIdentity,
    MalformedMessage,
    SignedMessage,
    StrictJSONError,
    strict_loads,
)

SENDER = AgentIdentity.from_seed("agent-1", b"\x01" * 32)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ('{"a":1,"a":2}', "duplicate_key"),
        ('{"x":{"b":1,"b":1}}', "duplicate_key"),
        ('[{"k":0},{"k":0,"k":0}]', "duplicate_key"),
        ("NaN", "non_finite_number"),
        ('{"n":Infinity}', "non_finite_number"),
        ('{"n":-Infinity}', "non_finite_number"),
        ('{"n":1e999}', "non_finite_number"),
        ('{"n":-1.5e400}', "non_finite_number"),
        ("[" * 100_000 + "]" * 100_000, "too_deep"),
        ('{"a":', "malformed"),
        (b"\xff\xfe", "malformed"),
    ],
)
def test_refused_with_its_code(text: str | bytes, code: str) -> None:
    with pytest.raises(StrictJSONError) as caught:
        strict_loads(text)
    assert caught.value.code == code
    assert isinstance(caught.value, MalformedMessage)


def test_plain_json_reads_as_usual() -> None:
    assert strict_loads(b'{"a":[1,2.5,-3e10,null,true],"b":{"a":1}}') == {
        "a": [1, 2.5, -3e10, None, True],
        "b": {"a": 1},
    }


def test_message_content_is_read_strictly() -> None:
    msg = SignedMessage.create(SENDER, "kernel", b'{"a":1,"a":2}', content_type="application/json")
    with pytest.raises(StrictJSONError) as caught:
        msg.json()
    assert caught.value.code == "duplicate_key"


def test_header_with_a_duplicate_key_is_malformed() -> None:
    msg = SignedMessage.create(SENDER, "kernel", b"{}")
    head, _, body = msg.signed_bytes.partition(b"\n")
    doubled = head[:-1] + b',"v":1}'
    with pytest.raises(MalformedMessage, match="duplicate key"):
        SignedMessage.from_bytes(b"AOSM1" + msg.signature + doubled + b"\n" + body)
