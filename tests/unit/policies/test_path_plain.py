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

import pytest

from agent_os.policies import Policy, load_policy
from agent_os.policies.analysis import _path
from agent_os.policies.analysis._path import canonical_paths

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
