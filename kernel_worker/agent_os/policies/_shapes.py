"""What a string looks like: a URL, a SQL statement, a command line, program source, a path.

Used only for argument fields whose name says nothing (``_fields``). The
tests are written against the shape of the thing, not a bare keyword: SQL is
a statement (``DELETE FROM t WHERE``, ``UPDATE t SET``, ``DROP TABLE``), so
"delete git branch" and ``cache.delete('k')`` are not SQL; a command line
starts with a known program or carries shell syntax; code has an import, a
call of an execution primitive or a definition at the start of a line.

Cost: one RE2 set scan (linear time) per string, skipped altogether for a
string of plain words whose first word starts nothing (most prose and data).
"""

from __future__ import annotations

import json
import re
from typing import Any

import re2

from agent_os.policies.analysis._re import OPTIONS

from ._catalogue import C, D, K, P, S, T, U

__all__ = ["command_shaped", "shape", "sql_shaped", "url_shaped"]


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_SQL_STARTS = _words(
    "select with insert replace upsert update delete drop create alter truncate merge grant "
    "revoke copy exec execute call show describe desc explain pragma vacuum set declare do "
    "use begin commit rollback load"
)
_SQL = (
    r"(?:^|;)[\s(]*(?:(?:--[^\n]*\n|/\*(?s:.*?)\*/)[\s(]*)*(?:"
    r"select\s+(?:distinct\s+|top\s+\d+\s+)?(?:\*|[\w.\"`\[\]]+\s*(?:,|from\b|as\b|$|;)"
    r"|count\s*\(|\d|'|@@)"
    r"|with\s+(?:recursive\s+)?[\w\"]+\s*(?:\([^)]*\)\s*)?as\s*(?:not\s+)?(?:materialized\s*)?\("
    r"|insert\s+(?:into|overwrite|ignore)\s+[\w.\"`\[]"
    r"|(?:replace|upsert)\s+into\s+[\w.\"`\[]"
    r"|update\s+[\w.\"`\[\]]+\s+(?:as\s+\w+\s+|\w+\s+)?set\s"
    r"|delete\s+(?:from\s+)?[\w.\"`\[\]]+\s*(?:;|$|where\b|returning\b|using\b)"
    r"|delete\s+from\s+[\w.\"`\[]"
    r"|drop\s+(?:table|view|database|schema|index|user|role|function|procedure|trigger"
    r"|sequence|extension|materialized|warehouse|tablespace|owned|type|policy)\b"
    r"|create\s+(?:or\s+replace\s+)?(?:temp(?:orary)?\s+|unique\s+|global\s+)?(?:table"
    r"|view|database|schema|index|user|role|function|procedure|trigger|sequence|extension"
    r"|materialized|policy|type|warehouse)\b"
    r"|alter\s+(?:table|view|database|schema|user|role|index|sequence|system|session"
    r"|warehouse|function|default)\b"
    r"|truncate\s+(?:table\s+)?[\w.\"`\[\]]+\s*(?:;|$|cascade|restart)"
    r"|merge\s+into\s"
    r"|grant\s+[\w\s,]+\s+(?:on|to)\s|revoke\s+[\w\s,]+\s+(?:on|from)\s"
    r"|copy\s+[\w.\"(]+[^;]*?\s(?:from|to)\s"
    r"|exec(?:ute)?\s+(?:immediate\b|sp_|xp_|@|\(|master\.)"
    r"|call\s+[\w.]+\s*\("
    r"|show\s+(?:tables|databases|schemas|columns|create|grants|variables|full)\b"
    r"|(?:describe|desc)\s+[\w.\"`]+\s*;?\s*$"
    r"|explain\s+(?:analyze\s+)?(?:select|insert|update|delete|with)\b"
    r"|pragma\s+\w|vacuum\b|set\s+role\s|declare\s+@|do\s+\$\$|use\s+[\w\"`\[\]]+\s*;?\s*$"
    r"|begin\s*(?:transaction\s*)?;|commit\s*;|rollback\s*;|load\s+data\s"
    r")"
)
_URL = r"^\s*(?:[a-z][a-z0-9+.-]{0,31}:/{2,}\S|www\.\S|/{2}[\w\[])"
_PATH = (
    r"^\s*(?:~[\w.-]*(?:[/\\]|$)|\.{1,2}[/\\]|/[^\s/]|/$|[a-z]:[/\\]|\\\\|%\w+%[/\\]"
    r"|\$\{?home\}?[/\\]|file:/)[^\n]*$"
)
_CODE_STARTS = _words("import from def class lambda function async await const let var")
_CODE = (
    r"(?:^|[\n;])\s*(?:import\s+[\w.]+|from\s+[\w.]+\s+import\s|def\s+\w+\s*\(|class\s+\w+\s*[:(]"
    r"|(?:const|let|var)\s+\w+\s*=)"
    r"|lambda\s*[\w,\s]*:"
    r"|\b(?:os|subprocess|shutil|sys|socket|pty|pickle|marshal|ctypes|builtins)\.\w+\s*\("
    r"|\b(?:eval|exec|compile|__import__|open|require|print|system|popen|spawn)\("
    r"|child_process|process\.(?:env|exit|binding|mainmodule)|\bfunction\s*\w*\s*\(|=>\s*[{(]"
    r"|console\.\w+\s*\(|document\.\w|window\.\w|\bnew\s+function\b"
)
_HOST = r"^\s*(?:[\w-]+(?:\.[\w-]+)+|\[[0-9a-f:.]+\])(?::\d+)?(?:[/?#]\S*)?\s*$"
_PREFIXES = _words("sudo doas nohup env exec time nice timeout")
_PROGRAMS = _words(
    "rm ls cp mv mkdir rmdir touch chmod chown chgrp ln grep egrep sed awk xargs tee echo "
    "printf whoami uname hostname ps pkill killall htop df du tar zip unzip gzip gunzip "
    "bzip2 xz curl wget ssh scp sftp rsync nc ncat netcat telnet ping dig nslookup ifconfig "
    "netstat iptables ufw systemctl service journalctl crontab screen tmux su git svn "
    "docker podman kubectl helm terraform ansible ansible-playbook aws gcloud gsutil az npm "
    "npx yarn pnpm pip pip3 pipx poetry uv conda python python2 python3 node deno bun ruby "
    "perl php lua java javac cargo rustc cmake gcc g++ clang bash sh zsh dash ksh fish pwsh "
    "powershell cmd dd mkfs fdisk parted shred base64 openssl gpg xxd chattr lsof nmap "
    "sqlmap mysql psql sqlite3 mongo mongosh redis-cli useradd userdel usermod passwd "
    "groupadd visudo reboot shutdown halt poweroff apt apt-get yum dnf apk brew snap choco "
    "winget remove-item invoke-webrequest invoke-expression iex certutil bitsadmin schtasks "
    "wmic rundll32 regsvr32 mshta osascript launchctl xdg-open cd pwd cat head tail find "
    "sort kill export source chroot mount umount modprobe insmod sysctl setfacl eval alias "
    "make go"
)
# A command line: a known program first (after sudo / env assignments), a script path
# with arguments, a subshell or substitution first, or a program right after a
# command separator. Shell syntax elsewhere in prose ("what does rm -rf / do?") is not enough.
_PROGRAM = r"(?:" + "|".join(re.escape(p) for p in _PROGRAMS) + r")(?:\.\w+)?"
_COMMAND = (
    r"^\s*(?:(?:" + "|".join(_PREFIXES[:-1]) + r"|timeout\s+\d+\w?)\s+|\w+=\S*\s+)*"
    r"(?:(?:[./~]|[a-z]:\\)\S*\s+\S|" + _PROGRAM + r"(?:\s|$|;|&|\|)|[({]\s*\S|\$\(|`)"
    r"|(?:;|&&|\|\||\||\n)\s*(?:sudo\s+)?" + _PROGRAM + r"(?:\s|$)"
)
_URL_I, _SQL_I, _COMMAND_I, _CODE_I, _PATH_I, _HOST_I = range(6)
# Programs named by English words: followed by plain words they start prose as often
# as a command ("Shutdown procedures are posted by the door", "make sure it works").
_WEAK = frozenset(
    _words(
        "find sort kill make go source export time cat head tail cd echo touch service screen "
        "snap mount halt shutdown reboot ping dig alias eval nice env tee yarn brew node apt "
        "fish dash shred su"
    )
)
_SHELL_SYNTAX = re.compile(r"[|;&$<>`\\/=*~]|(?:^|\s)-")


