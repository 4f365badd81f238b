"""Path checks' cheap readings: remembered short paths, literals found at slashes.

Short values recur, so ``canonical_paths`` and ``GlobSet.match`` remember them;
the tests check the remembered answer is the computed one and that a caller
cannot change it. A long path is checked for the literals of the unanchored
``**``-ended globs at its slashes only (a ``/`` in a literal is one of the
path's); the tests compare that with one whole-path set on long generated paths
with few and with many slashes.
"""

from __future__ import annotations

import random

from agent_os.policies import load_policy
from agent_os.policies.analysis import _path
from agent_os.policies.analysis._path import GlobSet, canonical_paths
from tests.unit.policies.test_path_plain import _reference


def test_remembered_spellings_are_the_computed_ones() -> None:
    for value in ("/srv/app/README.md", "777", "~/.ssh/id_rsa", "/etc/../etc/shadow", "a" * 256):
        assert canonical_paths(value) == _path._paths(value)
        assert canonical_paths(value) == _path._paths(value)  # the remembered answer


def test_remembered_matches_cannot_be_changed_by_a_caller() -> None:
    globs = ["/etc/shadow", "**/.env", "~/.ssh/**"]
    fast = GlobSet(globs)
    first = fast.match("/etc/shadow")
    assert first == [0]
    first.append(2)
    first.sort(reverse=True)
    assert fast.match("/etc/shadow") == [0]
    assert fast.match("/srv/app/.env") == [1]


def test_literals_inside_a_long_path_are_found_at_its_slashes() -> None:
    globs = [
        "**/jenkins/secrets/**",
        "**/Microsoft/Vault/**",
        "**/microsoft/protect/**",
        "**/x*/bbb/ccc/**",
        "**/a/**",  # no literal worth looking for: the set runs on every path
        "**/secrets/**",  # a literal with no slash: looked for in the whole path
    ]
    strict = [glob for rule in load_policy("strict").blocked_paths for glob in rule.paths]
    rng = random.Random(13)
    words = ["a", "bbb", "ccc", "xy", "jenkins", "secrets", "microsoft", "vault", "protect", "s t"]
    for chosen in (strict, globs[:4], globs[:5], [*globs[:4], globs[5]]):
        fast = GlobSet(chosen)
        reference = _reference(chosen)
        for _ in range(3_000):
            slashes = rng.choice((1, 3, 31, 32, 33, 60))
            parts = [
                rng.choice(words) + (" word" * rng.randint(0, 80) if rng.random() < 0.2 else "")
                for _ in range(slashes)
            ]
            path = ("/" if rng.random() < 0.5 else "") + "/".join(parts)
            path = path.ljust(300, ".")
            want = sorted(reference.Match(path.encode()) or ())
            assert fast.match(path) == want, (chosen, path)
