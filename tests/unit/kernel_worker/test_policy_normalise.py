"""Normalisation, argument flattening, pattern rewriting and URL host parsing."""

from __future__ import annotations

from typing import Any

import pytest
import re2

from agent_os.policies.analysis._net import domain_matches, host_of, normalise_domain
from agent_os.policies.analysis._normalise import (
    SEP,
    collapse_whitespace,
    flatten,
    fold,
    normalise,
    space_insensitive,
    strip_sql_comments,
)


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ("DR/**/OP TABLE users", "drop table users"),
        ("\uff24\uff32\uff2f\uff30\u3000\uff34\uff21\uff22\uff2c\uff25", "drop table"),
        ("r'm' -\"rf\"  /", "rm -rf /"),
        ("r\\m\t-rf\n/", "rm -rf /"),
        ("DROP -- comment\nTABLE", "drop table"),
        ("de\u200ble\u00adte", "delete"),
        ("Straße", "strasse"),
        ("  lots   of\t\twhite \r\n space  ", "lots of white space"),
    ],
)
def test_normalise_reference(raw: str, want: str) -> None:
    assert normalise(raw) == want


def test_fold_fast_path_keeps_ascii_case_and_whitespace() -> None:
    text = "Executive Summary\twith  spaces"
    assert fold(text) is text  # nothing to do: no copy
    assert fold("\uff21\u200b\uff22") == "AB"  # case is left to the matcher
    assert fold("Stra\u00dfe") == "strasse"


def test_strip_sql_comments() -> None:
    assert strip_sql_comments("a/*x*/b--c\nd") == "ab\nd"
    assert strip_sql_comments("keep /* open") == "keep "
    assert strip_sql_comments("x -- to end") == "x "
    assert strip_sql_comments("/*!50000DROP*/ TABLE") == "DROP TABLE"
    assert strip_sql_comments("no comments here") == "no comments here"
    assert strip_sql_comments("a -- b /* c */ d\ne /* f -- g */ h") == "a \ne  h"


def test_collapse_whitespace() -> None:
    assert collapse_whitespace(" a \t\n b ") == "a b"


@pytest.mark.parametrize(
    ("regex", "want"),
    [
        ("drop table", r"drop(?:\s+)table"),
        ("a ?b", r"a(?:\s+)?b"),
        ("[ ]x", "[ ]x"),
        ("[^ ] y", r"[^ ](?:\s+)y"),
        (r"[] ]z", "[] ]z"),
        ("[[:alpha:] ] q", r"[[:alpha:] ](?:\s+)q"),
        (r"\ x", r"(?:\s+)x"),
        (r"\Qa b\E c", r"\Qa b\E(?:\s+)c"),
        ("nospace", "nospace"),
    ],
)
def test_space_insensitive(regex: str, want: str) -> None:
    assert space_insensitive(regex) == want
    re2.compile(space_insensitive(regex))


def test_space_insensitive_matches_like_collapsed_text() -> None:
    regex = re2.compile(space_insensitive("drop table"))
    assert regex.search("drop \t\n table")
    assert not regex.search("droptable")


def test_flatten_groups_keys_and_nesting() -> None:
    parts: list[str] = []
    groups: dict[str, list[str]] = {}
    args: Any = {
        "query": "select 1",
        "opts": {"path": ["/a", "/b"], "depth": 3},
        "Query": {"inner": "nested sql"},
        7: "int key",
    }
    key_groups = {"query": "sql", "path": "path"}
    assert flatten(args, key_groups, parts, groups)
    assert groups == {"sql": ["select 1", "nested sql"], "path": ["/a", "/b"]}
    text = SEP.join(parts)
    for piece in ("query:\nselect 1", "opts", "depth", "7:\nint key", "/a", "inner:\nnested sql"):
        assert piece in text


def test_flatten_depth_limit() -> None:
    deep: Any = "x"
    for _ in range(70):
        deep = {"k": deep}
    assert not flatten(deep, {}, [], {})
    shallow: Any = "x"
    for _ in range(60):
        shallow = [shallow]
    assert flatten(shallow, {}, [], {})


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://Example.COM/path", "example.com"),
        ("http://good.com@evil.com/", "evil.com"),
        ("http://good.com:pw@evil.com:8080/", "evil.com"),
        ("http://evil.com#@good.com", "evil.com"),
        ("http://evil.com?@good.com", "evil.com"),
        ("http://evil.com\\@good.com", "evil.com"),
        ("api.example.com:8443/v1", "api.example.com"),
        ("//cdn.example.com/x", "cdn.example.com"),
        ("https://example.com./", "example.com"),
        ("https://\uff45\uff58ample\uff0ecom", "example.com"),
        ("https://bücher.de/", "xn--bcher-kva.de"),
        ("https://%65vil.com/", "evil.com"),
        ("http://[::1]:8080/", "[::1]"),
        ("http://127.0.0.1/", "127.0.0.1"),
    ],
)
def test_host_of(url: str, host: str) -> None:
    assert host_of(url) == host


@pytest.mark.parametrize(
    "url", ["http:///etc/passwd", "", "https://exa mple.com", "http://a..b/", "https://-x.com"]
)
def test_host_of_rejects(url: str) -> None:
    with pytest.raises(ValueError):
        host_of(url)


def test_domain_matching_is_label_wise() -> None:
    domains = ("example.com", "corp.internal")
    assert domain_matches("example.com", domains) == "example.com"
    assert domain_matches("a.b.example.com", domains) == "example.com"
    assert domain_matches("evilexample.com", domains) is None
    assert domain_matches("example.com.evil.io", domains) is None
    assert domain_matches("x.corp.internal", domains) == "corp.internal"


def test_normalise_domain() -> None:
    assert normalise_domain("*.Example.com") == "example.com"
    assert normalise_domain(".example.com.") == "example.com"
    assert normalise_domain("bücher.de") == "xn--bcher-kva.de"
    for bad in ("http://x.com", "x.com/a", "user@x.com", "x.com:80", ""):
        with pytest.raises(ValueError):
            normalise_domain(bad)
