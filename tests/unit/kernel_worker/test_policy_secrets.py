"""Secret detection (analysis/_secrets*): catalogue, examples and placeholders, decoding, splits."""

from __future__ import annotations

import base64

import pytest

from agent_os.policies import load_policy
from agent_os.policies.analysis._secrets import entropy, is_placeholder, scan_secrets
from agent_os.policies.analysis._secrets_catalogue import CATALOGUE
from agent_os.policies.analysis._secrets_rules import CATALOGUE_INFO, RULES, SECRET_CHECKS

STRICT = load_policy("strict")


def found(args: object) -> set[str]:
    return {check for check, _ in scan_secrets(args)}


def test_detect_secrets_plugins_are_read_from_the_installed_package() -> None:
    assert CATALOGUE_INFO["detect_secrets"] not in (None, "unknown")
    assert CATALOGUE_INFO["plugin_rules"] >= 40
    assert CATALOGUE_INFO["rules"] == CATALOGUE_INFO["plugin_rules"] + len(CATALOGUE) == len(RULES)
    # The plugins refused by RE2 are named, not silently lost.
    assert all(isinstance(name, str) for name in CATALOGUE_INFO["skipped"])
    assert "secret:aws-access-key" in SECRET_CHECKS


@pytest.mark.parametrize("fmt", CATALOGUE, ids=[f"{f.id}: {f.reason}" for f in CATALOGUE])
def test_every_catalogue_format_catches_its_example(fmt: object) -> None:
    assert fmt.source  # type: ignore[attr-defined]
    assert fmt.id in found({"text": f"see {fmt.example} here"})  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "text",
    [
        "AKIAIOSFODNN7EXAMPLE",
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "ghp_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
        "STRIPE_SECRET_KEY=sk_live_xxxxxxxxxxxxxxxxxxxxxxxx",
        "stripe.api_key = 'sk_test_4eC39HqLyjWDarjtT1zdp7dc'",
        "export ANTHROPIC_API_KEY=<your-api-key>",
        "password: ${DB_PASSWORD}",
        "DATABASE_URL=postgres://user:password@localhost:5432/dev",
        "API_KEY=your_api_key_here",
        "commit 9fceb02d0ae598e95dc970b74767f19372d61af8",
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "The JWT header eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9 means HS256.",
        "-----BEGIN PUBLIC KEY-----",
        "https://docs.python.org/3/library/subprocess.html",
        "Authorization: Basic dXNlcjpwYXNzd29yZA==",
        "jwt.io sample: eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6"
        "IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5E"
        "rkJggg==",
    ],
)
def test_examples_placeholders_and_lookalikes_pass(text: str) -> None:
    assert found({"text": text}) == set()
    assert STRICT.evaluate(
        {"agent_id": "a", "action": "send_email", "args": {"body": text}}
    ).allowed


def test_entropy_and_placeholder_helpers() -> None:
    assert entropy("aaaaaaaa") == 0.0
    assert entropy("Zq8Kd2mVt7Lp4XwR") > 3.5
    assert is_placeholder("<your-key>") and is_placeholder("AKIAIOSFODNN7EXAMPLE")
    assert not is_placeholder("Zq8Kd2mVt7Lp4XwR")


STRIPE = "sk_live_51Zq8Kd2mVt7Lp4XwRb9NcYe3Hs6Ga1"
GITHUB = "ghp_Zq8Kd2mVt7Lp4XwRb9NcYe3Hs6Ga1Uf5Jo0T"


@pytest.mark.parametrize(
    ("args", "check"),
    [
        ({"note": base64.b64encode(STRIPE.encode()).decode()}, "secret:stripe-key"),
        ({"note": "k=" + GITHUB.encode().hex()}, "secret:github-token"),
        (
            {"url": "https://x.example/?t=" + "".join(f"%{b:02X}" for b in GITHUB.encode())},
            "secret:github-token",
        ),
        ({"note": "token: " + " ".join(GITHUB)}, "secret:github-token"),
        ({"part_1": STRIPE[:20], "part_2": STRIPE[20:]}, "secret:stripe-key"),
        ({"chunks": [GITHUB[:10], GITHUB[10:25], GITHUB[25:]]}, "secret:github-token"),
        ({"user": "svc", "password": "Zq8Kd2mVt7Lp"}, "secret:credential-field"),
        (
            {"aws_secret_access_key": "Zq8Kd2mVt7Lp4XwRb9N/Ye3Hs6Ga1Uf5Jo0TiQzB"},
            "secret:credential-field",
        ),
        ({"h": "Authorization: Basic YWRtaW46WnE4S2QybVZ0N0xwNFh3Ug=="}, "secret:basic-auth"),
        (
            {"env": "CF_API_TOKEN=Zq8Kd2mVt7Lp4XwRb9NcYe3Hs6Ga1Uf5Jo0TiQ"},
            "secret:credential-assignment",
        ),
    ],
    ids=[
        "base64",
        "hex",
        "url-encoded",
        "spaced out",
        "split fields",
        "split list",
        "password field",
        "aws secret field",
        "basic auth",
        "api token name",
    ],
)
def test_encoded_spaced_and_split_secrets_are_found(args: dict[str, object], check: str) -> None:
    assert check in found(args)


def test_secrets_are_found_in_prose_fields_and_redacted() -> None:
    verdict = STRICT.evaluate(
        {
            "agent_id": "a",
            "action": "tool_call",
            "tool": "duckduckgo_search",
            "args": {"query": f"is {GITHUB} still valid?"},
        }
    )
    assert verdict.rule == "secret:github-token"
    assert verdict.matched is not None and GITHUB not in verdict.matched


def test_too_many_candidates_is_sent_for_review_not_skipped() -> None:
    soup = "ghp_" + "X" * 36 + " "
    assert found({"text": soup * 10}) == set()  # a few placeholders are judged and pass
    assert found({"text": soup * 100}) == {"secret:too-complex"}
    verdict = STRICT.evaluate({"agent_id": "a", "action": "log", "args": {"m": soup * 100}})
    assert (verdict.decision.value, verdict.rule) == ("review", "secret:too-complex")