def _compile() -> Any:
    rule_set = re2.Set.SearchSet(OPTIONS)
    for source in (_URL, _SQL, _COMMAND, _CODE, _PATH, _HOST):
        rule_set.Add(source)
    rule_set.Compile()
    return getattr(rule_set, "_set", rule_set).Match  # the binding's bytes matcher


_MATCH = _compile()
# A shape needs its first word to be a keyword or program, its first character to
# lead a path, subshell or quote, or one of these somewhere (URL, call, separator):
# one character (a memchr each), ``=>`` or ``www.``.
_MARKS = ":;|&$(`\n"
_LEADS = frozenset("/~.\\%$({`'\"")
_STARTS = frozenset((*_SQL_STARTS, *_CODE_STARTS, *_PREFIXES, *_PROGRAMS))


_NOTHING: frozenset[int] = frozenset()


def _found(text: str, role: str = "") -> frozenset[int]:
    stripped = text.lstrip()
    if not stripped:
        return _NOTHING
    if (
        stripped[0] not in _LEADS
        and not _marked(text)
        and _first_word_starts_nothing(stripped)
        and (role != "shape" or "." not in text)
        and "www." not in text  # last: a four-character search reads the whole text
    ):
        return _NOTHING  # no shape can match: skip the set scan
    found = frozenset(_MATCH(text.encode("utf-8", "surrogatepass")) or ())
    if _COMMAND_I in found and _prose_led(text):
        found = found - {_COMMAND_I}
    return found


