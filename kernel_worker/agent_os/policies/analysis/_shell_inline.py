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
import shlex
from collections.abc import Sequence

from ._shell_ops import _positionals

__all__ = [
    "cmd_script",
    "container_command",
    "database_statement",
    "interpreter_code",
    "is_cmdlet",
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
            r"new-scheduledtask|register-scheduledtask|currentversion\\+run|new-service\b"
            r"|start menu[\\/]+programs[\\/]+startup\b",
            re.I,
        ),
    ),
    (
        # Event logs cleared or removed, their files deleted, audit policy cleared, the
        # session's and PSReadLine's history erased or switched off. Backslashes may be gone
        # after shell quote removal (winevt\Logs -> winevtLogs).
        "shell:audit-tamper",
        re.compile(
            r"\b(?:clear-eventlog|remove-eventlog|clear-history)\b|\.clearlog\s*\("
            r"|\bwevtutil(?:\.exe)?\s+(?:cl|clear-log)\b"
            r"|\bwevtutil(?:\.exe)?\s+(?:sl|set-log)\b[^|;\n]{0,300}?/e(?:nabled)?:false\b"
            r"|\bauditpol(?:\.exe)?\b[^|;\n]{0,300}?(?:/clear|/remove|:disable\b)"
            r"|\bfsutil(?:\.exe)?\s+usn\s+deletejournal\b"
            r"|\b(?:remove-item|ri|rm|del|erase)\b[^|;\n]{0,300}?winevt\W{0,3}logs\b"
            r"|\b(?:remove-item|ri|rm|del|erase)\b[^|;\n]{0,300}?historysavepath\b"
            r"|-historysavestyle\W{0,3}savenothing\b",
            re.I,
        ),
    ),
    (
        "shell:service-stop",
        re.compile(
            r"\b(?:stop-service|set-service\b.{0,200}?-startuptype\W+disabled)\b", re.I | re.S
        ),
    ),
)


def cmd_script(args: Sequence[str]) -> str | None:
    """The command ``cmd /c ...`` (``/k``, ``/r``) runs, as a POSIX shell reads it.

    One quoted word is cmd's own command line (its backslashes are path
    separators, kept through the shell's quote removal); several words are
    quoted one by one.
    """
    for index, arg in enumerate(args):
        if arg.lower() in ("/c", "/k", "/r"):
            rest = args[index + 1 :]
            if len(rest) == 1:
                return rest[0].replace("\\", "\\\\")
            return shlex.join(rest) if rest else None
        if not arg.startswith("/"):
            return None
    return None


def windows_delete(name: str, args: Sequence[str]) -> bool:
    """``Remove-Item -Recurse``, ``rmdir /s``, ``del /s``: a recursive delete in Windows syntax."""
    return name in _PS_DELETE and any(_PS_RECURSE.match(a) for a in args)


#: PowerShell's command-line parameters: (name, shortest prefix it accepts, takes a value).
#: Any prefix of a name at least as long as its shortest prefix is that parameter
#: (``-e``, ``-en``, ``-enc``, ``-EncodedCommand``), as ``powershell.exe`` / ``pwsh`` read them.
_PS_PARAMS: tuple[tuple[str, str, bool], ...] = (
    ("encodedcommand", "e", True),
    ("executionpolicy", "ex", True),
    ("encodedarguments", "encodeda", True),
    ("command", "c", True),
    ("configurationname", "config", True),
    ("configurationfile", "configurationf", True),
    ("custompipename", "cus", True),
    ("file", "f", True),
    ("windowstyle", "w", True),
    ("workingdirectory", "wo", True),
    ("version", "v", True),
    ("inputformat", "in", True),
    ("interactive", "i", False),
    ("outputformat", "o", True),
    ("psconsolefile", "ps", True),
    ("settingsfile", "settings", True),
    ("noprofile", "nop", False),
    ("noninteractive", "noni", False),
    ("nologo", "nol", False),
    ("noexit", "noe", False),
    ("noprofileloadtime", "noprofilel", False),
    ("sta", "s", False),
    ("mta", "m", False),
    ("login", "l", False),
)
_PS_ALIASES = {"ec": "encodedcommand", "ep": "executionpolicy", "ea": "encodedarguments",
               "if": "inputformat", "of": "outputformat", "wd": "workingdirectory"}  # fmt: skip


