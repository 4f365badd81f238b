"""Canonical paths' cheap path: an absolute ASCII path with nothing to undo is its own spelling.

``canonical_paths`` takes a plain absolute path (no escape, NUL, backslash,
empty / ``.`` / ``..`` / trailing-dot or trailing-space component, not under a
home or ``/proc``) as it is, lower-cased, without the step-by-step work. The
tests compare it with every step taken (``_canonical``) on generated paths
built from the pieces traversal tricks are made of, then check that such
tricks still reach the protected files through a policy.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
import re2

from agent_os.policies import Policy, load_policy
from agent_os.policies.analysis import _path
from agent_os.policies.analysis._path import GlobSet, canonical_paths, glob_regex
from agent_os.policies.analysis._re import OPTIONS

_PIECES = [
    "/", "//", "/./", "/../", "..", ".", " ", ". ", " .", "etc", "ETC", "shadow", "Shadow",
    ".ssh", "id_rsa", "home", "Users", "root", "rootkit", "proc", "self", "root", "cwd", "1",
    "~", "~x", "$HOME", "${HOME}", "%2e", "%2E%2e", "%2f", "%252e", "%", "%zz", "\x00", "\\",
    "c:", "C:\\", "file:", "file://", "host", "a", "B", "x.y", "-", "'", '"', "é", "\uff0e",
    "\u2024", "\u200b", "\uff0f", "\u017f", "\u212a", "\u00df", ":", "$", "*", "?", "[",
    "\t", "\n", "data",
    ".env", "Login Data", "docker.sock", "var", "run", "secrets",
]  # fmt: skip


def _values(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for i in range(count):
        value = "".join(rng.choices(_PIECES, k=rng.randint(1, 12)))
        # Most take the cheap path's entry: absolute (or made so after the quotes/spaces).
        if i % 4:
            value = "/" + value
        if i % 7 == 0:
            value = rng.choice(("'", '"', " ", "")) + value + rng.choice(("'", " ", ""))
        out.append(value)
    return out


def _full(value: str) -> tuple[str, ...]:
    return _path._canonical(value.strip().strip("'\""))


def test_plain_paths_read_as_every_step_reads_them() -> None:
    values = _values(20_000, 7)
    taken = 0
    for value in values:
        assert canonical_paths(value) == _full(value), value
        text = value.strip().strip("'\"")
        taken += text.isascii() and text.startswith("/") and _path._plain(text)
    # The generator reaches both branches often.
    assert 2_000 < taken < len(values) - 2_000


@pytest.mark.parametrize(
    "value",
    [
        "/srv/app/report.csv",
        "/SRV/App/Report.CSV",
        "/srv/data/report.csv Hi team, attached. Two vendors; finance: ok",
        "/a/b c/d.e/f-g_h",
        "/x" * 40,  # more components than the cheap path walks
    ],
)
def test_plain_spellings(value: str) -> None:
    assert canonical_paths(value) == _full(value)
    assert canonical_paths(value) == (value.lower(),)


@pytest.mark.parametrize(
    "value",
    [
        "/srv/../etc/shadow",
        "/srv/%2e%2e/etc/shadow",
        "/srv/%252e%252e/etc/shadow",
        "/etc//shadow",
        "/etc/./shadow",
        "/etc/shadow.",
        "/etc/shadow ",
        "/etc. /shadow",
        "/ETC/SHADOW",
        "/etc/shadow\x00.txt",
        "/etc\\shadow",
        "/srv\uff0f..\uff0fetc\uff0fshadow",
        "/\uff45tc/shadow",
        "/proc/self/root/etc/shadow",
        "/home/ana/.ssh/id_ed25519",
        "/Users/ana/.aws/credentials",
        "/root/.ssh/config",
        "/srv/app/.env",
        "/srv/app/.env/",
    ],
)
def test_traversal_spellings_still_caught(value: str) -> None:
    # Only the strict preset's path rules, so no pattern or secret rule decides first.
    policy = Policy("paths", blocked_paths=load_policy("strict").blocked_paths)
    for action in (
        {"agent_id": "a", "action": "file_read", "args": {"path": value}},
        {"agent_id": "a", "action": "tool_call", "tool": "read_file", "args": {"file_path": value}},
    ):
        verdict = policy.evaluate(action)
        assert verdict.decision.value == "deny", (value, verdict)
        assert verdict.rule is not None and verdict.rule.startswith("path:"), (value, verdict)


# -- glob sets: read from the path's start, its end, or whole --------------------------

_GLOB_PIECES = [
    "/", "~/", "a", "b", ".", "x", "**", "*", "?", "[ab]", "[!a]", "[^/]", "[", "]", "\\", " ",
    "-", "é", "K", "\u212a", "S", "\u017f", "$home/", "/**", "**/", "ssh", "etc", "env",
]  # fmt: skip
_PATH_PIECES = [
    "/", "//", "a", "b", "A", ".", "x", "~", "~/", "é", "k", "K", "\u212a", "s", "\u017f", " ",
    "-", "[", "]", "ab", "ssh", "etc", "env", "\\", "\n",
]  # fmt: skip


def _reference(globs: list[str]) -> Any:
    rule_set = re2.Set.SearchSet(OPTIONS)
    for glob in globs:
        rule_set.Add(glob_regex(glob))
    rule_set.Compile()
    return rule_set


def test_glob_set_matches_as_one_whole_path_set() -> None:
    rng = random.Random(11)
    for _ in range(150):
        globs: list[str] = []
        while len(globs) < rng.randint(1, 12):
            glob = "".join(rng.choices(_GLOB_PIECES, k=rng.randint(1, 6)))
            if glob.strip():
                globs.append(glob)
        fast = GlobSet(globs)
        reference = _reference(globs)
        for _ in range(200):
            raw = "".join(rng.choices(_PATH_PIECES, k=rng.randint(0, 10)))
            for path in (raw.casefold(), *canonical_paths(raw or "x")):
                want = sorted(reference.Match(path.encode()) or ())
                assert fast.match(path) == want, (globs, path)
                assert fast._parts(path) == want, (globs, path)


def test_glob_set_on_the_strict_globs() -> None:
    globs = [glob for rule in load_policy("strict").blocked_paths for glob in rule.paths]
    fast = GlobSet(globs)
    reference = _reference(globs)
    rng = random.Random(5)
    pieces = [*_PATH_PIECES, *(g.replace("**", "q").replace("*", "w") for g in globs)]
    for _ in range(20_000):
        raw = "".join(rng.choices(pieces, k=rng.randint(1, 6)))
        long = "a b." * rng.randint(60, 90)
        for path in (*canonical_paths(raw), *canonical_paths(raw + long), long + raw.lower()):
            want = sorted(reference.Match(path.encode()) or ())
            assert fast.match(path) == want, path
            assert fast._parts(path) == want, path
