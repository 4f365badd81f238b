"""Commands carrying another language inline: PowerShell, interpreters, DB clients, containers.

The shell analyser (``_shell``) hands each resolved command here to find the
program it carries: the script of ``powershell -Command`` / ``-EncodedCommand``
(judged by a token-level reading of its cmdlets), the code of ``python -c`` /
``node -e`` / ``ruby -e'...'`` / ``php -r`` (for ``_code``), the SQL of ``psql
-c`` / ``mysql -e`` / ``sqlcmd -Q`` (for ``_sql``), and the command run by
``kubectl exec ... --`` / ``docker exec`` (analysed like any script).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence

from ._shell_ops import _positionals

__all__ = [
    "container_command",
    "database_statement",
    "interpreter_code",
    "judge_powershell",
    "powershell_script",
    "windows_delete",
]

_DB_CLIENTS: dict[str, tuple[str, ...]] = {
    "psql": ("-c", "--command"),
    "mysql": ("-e", "--execute"),
    "mariadb": ("-e", "--execute"),
    "sqlcmd": ("-Q", "-q", "--query"),
    "clickhouse-client": ("-q", "--query"),
    "snowsql": ("-q", "--query"),
    "cockroach": ("-e", "--execute"),
    "duckdb": ("-c",),
    "sqlite3": (),
}

_PS_DELETE = frozenset({"remove-item", "ri", "rd", "rmdir", "del", "erase", "rm", "rm.exe"})
_PS_RECURSE = re.compile(r"^(?:-r|-rec|-recurse|-recurse:\$true|/s)$", re.IGNORECASE)
_PS_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("shell:reverse-shell", re.compile(r"net\.sockets\.tcpclient|net\.sockets\.socket", re.I)),
    (
        "shell:pipe-to-shell",
        re.compile(
            r"\b(?:iex|invoke-expression)\b.{0,200}?(?:downloadstring|iwr|invoke-webrequest|irm"
            r"|invoke-restmethod|net\.webclient)|(?:downloadstring|iwr|irm|invoke-webrequest"
            r"|invoke-restmethod)\b.{0,200}?\|\s*(?:iex|invoke-expression)\b",
            re.I | re.S,
        ),
    ),
    (
        "shell:rm-rf",
        re.compile(
            r"\b(?:remove-item|ri|rm|rd|rmdir|del)\b[^|;\n]{0,300}?\s-r(?:ec(?:urse)?)?\b", re.I
        ),
    ),
    ("shell:disk-wipe", re.compile(r"\b(?:format-volume|clear-disk|initialize-disk)\b", re.I)),
    ("shell:power", re.compile(r"\b(?:stop-computer|restart-computer)\b", re.I)),
    (
        "shell:defence-off",
        re.compile(
            r"set-mppreference\b.{0,100}-disable|netsh\s+advfirewall\s+set\s+\w+\s+state\s+off",
            re.I,
        ),
    ),
    (
        "shell:persistence",
        re.compile(
            r"new-scheduledtask|register-scheduledtask|currentversion\\+run|new-service\b", re.I
        ),
    ),
)


def windows_delete(name: str, args: Sequence[str]) -> bool:
    """``Remove-Item -Recurse``, ``rmdir /s``, ``del /s``: a recursive delete in Windows syntax."""
    return name in _PS_DELETE and any(_PS_RECURSE.match(a) for a in args)


def powershell_script(args: Sequence[str]) -> str | None:
    """The script a ``powershell`` / ``pwsh`` command line runs (``-Command``, ``-Enc``)."""
    for index, arg in enumerate(args):
        lower = arg.lower()
        rest = " ".join(args[index + 1 :])
        if lower in ("-c", "-command", "/c", "-com", "-comm"):
            return rest
        if lower in ("-e", "-ec", "-enc", "-encodedcommand", "-en", "-encoded") and index + 1 < len(
            args
        ):
            try:
                return base64.b64decode(args[index + 1]).decode("utf-16-le", "replace")
            except (binascii.Error, ValueError):
                return args[index + 1]
        if not lower.startswith(("-", "/")):
            return " ".join(args[index:])
    return None


def judge_powershell(script: str) -> list[str]:
    """Checks a PowerShell script breaks (a token-level reading of its cmdlets)."""
    return [check for check, regex in _PS_RULES if regex.search(script[:65_536])]


def interpreter_code(name: str, args: Sequence[str]) -> tuple[str, str] | None:
    """(language, code) of ``python -c CODE``, ``node -e CODE``, ``perl -e``, ``php -r``..."""
    flags = {"-c"} if name.startswith("python") else {"-e", "--eval", "-p", "--print", "-r", "-E"}
    language = (
        "python"
        if name.startswith("python")
        else "javascript"
        if name in ("node", "deno", "bun")
        else name
    )
    for index, arg in enumerate(args):
        if arg in flags and index + 1 < len(args):
            return language, args[index + 1]
        glued = "-c" if name.startswith("python") else "-r" if name == "php" else "-e"
        if len(arg) > 2 and arg.startswith(glued) and not arg.startswith("--"):
            return language, arg[2:]  # the code glued to its option: ruby -e'...'
    return None


def database_statement(name: str, args: Sequence[str]) -> str | None:
    """The SQL a database client runs from its command line (``psql -c``, ``mysql -e``...)."""
    options = _DB_CLIENTS.get(name)
    if options is None:
        return None
    for index, arg in enumerate(args):
        if arg in options and index + 1 < len(args):
            return args[index + 1]
        for option in options:
            if option.startswith("--") and arg.startswith(option + "="):
                return arg.split("=", 1)[1]
    if name == "sqlite3":
        words = _positionals(args)
        return words[1] if len(words) > 1 else None
    return None


_EXEC_VALUES = frozenset(
    {"-e", "--env", "-u", "--user", "-w", "--workdir", "-c", "--container", "-n", "--namespace",
     "--context", "--env-file"}
)  # fmt: skip


def container_command(name: str, args: Sequence[str]) -> list[str] | None:
    """The command ``kubectl exec ... -- CMD`` / ``docker exec [opts] C CMD`` runs inside."""
    if name in ("kubectl", "oc") and "exec" in args and "--" in args:
        return list(args[args.index("--") + 1 :]) or None
    if name in ("docker", "podman", "nerdctl") and args[:1] == ["exec"]:
        index = 1
        while index < len(args) and args[index].startswith("-"):
            index += 2 if args[index] in _EXEC_VALUES else 1
        return list(args[index + 1 :]) or None
    return None
