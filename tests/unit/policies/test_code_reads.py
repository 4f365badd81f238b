"""What a program run opens and sends: the paths meet the path rules, the SQL the SQL analyser.

Judged by the analysers alone, through LangChain's ``Python_REPL`` and a typed
``code_exec``. Code only written to a file runs nothing, so its SQL is not judged.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.policies.test_code_fields import ANALYSERS, repl, typed


@pytest.mark.parametrize(
    ("action", "rule"),
    [
        (repl("print(open('/proc/1/environ').read())"), "path:process-secrets"),
        (
            repl("print(open('/var/run/secrets/kubernetes.io/serviceaccount/token').read())"),
            "path:cloud-credentials",
        ),
        (
            repl("from pathlib import Path\nprint((Path.home() / '.pgpass').read_text())"),
            "path:credential-files",
        ),
        (
            typed(
                "console.log(require('fs').readFileSync(require('os').homedir() + '/.npmrc'))",
                "javascript",
            ),
            "path:credential-files",
        ),
        (
            repl(
                "import glob\nfor p in glob.glob('/home/*/.ssh/id_*'):\n    print(open(p).read())"
            ),
            None,
        ),
        (repl("import subprocess\nsubprocess.run(['cat', '/proc/self/environ'])"), None),
        (repl("cur.execute('TRUNCATE users, orders, payments CASCADE')"), "sql:truncate"),
        (repl('cur.execute("DELETE FROM users")'), "sql:delete"),
    ],
)
def test_stopped(action: dict[str, Any], rule: str | None) -> None:
    verdict = ANALYSERS.evaluate(action)
    assert not verdict.allowed, verdict
    if rule is not None:
        assert verdict.rule == rule, verdict


@pytest.mark.parametrize(
    "action",
    [
        repl("print(open('README.md').read())"),
        repl("from pathlib import Path\nprint((Path.home() / 'notes.txt').exists())"),
        repl(
            "import sqlite3\n"
            "con = sqlite3.connect(':memory:')\n"
            "con.execute('DROP TABLE IF EXISTS t')"
        ),
        repl("cur.execute('SELECT id FROM users WHERE id = %s', (uid,))"),
        {
            "agent_id": "a",
            "action": "tool_call",
            "tool": "write_file",
            "args": {"path": "m.py", "content": "op.execute('ALTER TABLE users DROP COLUMN x')\n"},
        },
    ],
)
def test_allowed(action: dict[str, Any]) -> None:
    verdict = ANALYSERS.evaluate(action)
    assert verdict.allowed, verdict
