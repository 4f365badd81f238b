"""Path canonicalisation and globs (_policy_path)."""

from __future__ import annotations

import pytest
import re2

from agent_os.policies import load_policy
from agent_os.policies.analysis._path import canonical_paths, glob_regex


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/etc//./shadow/", "/etc/shadow"),
        ("/var/../etc/shadow", "/etc/shadow"),
        ("../../../etc/shadow", "/etc/shadow"),
        ("%2e%2e/%2e%2e/etc/shadow", "/etc/shadow"),
        ("%252e%252e%252fetc%252fshadow", "/etc/shadow"),
        ("/etc/shadow\x00.png", "/etc/shadow"),
        ("/etc/shadow%00.png", "/etc/shadow"),
        ("/ETC/SHADOW", "/etc/shadow"),
        ("file:///etc/shadow", "/etc/shadow"),
        ("/proc/self/root/etc/shadow", "/etc/shadow"),
        ("$HOME/.ssh/id_rsa", "~/.ssh/id_rsa"),
        ("/home/bob/.ssh/id_rsa", "~/.ssh/id_rsa"),
        ("C:\\Users\\bob\\.ssh\\id_rsa", "~/.ssh/id_rsa"),
        ("~bob/.aws/credentials", "~/.aws/credentials"),
        ("../../../home/dev/.docker/config.json", "~/.docker/config.json"),
        ("%2e%2e/%2e%2e/home/dev/.kube/config", "~/.kube/config"),
        ("%USERPROFILE%\\.kube\\config", "~/.kube/config"),
        ("%HOMEDRIVE%%HOMEPATH%\\.aws\\credentials", "~/.aws/credentials"),
        ("$env:USERPROFILE\\.docker\\config.json", "~/.docker/config.json"),
        ("app/.env.", "app/.env"),
        ("./config/../.env", ".env"),
    ],
)
def test_canonical_spellings(raw: str, expected: str) -> None:
    assert expected in canonical_paths(raw)


def test_relative_paths_are_also_read_from_root_and_home() -> None:
    assert canonical_paths("etc/shadow") == ("etc/shadow", "/etc/shadow", "~/etc/shadow")


@pytest.mark.parametrize(
    ("glob", "hits", "misses"),
    [
        ("/etc/shadow", ["/etc/shadow"], ["/etc/shadow.bak", "/x/etc/shadow"]),
        ("~/.ssh/**", ["~/.ssh", "~/.ssh/id_rsa", "~/.ssh/a/b"], ["~/.sshx", "/.ssh/x"]),
        (".env", [".env", "app/.env", "/srv/.env"], [".env.example", "x.env"]),
        ("/proc/*/environ", ["/proc/1/environ"], ["/proc/1/2/environ"]),
        ("id_[rd]sa", ["keys/id_rsa", "id_dsa"], ["id_ecdsa"]),
        ("**/secrets/*.key", ["a/secrets/x.key", "secrets/y.key"], ["secrets/a/x.key"]),
    ],
)
def test_globs(glob: str, hits: list[str], misses: list[str]) -> None:
    regex = re2.compile(glob_regex(glob))
    for path in hits:
        assert regex.search(path), (glob, path)
    for path in misses:
        assert not regex.search(path), (glob, path)


def test_empty_glob_is_refused() -> None:
    with pytest.raises(ValueError):
        glob_regex("  ")


@pytest.mark.parametrize(
    ("path", "lost"),
    [
        ("/var/lib/mysql", True),
        ("/var/lib/postgresql/16/main/base", True),
        ("/home/dev/project/.git", True),
        ("C:\\repo\\.git\\objects", True),
        ("/srv/backups/db-2024-06-01.sql.gz", True),
        ("/srv/backups", True),
        ("/srv/app/backup.sh", False),
        ("/etc", True),
        ("/", True),
        ("/home/dev/project/.git/index.lock", False),
        ("/home/dev/project/build/tmp.o", False),
        ("/var/lib/mysql-files-old.txt", False),
        ("/etc/app/old.conf", False),
    ],
)
def test_what_a_deletion_must_not_take(path: str, lost: bool) -> None:
    from agent_os.policies.analysis._shell_ops import data_target

    assert data_target(path) is lost
    mapping = load_policy("strict").to_dict()
    mapping.pop("blocked_actions")  # deletions allowed: the check decides
    mapping["name"] = "deletes-allowed"
    policy = load_policy(mapping)
    for action in (
        {"agent_id": "a", "action": "file_delete", "args": {"path": path}},
        {"agent_id": "a", "action": "tool_call", "tool": "delete_file", "args": {"path": path}},
    ):
        verdict = policy.evaluate(action)
        assert (verdict.rule == "path:data-delete") is lost, verdict