def _ps_param(arg: str) -> tuple[str, bool] | None:
    """(parameter name, takes a value) for ``-Enc`` / ``--enc`` / ``/enc``, or ``None``."""
    key = arg.lstrip("-/").lower().partition(":")[0]
    if not key or key == arg.lower():
        return None
    name = _PS_ALIASES.get(key)
    if name is not None:
        return name, True
    for name, shortest, value in _PS_PARAMS:
        if name.startswith(key) and key.startswith(shortest):
            return name, value
    return None


def _ps_decode(text: str) -> str:
    """An ``-EncodedCommand`` value: base64 of UTF-16LE (padding optional); as is if not."""
    compact = "".join(text.split())
    try:
        raw = base64.b64decode(compact + "=" * (-len(compact) % 4), validate=True)
    except (binascii.Error, ValueError):
        return text
    return raw.decode("utf-16-le", "replace")


def powershell_script(args: Sequence[str]) -> str | None:
    """The script a ``powershell`` / ``pwsh`` command line runs (``-Command``, ``-Enc``)."""
    index = 0
    while index < len(args):
        arg = args[index]
        param = _ps_param(arg) if arg[:1] in "-/" else None
        if param is None:
            if arg.startswith("-"):
                index += 1  # an unknown switch
                continue
            return " ".join(args[index:])  # Windows PowerShell reads a bare word as -Command
        name, value = param
        glued = arg.partition(":")[2]  # -Command:"..." / -ec:BASE64
        if name == "command":
            return " ".join([glued, *args[index + 1 :]] if glued else args[index + 1 :])
        if name == "encodedcommand":
            encoded = glued or (args[index + 1] if index + 1 < len(args) else "")
            return _ps_decode(encoded)
        if name == "file":
            return None  # a script file: nothing inline
        index += 2 if value and not glued else 1
    return None


#: Enumerations that recurse (``Get-ChildItem -Recurse``) and deletes they may feed.
_PS_ENUMERATE = frozenset({"get-childitem", "gci", "ls", "dir", "get-item", "gi"})
_PS_DELETES = frozenset({*_PS_DELETE, "remove-item", "[system.io.directory]::delete", ".delete()"})
_PS_TOKEN = re.compile(r"[^\s{}();|,]+")


def _pipeline_deletes(script: str) -> bool:
    """``Get-ChildItem -Recurse X | Remove-Item``: a recursive listing fed to a delete."""
    for statement in re.split(r"[;\n]", script):
        recursive = False
        for segment in re.split(r"(?<!\|)\|(?!\|)", statement):
            tokens = [t.strip("'\"&").lower() for t in _PS_TOKEN.findall(segment)]
            if not tokens:
                continue
            if recursive and (
                any(t in _PS_DELETES for t in tokens) or ".delete(" in segment.lower()
            ):
                return True
            if tokens[0] in _PS_ENUMERATE and any(
                ("-recurse".startswith(t) and len(t) > 1) or t.startswith("-depth") for t in tokens
            ):
                recursive = True
    return False


#: PowerShell's approved verbs that change a machine (a cmdlet is Verb-Noun).
_PS_VERBS = frozenset(
    {"add", "clear", "copy", "disable", "enable", "install", "invoke", "move", "new", "register",
     "remove", "rename", "reset", "restart", "set", "start", "stop", "suspend", "uninstall",
     "unregister", "write", "out", "format", "initialize", "export", "get"}
)  # fmt: skip


def is_cmdlet(name: str) -> bool:
    """``Set-MpPreference``, ``New-ItemProperty``, ``iex``: PowerShell run through a shell tool."""
    verb, dash, noun = name.partition("-")
    return (bool(dash) and verb in _PS_VERBS and noun.isalpha()) or name in ("iex", "iwr", "irm")


def judge_powershell(script: str) -> list[str]:
    """Checks a PowerShell script breaks (a token-level reading of its cmdlets)."""
    text = script[:65_536]
    found = [check for check, regex in _PS_RULES if regex.search(text)]
    if "shell:rm-rf" not in found and "|" in text and _pipeline_deletes(text):
        found.append("shell:rm-rf")
    return found


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
