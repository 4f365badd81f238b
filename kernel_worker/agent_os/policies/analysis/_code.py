"""Structural code analysis: execution primitives in Python and JavaScript source.

:func:`analyse_code` first separates program text from data: a linear lexer
blanks the inside of string literals and comments (Python ``'...'``,
``\"\"\"...\"\"\"``, ``#``; JavaScript quotes, template strings, ``//`` and
``/* */``), so ``print("never call os.system")`` is data, not a call. Rules
then match the program text (RE2, one set scan), each with an id and reason:

* ``code:process-exec`` - ``os.system`` / ``popen`` / ``exec*`` / ``spawn*``,
  ``subprocess``, ``pty.spawn``, ``child_process`` (``require``, ``import``,
  ``process.binding``), ``Deno.run`` / ``Deno.Command``, ``Bun.spawn``,
  ``Runtime.exec``;
* ``code:dynamic-eval`` - ``exec`` / ``eval`` / ``compile`` / ``__import__``,
  ``importlib.import_module``, ``getattr`` on builtins, ``new Function``,
  ``vm.run*`` / ``vm.Script``, ``globalThis[...]`` calls;
* ``code:deserialise`` - ``pickle`` / ``dill`` / ``marshal`` / ``shelve``
  loads, ``yaml.load`` with an unsafe loader, ``jsonpickle.decode``;
* ``code:native`` - ``ctypes`` / ``cffi`` foreign calls;
* ``code:reverse-shell`` - a socket's descriptor duplicated onto stdio
  (``os.dup2(s.fileno(), ...)``);
* ``code:bulk-delete`` - ``shutil.rmtree``, recursive ``fs.rm`` /
  ``rmSync``, deletes inside a directory walk, ``objects.all().delete()``;
* ``code:credential-write`` - a write primitive (``open(..., 'w'/'a')``,
  pathlib's ``.open('a')``, ``write_text``, ``writeFileSync``, ``appendFileSync``...)
  in code whose string literals, joined as a path, name a credential or start-up file
  (``~/.ssh/authorized_keys``, ``.bashrc``, ``/etc/cron.d``, ``.git/hooks``...);
* ``code:archive-overwrite`` - ``extractall`` / ``unpack_archive`` / ``extract``
  onto ``/``, a system directory or a Windows drive's root.

:func:`urls_in` gives the URLs a program names, which the engine judges with the
network rules like a URL field's (``fetch('http://169.254.169.254/...')``), and
:func:`shell_escapes` the shell commands a notebook cell runs (``!curl ... | sh``,
``%%bash``), which it judges like a command field's.

Linear in the input (RE2 for the rules, one ``re`` pass for the lexer); over
:data:`_MAX_CHARS` the text is judged without the lexer (literals count as
code: conservative, never skipped).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import re2

from ._normalise import compat

__all__ = ["CODE_CHECKS", "analyse_code", "program_text", "shell_escapes", "urls_in"]

#: Check id -> reason.
CODE_CHECKS: dict[str, str] = {
    "code:process-exec": "process execution from code (os.system, subprocess, child_process, pty)",
    "code:dynamic-eval": "dynamic code evaluation (exec, eval, compile, new Function, vm)",
    "code:deserialise": "deserialisation that runs code (pickle, marshal, dill, unsafe yaml)",
    "code:native": "native foreign-function call (ctypes, cffi)",
    "code:reverse-shell": "socket duplicated onto a process's standard streams (reverse shell)",
    "code:bulk-delete": "recursive or bulk deletion from code",
    "code:credential-write": "code writing a credential or start-up file",
    "code:exfiltration": "code sending the environment, cookies or web storage over the network",
    "code:archive-overwrite": "code unpacking an archive over the root or a system directory",
}

_MAX_CHARS = 65_536

# A page's cookies or web storage read (not written: document.cookie = ..., setItem).
_STORAGE_READ = (
    r"\b(?:document\s*\.\s*cookie\s*(?:[^=\s]|==|$)"
    r"|(?:local|session)Storage\s*(?:\.\s*(?:getItem|key)\b|\[|[),+]|$))"
)

_RULES: tuple[tuple[str, str], ...] = (
    (
        "code:process-exec",
        r"\bsystem\(\s*[\"']|\bos\s*\.\s*(?:system|popen\d?|exec[lv]p?e?|spawn[lv]p?e?|posix_spawnp?|fork)\s*\("
        r"|\bsubprocess\b|\bpty\s*\.\s*spawn\b|\bcommands\s*\.\s*getoutput"
        r"|\bchild_process\b|\bprocess\s*\.\s*binding\s*\(|\bexecSync\s*\(|\bspawnSync\s*\("
        r"|\bexecFile(?:Sync)?\s*\(|\bDeno\s*\.\s*(?:run|Command)\b|\bBun\s*\.\s*spawn"
        r"|getRuntime\s*\(\s*\)\s*\.\s*exec\b|\bProcessBuilder\b|\bshell_exec\s*\(|\bproc_open\s*\(",
    ),
    (
        "code:dynamic-eval",
        r"(?:^|[^.\w])(?:exec|eval|compile|execfile)\s*\(|__import__\s*\(|\bimport_module\s*\("
        r"|\bgetattr\s*\(\s*(?:__builtins__|builtins)\b|\b__builtins__\s*\["
        r"|\bnew\s+Function\s*\(|(?:^|[^.\w])Function\s*\(|\bvm\s*\.\s*(?:run\w*|Script|compileFunction)\b"
        r"|\bglobalThis\s*\[|\bwindow\s*\[\s*[\"'`]?\s*\]?\s*\(|\bsetTimeout\s*\(\s*[\"'`]"
        r"|\btypes\s*\.\s*(?:FunctionType|CodeType)\s*\(",
    ),
    (
        "code:deserialise",
        r"\b(?:c?pickle|dill|marshal|cloudpickle|jsonpickle|shelve)\s*\.\s*(?:loads?|decode|open|Unpickler)\b"
        r"|\byaml\s*\.\s*(?:unsafe_load|load_all|full_load)\b|\b(?:Unsafe|Full)Loader\b"
        r"|\byaml\s*\.\s*load\s*\((?:[^()]|\([^()]*\))*Loader\s*=\s*(?:yaml\s*\.\s*)?Loader\b",
    ),
    (
        "code:exfiltration",
        r"(?:\bos\s*\.\s*environ\b|\bprocess\s*\.\s*env\b)[\s\S]{0,300}?"
        r"\b(?:requests|httpx|aiohttp|urllib|fetch|axios|urlopen)\b"
        r"|\b(?:requests|httpx|aiohttp|fetch|axios)\b[\s\S]{0,300}?"
        r"(?:\bos\s*\.\s*environ\b|\bprocess\s*\.\s*env\b)"
        # A page's cookies or web storage sent out (a browser tool's evaluate script).
        r"|(?:\b(?:fetch|sendBeacon|XMLHttpRequest|axios|\$\s*\.\s*(?:get|post|ajax))\b"
        r"|\bnew\s+Image\b|\.\s*src\s*=)[\s\S]{0,300}?"
        rf"{_STORAGE_READ}"
        rf"|{_STORAGE_READ}[\s\S]{{0,300}}?"
        r"(?:\b(?:fetch|sendBeacon|XMLHttpRequest|axios)\b|\.\s*src\s*=|\blocation\s*(?:\.\s*href\s*)?=)",
    ),
    (
        "code:native",
        r"\bctypes\b|\bcffi\b|\bCDLL\s*\(|\bcdll\s*\.|\bwindll\s*\.|\bffi\s*\.\s*dlopen",
    ),
    (
        "code:reverse-shell",
        r"\bdup2\s*\([^)]*fileno\s*\(|\bdup2\s*\(\s*\w+\s*,\s*[012]\s*\)"
        # A socket opened and a shell started in the same snippet (perl, ruby, php, node).
        r"|(?:TCPSocket|fsockopen|\bsocket\s*\(\s*S\b|Net\.Sockets|new\s+net\.Socket|net\.connect)"
        r"[\s\S]{0,400}?(?:/bin/(?:ba)?sh|\bsh\s+-i|cmd\.exe|\bexec\b|\bspawn\b|\bsystem\b)",
    ),
    (
        "code:bulk-delete",
        r"\bshutil\s*\.\s*rmtree\s*\(|(?:^|[^.\w])(?:rmtree|remove_tree)\s*\("
        r"|\.\s*(?:rm|rmdir|rmSync|rmdirSync)\s*\([\s\S]{0,200}?"
        r"\brecursive\s*:\s*true"
        r"|\bobjects\s*\.\s*all\s*\(\s*\)\s*\.\s*delete\s*\(|\bremoveSync\s*\("
        r"|\b(?:os\s*\.\s*walk|rglob|glob\s*\.\s*glob|\.glob)\b[\s\S]{0,400}?"
        r"\b(?:os\s*\.\s*(?:remove|unlink|rmdir)|\.unlink|\.rmdir)\s*\(",
    ),
)
_WRITE = re2.compile(
    r"\bopen\s*\([\s\S]{0,300}?,\s*(?:mode\s*=\s*)?[\"'][rwxabt+]*[wax+]|\.\s*write_(?:text|bytes)\s*\("
    # pathlib's Path.open takes the mode first: Path.home().joinpath('.bashrc').open('a')
    r"|\.\s*open\s*\(\s*(?:mode\s*=\s*)?[\"'][rwxabt+]*[wax+][rwxabt+]*[\"']"
    r"|\b(?:write|append)File(?:Sync)?\s*\(|\bcreateWriteStream\s*\(|\bfs\s*\.\s*(?:promises\s*\.\s*)?"
    r"(?:write|append)|\bFile\s*\.\s*(?:write|append)|\bcopyfile\s*\(|\bshutil\s*\.\s*copy"
)
#: An archive unpacked over the filesystem's root or a system directory (every member
#: path lands on the host: ``tarfile.open(x).extractall('/')``), read on the raw source.
_ARCHIVE = re2.compile(
    r"\b(?:extractall|unpack_archive|extract)\s*\((?:[^()]{0,300}?,)?\s*"
    r"(?:path\s*=\s*|extract_dir\s*=\s*)?[rb]?[\"']"
    r"(?:/|/(?:etc|usr|bin|sbin|boot|lib|lib64|root|var|opt|srv)(?:/[^\"']*)?"
    r"|[A-Za-z]:\\{1,2}(?:Windows(?:\\[^\"']*)?)?)[\"']"
)
#: URLs a program names (requests.get, fetch, urlopen...): network access, like a URL field.
_URL = re2.compile(r"(?i)\b(?:https?|ftp|wss?|gopher|dict|ldap|tftp)://[^\s'\"`<>(){}\[\],;\\]+")
#: Credential and start-up files, matched against the code's string literals joined as a path.
_SENSITIVE = re2.compile(
    r"(?i)authorized_keys|\.ssh/|\.(?:bashrc|bash_profile|bash_login|zshrc|zprofile|profile|"
    r"kshrc|cshrc|tcshrc|login)\b|/etc/(?:cron|sudoers|profile\.d|ld\.so\.preload|passwd|shadow|"
    r"rc\.local|systemd|init\.d|environment|hosts)|crontab|systemd/(?:system|user)|"
    r"\.config/(?:systemd|autostart)|\.git/hooks|\.aws/credentials|\.aws/|credentials\b|"
    r"\.npmrc|\.pypirc|\.netrc|\.docker/config|\.kube/config|launchagents|launchdaemons|"
    r"powershell_profile|\.gitconfig|\.pgpass"
)


def _compile() -> tuple[Any, tuple[str, ...]]:
    options = re2.Options()
    options.max_mem = 32 << 20
    rule_set = re2.Set.SearchSet(options)
    for _, regex in _RULES:
        rule_set.Add(regex)
    # Past the rules, members only the prefilter reads (no finding of their own): a write
    # primitive, a module whose name is a literal, and an empty literal (``e''val``).
    # A substring test per marker would cost a pass of its own over the text.
    rule_set.Add(_WRITE.pattern)
    rule_set.Add(_ARCHIVE.pattern)
    rule_set.Add(r"vm|child_process")
    rule_set.Add("''|\"\"")
    rule_set.Compile()
    return rule_set, tuple(check for check, _ in _RULES)


_SET, _IDS = _compile()
_EMPTY_LITERAL = len(_IDS) + 3  # the last member
#: Modules whose import is itself the primitive (names are string literals in JS).
_MODULES = {
    "child_process": "code:process-exec",
    "node:child_process": "code:process-exec",
    "vm": "code:dynamic-eval",
    "node:vm": "code:dynamic-eval",
}
_COMPILED = {check: re2.compile(regex) for check, regex in _RULES}


_STRINGS = (
    r"'''.*?(?:'''|\Z)|\"\"\".*?(?:\"\"\"|\Z)|'(?:[^'\\\n]|\\.)*(?:'|$)"
    r"|\"(?:[^\"\\\n]|\\.)*(?:\"|$)|`(?:[^`\\]|\\.)*(?:`|\Z)"
)
_HASH = r"|#[^\n]*"
_SLASH = r"|//[^\n]*|/\*.*?(?:\*/|\Z)"
# Python's re: one C-speed pass, and no nested quantifier can backtrack.
_LEXERS = {
    "python": re.compile(_STRINGS + _HASH, re.S | re.M),
    "js": re.compile(_STRINGS + _SLASH, re.S | re.M),
    "": re.compile(_STRINGS + _HASH + _SLASH, re.S | re.M),
}
_JS = frozenset({"javascript", "js", "node", "typescript", "ts", "deno", "bun"})
_PY = frozenset({"python", "python3", "py"})


def program_text(source: str, language: str = "") -> tuple[str, list[str]]:
    """``source`` with string literals and comments blanked, and the literals' contents.

    Linear (one regex pass). ``language`` ``"python"`` treats ``#`` as a
    comment; JavaScript-like languages treat ``//`` and ``/* */``; unknown
    languages both (a ``#`` or ``//`` rarely opens anything else).
    """
    lower = language.lower()
    lexer = _LEXERS["python" if lower in _PY else "js" if lower in _JS else ""]
    literals: list[str] = []

    def blank(match: re.Match[str]) -> str:
        token = match.group()
        if token[0] in "#/":
            return " "
        quote = token[:3] if token[:3] in ("'''", '"""') else token[0]
        body = token[len(quote) :]
        if body.endswith(quote) and len(body) >= len(quote):
            body = body[: -len(quote)]
        literals.append(body)
        return quote + quote

    return lexer.sub(blank, source), literals


def _may_hold(source: str) -> bool:
    """A cheap superset test: could :func:`analyse_code` find anything in ``source``?

    Blanking literals only removes matches, and removing quotes makes the
    ``e''val`` reading; so the rules over the quote-free raw text, the write
    primitives and the module names (which are literals) cover every finding.
    """
    raw = source.encode("utf-8", "replace")
    found = _SET.Match(raw)  # the rules, write primitives and module names: one scan
    if not found:
        return False
    if found != [_EMPTY_LITERAL]:
        return True
    return bool(_SET.Match(raw.replace(b"'", b"").replace(b'"', b"")))


def urls_in(source: str) -> list[str]:
    """The URLs ``source`` names (in its string literals or anywhere), at most 64."""
    if ":" not in source or "://" not in source:
        return []
    return [found.group(0) for _, found in zip(range(64), _URL.finditer(source), strict=False)]


#: IPython's shell escapes: a line ``!cmd`` or ``!!cmd``, ``%system cmd``, ``%sx cmd``.
_ESCAPE = re.compile(r"^[ \t]*(?:!!?|%(?:system|sx)[ \t]+)(?!=)([^\n]+)", re.MULTILINE)
#: A cell run by a shell: ``%%bash``, ``%%sh`` or ``%%script bash`` on its first line.
_SHELL_CELL = re.compile(r"\A\s*%%(?:bash|sh|script[ \t]+(?:ba|z|da)?sh)\b[^\n]*\n(.*)", re.DOTALL)


def shell_escapes(source: str) -> list[str]:
    """The shell commands a notebook cell's ``source`` runs: its ``!`` lines and
    ``%system`` / ``%sx`` lines, or the whole body of a ``%%bash`` cell; at most 64."""
    if "!" not in source and "%" not in source:
        return []
    cell = _SHELL_CELL.match(source)
    if cell is not None:
        return [cell.group(1)]
    return [found.group(1) for _, found in zip(range(64), _ESCAPE.finditer(source), strict=False)]


def analyse_code(source: str, language: str = "") -> list[tuple[str, str]]:
    """Findings ``(check id, excerpt)`` for program ``source``; ``[]`` when none. Never raises.

    Short sources (a tool's name, a one-line snippet) recur from call to call: their
    findings are remembered.
    """
    if len(source) <= _SHORT:
        return list(_short_code(source, language))
    return _analyse(source, language)


_SHORT = 256


@lru_cache(maxsize=4096)
def _short_code(source: str, language: str) -> tuple[tuple[str, str], ...]:
    return tuple(_analyse(source, language))


def _analyse(source: str, language: str) -> list[tuple[str, str]]:
    source = compat(source)
    if not _may_hold(source):
        return []
    if len(source) > _MAX_CHARS:
        program, literals = source, list[str]()
    else:
        program, literals = program_text(source, language)
        # Empty literals glue names together in a shell (e''val): read both ways.
        if "''" in program or '""' in program:
            program += "\n" + program.replace("''", "").replace('""', "")
    findings: dict[str, str] = {}
    data = program.encode("utf-8", "replace")
    for index in _SET.Match(data) or ():
        if index >= len(_IDS):
            continue  # the write-primitive member
        check = _IDS[index]
        found = _COMPILED[check].search(program)
        findings.setdefault(check, found.group(0)[:120] if found else check)
    for literal in literals:
        check = _MODULES.get(literal)
        if check is not None:
            findings.setdefault(check, f"module {literal}")
    found_archive = _ARCHIVE.search(source)
    if found_archive is not None:
        findings.setdefault("code:archive-overwrite", found_archive.group(0)[:120])
    if _WRITE.search(source) is not None:
        joined = "/".join(literals) if literals else source
        found = _SENSITIVE.search(joined)
        if found is not None:
            findings.setdefault("code:credential-write", found.group(0))
    return list(findings.items())
