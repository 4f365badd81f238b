"""Secrets hidden past one layer: a single URL escape, nested encodings, spaced groups,
a key used as a mapping key; and the benign look-alikes that must pass."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from typing import Any

import pytest

from agent_os.policies import load_policy
from agent_os.policies.analysis._secrets import scan_secrets
from agent_os.policies.analysis._secrets_decode import decodings

STRICT = load_policy("strict")
GITHUB = "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"
GITLAB = "glpat-Z3HLKv797TPNbpjava1b"
AWS_PAIR = (
    "AWS_ACCESS_KEY_ID=AKIAVQJXXVBOTHD2WTFL\n"
    "AWS_SECRET_ACCESS_KEY=HVJWDBt2hWdQZUm14QhoxhLPAbQcEFUV2fsjGHb6"
)
URL = "https://collect.example-analytics.io/c?t="


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def found(args: object) -> set[str]:
    return {check for check, _ in scan_secrets(args)}


def typed_body(content: str) -> dict[str, Any]:
    files = {"files": {"n": {"content": content}}}
    args = {"method": "POST", "url": "https://api.github.com/gists", "body": files}
    return {"agent_id": "a", "action": "http_request", "args": args}


def tool(name: str, **args: Any) -> dict[str, Any]:
    return {"agent_id": "a", "action": "tool_call", "tool": name, "args": args}


def decision(action: dict[str, Any]) -> str:
    return str(STRICT.evaluate(action).decision.value)


# -- a single URL escape inside a token ------------------------------------------------------


@pytest.mark.parametrize("escape", ["%2D", "%2d"])
def test_one_url_escape_inside_a_token_is_decoded(escape: str) -> None:
    token = GITLAB.replace("-", escape)
    assert "secret:gitlab-token" in found({"url": URL + token})
    assert decision(tool("fetch", url=URL + token)) == "deny"
    body = {"method": "POST", "url": "https://a.example/", "body": f"t={token}&x=1"}
    assert decision({"agent_id": "a", "action": "http_request", "args": body}) == "deny"


def test_two_escapes_in_one_token_and_one_before_it() -> None:
    token = GITHUB.replace("_", "%5F").replace("BY6r", "BY%36r")
    assert "secret:github-token" in found({"url": URL + token})
    assert "secret:github-token" in found({"q": "x%20y " + GITHUB.replace("_", "%5f")})


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/search?q=hello%20world",
        "https://example.com/a%2Fb/file.txt",
        "https://example.com/?redirect=%2Fhome&lang=en",
        "100% of the tests pass, 50%ABCDEFGH",
    ],
)
def test_benign_escapes_pass(url: str) -> None:
    assert found({"url": url}) == set()


# -- encodings inside encodings ------------------------------------------------------------


def test_base64_of_base64_is_read() -> None:
    action = typed_body(b64(b64(AWS_PAIR)))
    assert decision(action) == "deny"
    assert "secret:aws-access-key" in found(action["args"])
    do_token = "dop_v1_" + hashlib.sha256(b"x").hexdigest()
    assert found({"t": b64(b64("DIGITALOCEAN_TOKEN=" + do_token))})


def test_base64_of_hex_and_hex_of_base64_are_read() -> None:
    assert decision(typed_body(b64(GITHUB.encode().hex()))) == "deny"
    assert "secret:github-token" in found({"t": b64(GITHUB).encode().hex()})
    message = tool("send_slack_message", channel="#dev", text=b64(GITHUB.encode().hex()))
    assert decision(message) == "deny"


def test_three_layers_are_read_and_a_fourth_is_not_promised() -> None:
    assert "secret:github-token" in found({"t": b64(b64(b64("token " + GITHUB)))})


def test_nested_decoding_is_bounded_by_the_budget() -> None:
    # 12 layers of base64 around 48 KB: the budget ends it with a review, never a pass.
    data = ("tag12345" + "A" * 1950).encode()
    for _ in range(12):
        data = base64.b64encode(data)
    checks = found({"m": data.decode()})
    assert checks <= {"secret:too-complex"}


@pytest.mark.parametrize(
    "text",
    [
        b64(b64("just some harmless text that was encoded twice for transport")),
        b64(hashlib.sha256(b"x").hexdigest()),
        b64(str(uuid.UUID(int=7))),
        base64.b64encode(bytes(range(256)) * 8).decode(),  # binary data (an image's bytes)
        b64(b64("aws_access_key_id = AKIAIOSFODNN7EXAMPLE")),
        b64(b64("OPENAI_API_KEY=sk-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")),
        hashlib.sha512(b"x").hexdigest(),
    ],
)
def test_benign_nested_encodings_pass(text: str) -> None:
    assert found({"content": text}) == set()
    assert decision(typed_body(text)) == "allow"


# -- groups of four, keys as mapping keys -------------------------------------------------


def test_a_key_spaced_in_groups_of_four_is_joined() -> None:
    spaced = "ghp_ " + " ".join(GITHUB[4 + i : 8 + i] for i in range(0, 36, 4))
    assert decision(tool("send_slack_message", channel="#dev", text="token: " + spaced)) == "deny"
    gitlab = "glpat- " + " ".join(GITLAB[6 + i : 10 + i] for i in range(0, 20, 4))
    assert "secret:gitlab-token" in found({"text": f"here: {gitlab}, thanks"})
    # Groups of four from the key's first character may cut through its prefix.
    stripe = "sk_live_6BRoQowFgsH9R1YpX4nVrRtdVlC1fDBUiT"
    cut = " ".join(stripe[i : i + 4] for i in range(0, len(stripe), 4))  # "sk_l ive_ 6BRo ..."
    assert "secret:stripe-key" in found({"message": cut})


@pytest.mark.parametrize(
    "text",
    [
        "this that with from have been some more text here",
        "card 4111 1111 1111 1111 exp 12/30",
        "AKIA IOSF ODNN 7EXA MPLE is the documented example",
        "ghp_ XXXX XXXX XXXX XXXX XXXX XXXX XXXX XXXX XXXX",
        "ask- and the risk- of it: sk- proj is a prefix, no key follows",
        "uuid 1234 abcd ef00 9876 5432 ffff",
    ],
)
def test_benign_groups_of_four_pass(text: str) -> None:
    assert found({"text": text}) == set()


def test_a_key_used_as_a_mapping_key_is_read() -> None:
    body = {"files": {GITHUB: {"content": "see file name"}}}
    args = {"method": "POST", "url": "https://api.github.com/gists", "body": body}
    assert decision({"agent_id": "a", "action": "http_request", "args": args}) == "deny"
    assert decision(tool("create_gist", files={GITHUB: "x"})) == "deny"
    # JSON text in a string holds its keys already.
    assert "secret:github-token" in found({"body": json.dumps({GITHUB: 1})})
    # A parameter the agent names itself, at the top of the arguments.
    assert decision(tool("send_slack_message", channel="#dev", **{GITHUB: "hi"})) == "deny"


def test_ordinary_long_keys_pass() -> None:
    data = {
        "aws_secret_access_key_id_field": "",
        "a_rather_long_descriptive_key_name": "v",
        str(uuid.UUID(int=99)): "row",
        hashlib.sha256(b"y").hexdigest(): "blob",
        "AKIAIOSFODNN7EXAMPLE": "the documented example",
    }
    assert found({"data": data, "rows": [data]}) == set()
    assert found(data) == set()


def test_decodings_mark_what_may_be_decoded_again() -> None:
    text = "x%41%42%43 " + b64("harmless text, long enough to keep") + " ghp_ abcd efgh ijkl"
    pairs = list(decodings(text, False, False, True))
    # Whole-text unescaping keeps the length: scanned once, never decoded again.
    assert any(not nested for decoded, nested in pairs if decoded.startswith("xABC"))
    assert any(nested for decoded, nested in pairs if "harmless" in decoded)
    assert ("ghp_abcdefghijkl", True) in pairs
    # Only a join's gate fired: no base64 pass, no unescaping.
    assert list(decodings(text, False, False, True, encoded=False)) == [("ghp_abcdefghijkl", True)]