def _marked(text: str) -> bool:
    """Whether ``text`` holds a mark or ``=>`` (a Python ``re`` search reads ~1 ns a character)."""
    for mark in _MARKS:
        if mark in text:
            return True
    return "=" in text and "=>" in text


def _first_word_starts_nothing(stripped: str) -> bool:
    first = stripped.split(None, 1)[0]
    return "=" not in first and first.lower() not in _STARTS  # FOO=1 cmd: an assignment


def _prose_led(text: str) -> bool:
    """Four or more plain words led by a program that is also an English word."""
    words = text.split(None, 4)
    return len(words) >= 4 and words[0].lower() in _WEAK and _SHELL_SYNTAX.search(text) is None


def shape(text: str, role: str = "") -> str:
    """The meaning a string's shape suggests (``role == "shape"``: a bare host is a URL too)."""
    if len(text) <= _CACHED_LENGTH:
        key = (text, role)
        found = _CACHE.get(key)
        if found is None:
            if len(_CACHE) >= _CACHE_SIZE:
                _CACHE.clear()  # values come from agents: bound the memory they can take
            found = _CACHE[key] = _shape(text, role)
        return found
    return _shape(text, role)


# Short values repeat (options, languages, hosts, ids): their shape is remembered.
_CACHED_LENGTH = 64
_CACHE_SIZE = 8192
_CACHE: dict[tuple[str, str], str] = {}


def _shape(text: str, role: str) -> str:
    if text.isalpha() and text.lower() not in _STARTS:
        return D  # one plain word (the common case for ids, names, options)
    if text[:1] in "{[" and len(text) <= _MAX_JSON and _is_json(text):
        return D  # a JSON document, not a shell group (the walk reads its fields)
    found = _found(text, role)
    if found:
        if _URL_I in found:
            return P if text.lstrip()[:5].lower() == "file:" else U
        for index, meaning in ((_SQL_I, S), (_COMMAND_I, C), (_CODE_I, K), (_PATH_I, P)):
            if index in found:
                return meaning
        if role == "shape" and _HOST_I in found:
            return U
    return T if " " in text.strip() else D


_MAX_JSON = 65_536


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def command_shaped(value: object) -> bool:
    """Whether a command field's value reads as a command line (not, say, "turn on the lights")."""
    if isinstance(value, str):
        return _COMMAND_I in _found(value)
    if isinstance(value, list | tuple):
        return any(isinstance(v, str) and _COMMAND_I in _found(v) for v in value[:64])
    return False


def sql_shaped(text: str) -> bool:
    """Whether ``text`` holds a SQL statement (at its start or after a ``;``)."""
    return _SQL_I in _found(text)


def url_shaped(text: str) -> bool:
    """Whether ``text`` starts with a URL (a scheme and ``//``, ``www.`` or ``//host``)."""
    return _URL_I in _found(text)
