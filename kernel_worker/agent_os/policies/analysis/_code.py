"""Structural code analysis: execution primitives in Python and JavaScript source.

:func:`analyse_code` first separates program text from data: a linear lexer
blanks the inside of string literals and comments (Python ``'...'``,
``\"\"\"...\"\"\"``, ``#``; JavaScript quotes, template strings, ``//`` and
``/* */``), so ``print("never call os.system")`` is data, not a call. Rules
then match the program text (RE2, one set scan), each with an id and reason:

* ``code:process-exec`` - ``os.system`` / ``popen`` / ``exec*`` / ``spawn*``,
  ``subprocess``, asyncio's ``create_subprocess_*``, ``pty.spawn``, ``child_process``
  (``require``, ``import``, ``process.binding``), ``Deno.run`` / ``Deno.Command``,
  ``Bun.spawn``, ``Runtime.exec``. A call whose command the program fixes is judged
  as that command line by the shell analyser instead, and flagged with its findings
  (``subprocess.run(['rm', '-rf', '/home/dev'])`` is ``shell:rm-rf``,
  ``subprocess.run(['pytest', '-q'])``, ``os.system('git status')``, Node's
  ``execFileSync('npm', ['test'])`` pass): an argv of string literals, a literal
  command line with ``shell=True``, ``os.system``, ``execSync``, ``spawn`` with
  ``{shell: true}``, of a module the program imports. It stays ``code:process-exec``
  when any process call of the program is built at run time (a variable, an f-string,
  a concatenation, ``**kwargs``, ``shell=flag``, ``executable=``), when the module is
  used any other way (``f = subprocess.run``), when a shell or interpreter is left to
  read its program (``['bash']`` with ``input=``, ``sh -i``), when sockets, descriptors
  or a loader variable are in play, when the command only probes who and where it runs
  (``id``, ``whoami``), or names nothing but paths outside the working directory; and
  ``pty.spawn``, ``os.exec*``, ``os.spawn*``, ``os.fork`` always are;
* ``code:dynamic-eval`` - ``exec`` / ``eval`` / ``compile`` / ``__import__``,
  ``importlib.import_module``, ``getattr`` on builtins, ``new Function``,
  ``vm.run*`` / ``vm.Script``, ``globalThis[...]`` calls;
* ``code:deserialise`` - ``pickle`` / ``dill`` / ``marshal`` / ``shelve``
  loads, ``yaml.load`` with an unsafe loader, ``jsonpickle.decode``;
* ``code:native`` - ``ctypes`` / ``cffi`` foreign calls;
* ``code:reverse-shell`` - a socket's descriptor duplicated onto stdio
  (``os.dup2(s.fileno(), ...)``);
* ``code:bulk-delete`` - ``shutil.rmtree``, recursive ``fs.rm`` /
  ``rmSync``, deletes inside a directory walk, ``objects.all().delete()``; a
  recursive delete of a literal build output (``shutil.rmtree('build')``,
  ``fs.rmSync('dist', {recursive: true})``, what lies under ``/tmp``) is cleanup;
* ``code:credential-write`` - a write primitive (``open(..., 'w'/'a')``,
  pathlib's ``.open('a')``, ``write_text``, ``writeFileSync``, ``appendFileSync``...)
  in code whose string literals, joined as a path, name a credential or start-up file
  (``~/.ssh/authorized_keys``, ``.bashrc``, ``/etc/cron.d``, ``.git/hooks``...);
* ``code:archive-overwrite`` - ``extractall`` / ``unpack_archive`` / ``extract``
  onto ``/``, a system directory or a Windows drive's root;
* ``path:log-tamper`` - a security log or shell history, named by a literal,
  emptied or removed (``open('/var/log/auth.log', 'w')``, ``os.remove('~/.bash_history')``,
  ``Path('/var/log/wtmp').write_text('')``, ``fs.writeFileSync('/var/log/secure', '')``).

:func:`urls_in` gives the URLs a program names, which the engine judges with the
network rules like a URL field's (``fetch('http://169.254.169.254/...')``),
:func:`paths_in` the literal paths it opens (``open('/proc/1/environ')``,
``Path.home() / '.pgpass'``, ``os.homedir() + '/.npmrc'`` as ``~/.npmrc``) for the
path rules, :func:`sql_in` the fixed SQL it sends (``cur.execute('DROP TABLE t')``)
for the SQL analyser, and
:func:`shell_escapes` the shell commands a notebook cell runs (``!curl ... | sh``,
``%%bash``), which it judges like a command field's.

Linear in the input (RE2 for the rules, one ``re`` pass for the lexer); over
:data:`_MAX_CHARS` the text is judged without the lexer (literals count as
code: conservative, never skipped). Calls are read (one tokenising pass) only in
programs with a process call or a recursive delete, up to 8 KB; 16 fixed commands
of 2 KB in all go to the shell analyser (past that, the findings stand).
"""

from __future__ import annotations

import re
import shlex
import threading
from functools import lru_cache
from typing import Any

import re2

from ._normalise import compat
from ._shell_words import _scratch

__all__ = [
    "CODE_CHECKS",
    "analyse_code",
    "paths_in",
    "program_text",
    "shell_escapes",
    "sql_in",
    "urls_in",
]

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
        r"|getRuntime\s*\(\s*\)\s*\.\s*exec\b|\bProcessBuilder\b|\bshell_exec\s*\(|\bproc_open\s*\("
        r"|\bcreate_subprocess_(?:exec|shell)\s*\(|\.\s*subprocess_(?:exec|shell)\s*\(",
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
        r"|\b(?:requests|httpx|aiohttp|urllib|urlopen|fetch|axios)\b[\s\S]{0,300}?"
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


#: A security log or history named at all (a cheap test before the calls are read).
_LOG_NAMED = re2.compile(r"(?i)/var/log/|/run/utmp|history\b|winevt")


def _compile() -> tuple[Any, tuple[str, ...]]:
    options = re2.Options()
    options.max_mem = 32 << 20
    rule_set = re2.Set.SearchSet(options)
    for _, regex in _RULES:
        rule_set.Add(regex)
    # Past the rules, members only the prefilter reads (no finding of their own): a write
    # primitive, a module whose name is a literal, a security log named, and an empty
    # literal (``e''val``). A substring test per marker would cost a pass of its own.
    rule_set.Add(_WRITE.pattern)
    rule_set.Add(_ARCHIVE.pattern)
    rule_set.Add(r"vm|child_process")
    rule_set.Add(_LOG_NAMED.pattern)
    rule_set.Add("''|\"\"")
    rule_set.Compile()
    return rule_set, tuple(check for check, _ in _RULES)


_SET, _IDS = _compile()
_EMPTY_LITERAL = len(_IDS) + 4  # the last member
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
        return []  # no rule, write primitive, module, log name or empty literal: nothing
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
    if len(source) <= _MAX_CHARS and (
        "code:process-exec" in findings or "code:bulk-delete" in findings
    ):
        _judge_calls(source, language, program, findings)
    return _log_erased(source, language, findings)


def _log_erased(source: str, language: str, findings: dict[str, str]) -> list[tuple[str, str]]:
    """``findings`` with ``path:log-tamper`` when ``source`` empties a security log."""
    if (
        ("log" in source or "history" in source or "utmp" in source)
        and _LOG_NAMED.search(source) is not None
        and _ERASE.search(source) is not None
    ):
        erased = _erased_log(source, language)
        if erased is not None:
            findings.setdefault("path:log-tamper", erased)
    return list(findings.items())


# -- what a program runs, deletes and opens, when the program fixes it -------------------

#: Past this size a program's calls are not read one by one (its findings stand).
_CALLS_MAX_CHARS = 4_096
_CALLS_MAX_TOKENS = 4_096
#: Commands judged per program, and their characters in all (the shell analyser's budget).
_COMMANDS_MAX = 16
_COMMANDS_CHARS = 2_048
_TOKEN_STR = (
    r"(?P<s>[rRbBuUfF]{0,2}(?:'''.*?(?:'''|\Z)|\"\"\".*?(?:\"\"\"|\Z)"
    r"|'(?:[^'\\\n]|\\.)*(?:'|$)|\"(?:[^\"\\\n]|\\.)*(?:\"|$)))"
    r"|(?P<t>`(?:[^`\\]|\\.)*(?:`|\Z))"
)
_TOKEN_NAME = r"|(?P<n>[A-Za-z_$][\w$]*)|(?P<d>\d[\w.]*)|(?P<p>\S)"
_TOKENS = {
    "python": re.compile(_TOKEN_STR + r"|(?P<c>#[^\n]*)" + _TOKEN_NAME, re.S | re.M),
    "js": re.compile(_TOKEN_STR + r"|(?P<c>//[^\n]*|/\*.*?(?:\*/|\Z))" + _TOKEN_NAME, re.S | re.M),
    "": re.compile(
        _TOKEN_STR + r"|(?P<c>#[^\n]*|//[^\n]*|/\*.*?(?:\*/|\Z))" + _TOKEN_NAME, re.S | re.M
    ),
}
#: A string token's value when it is fixed (no f-string field, no template ``${}``), else None.
_DYNAMIC = object()


class _Tok:
    __slots__ = ("kind", "line", "text", "value")

    def __init__(self, kind: str, text: str, value: str | None, line: bool = False) -> None:
        self.kind = kind  # s: string, n: name, p: punctuation, d: number
        self.text = text
        self.value = value  # a string's fixed value (None: built at run time)
        self.line = line  # first on its line


def _string_value(token: str) -> str | None:
    if token[0] == "`":
        body = token[1:-1] if token.endswith("`") and len(token) > 1 else token[1:]
        if "${" in body:
            return None
        return body if "\\" not in body else _unescape(body)
    prefix = ""
    while token[0] not in "'\"":
        prefix += token[0].lower()
        token = token[1:]
    quote = token[:3] if token[:3] in ("'''", '"""') else token[0]
    body = token[len(quote) :]
    if body.endswith(quote) and len(body) >= len(quote):
        body = body[: -len(quote)]
    if "f" in prefix and re.search(r"(?<!\{)\{(?!\{)", body):
        return None
    if "r" in prefix or "\\" not in body:
        return body
    return _unescape(body)


def _unescape(body: str) -> str | None:
    try:
        return body.encode("latin-1", "backslashreplace").decode("unicode_escape")
    except (UnicodeDecodeError, UnicodeEncodeError):
        return None


def _tokens(source: str, language: str) -> list[_Tok] | None:
    """The tokens of ``source`` (``None``: past :data:`_CALLS_MAX_TOKENS`). The last
    program's are kept: its findings, paths and SQL are read in one evaluation."""
    last = _LAST_TOKENS[0]
    if last is not None and last[1] == language and last[0] == source:
        return last[2]
    tokens = _lex(source, language)
    _LAST_TOKENS[0] = (source, language, tokens)
    return tokens


_LAST_TOKENS: list[tuple[str, str, list[_Tok] | None] | None] = [None]


def _lex(source: str, language: str) -> list[_Tok] | None:
    lower = language.lower()
    lexer = _TOKENS["python" if lower in _PY else "js" if lower in _JS else ""]
    out: list[_Tok] = []
    end = 0
    for match in lexer.finditer(source):
        kind = match.lastgroup or "p"
        if kind == "c":
            continue
        text = match.group()
        line = "\n" in source[end : match.start()] or not out
        end = match.end()
        if kind in ("s", "t"):
            out.append(_Tok("s", text, _string_value(text), line))
        else:
            out.append(_Tok(kind, text, None, line))
        if len(out) > _CALLS_MAX_TOKENS:
            return None
    return out


_OPEN = {"(": ")", "[": "]", "{": "}"}


#: Tokens between a bracket and its match that a reader looks through: a longer call is
#: not read (its inner calls are, on their own), so nested calls cost no more than linear.
_SPAN = 256
#: Calls one reading looks into (past them, the findings stand): every call for the
#: paths a program opens, process and delete calls for what it runs.
_VISITS = 512
_CALL_VISITS = 64


def _closes(tokens: list[_Tok]) -> list[int]:
    """The index of the bracket closing each token's (one pass): -1 for all but
    brackets, and for one not closed within :data:`_SPAN` tokens."""
    out = [-1] * len(tokens)
    stack: list[int] = []
    for index, token in enumerate(tokens):
        if token.kind != "p":
            continue
        if token.text in _OPEN:
            stack.append(index)
        elif token.text in (")", "]", "}") and stack:
            opened = stack.pop()
            if index - opened < _SPAN:
                out[opened] = index
    return out


def _split_args(tokens: list[_Tok], start: int, end: int) -> list[list[_Tok]]:
    """The top-level comma-separated pieces of ``tokens[start:end]``."""
    args: list[list[_Tok]] = []
    current: list[_Tok] = []
    depth = 0
    for token in tokens[start:end]:
        if token.kind == "p":
            if token.text in _OPEN:
                depth += 1
            elif token.text in (")", "]", "}"):
                depth -= 1
            elif token.text == "," and depth == 0:
                args.append(current)
                current = []
                continue
        current.append(token)
    if current:
        args.append(current)
    return args


def _literal(arg: list[_Tok]) -> str | None:
    """A fixed string (adjacent literals joined), else None."""
    if not arg or any(t.kind != "s" or t.value is None for t in arg):
        return None
    return "".join(t.value or "" for t in arg)


def _literal_list(arg: list[_Tok]) -> list[str] | None:
    """The items of a list or tuple of fixed strings, else None."""
    if len(arg) < 2 or arg[0].text not in ("[", "(") or arg[-1].text != _OPEN[arg[0].text]:
        return None
    items = []
    for item in _split_args(arg, 1, len(arg) - 1):
        value = _literal(item)
        if value is None:
            return None
        items.append(value)
    return items


def _keywords(args: list[list[_Tok]]) -> tuple[list[list[_Tok]], dict[str, list[_Tok]]]:
    """Positional arguments and ``name=value`` keywords of a Python call."""
    positional: list[list[_Tok]] = []
    keywords: dict[str, list[_Tok]] = {}
    for arg in args:
        if (
            len(arg) >= 2
            and arg[0].kind == "n"
            and arg[1].text == "="
            and (len(arg) == 2 or arg[2].text != "=")
        ):
            keywords[arg[0].text] = arg[2:]
        else:
            positional.append(arg)
    return positional, keywords


def _option(args: list[list[_Tok]], name: str) -> list[_Tok] | None:
    """The value of key ``name`` in the JavaScript options object among ``args``."""
    for arg in args:
        if not arg or arg[0].text != "{":
            continue
        for item in _split_args(arg, 1, len(arg) - 1):
            key = item[0].value if item and item[0].kind == "s" else item[0].text if item else ""
            if key == name and len(item) >= 3 and item[1].text == ":":
                return item[2:]
            if key == name and len(item) == 1:
                return [_Tok("n", "true", None)]  # { shell } shorthand: run time
    return None


_TRUE = frozenset({"True", "true", "1"})
_FALSE = frozenset({"False", "false", "0", "None", "null", "undefined"})
#: Shells and interpreters: with no fixed script they run what they read at run time.
_RUNNERS = frozenset(
    {"sh", "bash", "zsh", "dash", "ksh", "fish", "csh", "tcsh", "ash", "busybox", "cmd",
     "cmd.exe", "powershell", "powershell.exe", "pwsh", "python", "python2", "python3",
     "node", "nodejs", "deno", "bun", "perl", "ruby", "php", "lua", "irb", "ipython"}
)  # fmt: skip
_SCRIPT_FLAGS = frozenset({"-c", "-e", "--eval", "-Command", "-command", "/c", "/C", "-r"})


def _runs_unknown(argv: list[str]) -> bool:
    """A shell or interpreter told to read its program from stdin or a terminal."""
    name = argv[0].replace("\\", "/").rsplit("/", 1)[-1].lower()
    name = re.sub(r"[\d.]+$", "", name) if name.startswith("python") else name
    if name not in _RUNNERS and name.removesuffix(".exe") not in _RUNNERS:
        return False
    rest = argv[1:]
    if any(flag in _SCRIPT_FLAGS for flag in rest):
        return "-i" in rest or "-s" in rest
    return not any(not arg.startswith("-") for arg in rest) or "-i" in rest or "-s" in rest


#: Module -> function -> how the call names its command.
#:   argv: a list (or a command line) and ``shell=``; shell: a command line;
#:   args: the argv as positional arguments; file: a file and a list (``shell:`` option).
_PROCESS = {
    "subprocess": {"run": "argv", "call": "argv", "check_call": "argv", "check_output": "argv",
                   "Popen": "argv", "getoutput": "shell", "getstatusoutput": "shell"},
    "os": {"system": "shell", "popen": "shell"},
    "asyncio": {"create_subprocess_exec": "args", "create_subprocess_shell": "shell"},
    "child_process": {"execSync": "shell", "exec": "shell", "execFileSync": "file",
                      "execFile": "file", "spawn": "file", "spawnSync": "file"},
}  # fmt: skip
#: Module -> function -> recursive delete: its first argument is what goes.
_DELETE = {
    "shutil": {"rmtree": "path"},
    "fs": {"rmSync": "js", "rm": "js", "rmdirSync": "js", "rmdir": "js"},
    "fs/promises": {"rm": "js", "rmdir": "js"},
}
#: Names of a module that run nothing (``subprocess.PIPE``, ``subprocess.CalledProcessError``).
_INERT = frozenset(
    {"PIPE", "STDOUT", "DEVNULL", "CalledProcessError", "TimeoutExpired", "SubprocessError",
     "CompletedProcess", "path", "environ", "getcwd", "sep", "linesep", "getenv", "name",
     "cpu_count", "getpid", "P_WAIT", "promises", "existsSync", "readFileSync", "writeFileSync",
     "mkdirSync", "statSync", "readdirSync"}
)  # fmt: skip
_MODULE_NAMES = {
    "subprocess": "subprocess", "os": "os", "asyncio": "asyncio", "shutil": "shutil",
    "child_process": "child_process", "node:child_process": "child_process",
    "fs": "fs", "node:fs": "fs", "fs/promises": "fs/promises", "node:fs/promises": "fs/promises",
}  # fmt: skip
#: A program that touches sockets, descriptors or a loader variable gets no benefit of the
#: doubt for its process calls (a fixed ``sh -i`` fed by a socket is a reverse shell).
_SOCKETS = re2.compile(
    r"\bsocket\b|\bfileno\b|\bdup2\b|\bnet\s*\.\s*(?:connect|Socket|createConnection)\b"
    r"|\bpty\b|LD_PRELOAD|DYLD_INSERT|BASH_ENV|preexec_fn|\bexecutable\s*="
)


class _Reading:
    """One program's process calls and recursive deletes, read from its tokens."""

    def __init__(self, tokens: list[_Tok]) -> None:
        self.tokens = tokens
        # Only what the program imports: a fragment of text of unknown meaning (a key, a
        # log line) that calls os.system('id') has imported nothing and keeps its finding.
        self.bound: dict[str, tuple[str, str | None]] = {}
        self.used: set[int] = set()  # token indices accounted for
        self.commands: list[str] = []
        self.unknown = False  # a shell or interpreter with no fixed program, a star import
        self.deletes = 0
        self.closes = _closes(tokens)
        self._imports()
        self._calls()

    # Imports and requires bind local names to modules or their functions.
    def _imports(self) -> None:
        tokens = self.tokens
        count = len(tokens)
        for index, token in enumerate(tokens):
            if token.kind == "n" and token.text == "from" and index + 1 < count:
                end = index + 1
                name = ""
                while (
                    end < count
                    and tokens[end].text != "import"
                    and not tokens[end].line
                    and (tokens[end].kind == "n" or tokens[end].text == ".")
                ):
                    name += tokens[end].text
                    end += 1
                module = _MODULE_NAMES.get(name)
                if module is None or end >= count or tokens[end].text != "import":
                    continue
                self.used.update(range(index, end + 1))
                self._names(end + 1, module, python=True)
            elif (
                token.kind == "n"
                and token.text == "import"
                and (index == 0 or tokens[index - 1].text != ".")
            ):
                self._import(index)
            elif token.kind == "n" and token.text == "require" and index + 3 < count:
                if tokens[index + 1].text != "(" or tokens[index + 3].text != ")":
                    continue
                module = _MODULE_NAMES.get(tokens[index + 2].value or "")
                if module is None:
                    continue
                self.used.update(range(index, index + 4))
                if index >= 2 and tokens[index - 1].text == "=":
                    before = tokens[index - 2]
                    if before.kind == "n":
                        self.bound[before.text] = (module, None)
                        self.used.add(index - 2)
                    elif before.text == "}":
                        start = index - 2
                        while start > max(0, index - 64) and tokens[start].text != "{":
                            start -= 1
                        self._destructure(start + 1, index - 2, module)

    def _import(self, index: int) -> None:
        tokens = self.tokens
        count = len(tokens)
        # JavaScript: import X from 'm' / import * as X from 'm' / import { a, b as c } from 'm'
        end = index + 1
        while (
            end < count
            and end < index + 64
            and tokens[end].text != "from"
            and tokens[end].kind != "s"
        ):
            end += 1
        if end + 1 < count and tokens[end].text == "from" and tokens[end + 1].kind == "s":
            module = _MODULE_NAMES.get(tokens[end + 1].value or "")
            if module is None:
                return
            self.used.update(range(index, end + 2))
            at = index + 1
            while at < end:
                token = tokens[at]
                if token.text == "{":
                    close = self.closes[at]
                    if close < 0:
                        self.unknown = True
                        return
                    self._destructure(at + 1, close, module)
                    at = close
                elif token.text == "as" and at + 1 < end:
                    self.bound[tokens[at + 1].text] = (module, None)
                    at += 1
                elif token.kind == "n" and tokens[at - 1].text in ("import", ","):
                    self.bound[token.text] = (module, None)
                at += 1
            return
        # Python: import a, b.c as d
        at = index + 1
        while at < count:
            name = ""
            start = at
            while (
                at < count
                and (tokens[at].kind == "n" or tokens[at].text == ".")
                and tokens[at].text != "as"
                and not tokens[at].line
            ):
                name += tokens[at].text
                at += 1
            module = _MODULE_NAMES.get(name)
            alias = name
            if at + 1 < count and tokens[at].text == "as":
                alias = tokens[at + 1].text
                at += 2
            if module is not None:
                self.bound[alias] = (module, None)
                self.used.update(range(start, at))
            if at < count and tokens[at].text == ",":
                at += 1
                continue
            break

    def _names(self, at: int, module: str, python: bool) -> None:
        """``from m import a, b as c`` (parenthesised or not)."""
        tokens = self.tokens
        count = len(tokens)
        paren = at < count and tokens[at].text == "("
        at += paren
        while at < count:
            token = tokens[at]
            if token.text == "*":
                self.unknown = True
                self.used.add(at)
                return
            if token.kind != "n":
                return
            name, alias = token.text, token.text
            self.used.add(at)
            if at + 2 < count and tokens[at + 1].text == "as":
                alias = tokens[at + 2].text
                self.used.update((at + 1, at + 2))
                at += 2
            self.bound[alias] = (module, name)
            at += 1
            if at < count and tokens[at].text == ",":
                self.used.add(at)
                at += 1
                continue
            if paren and at < count and tokens[at].text == ")":
                self.used.add(at)
            return

    def _destructure(self, start: int, end: int, module: str) -> None:
        """``{ a, b: c }`` (require) or ``{ a, b as c }`` (import)."""
        tokens = self.tokens
        for item in _split_args(tokens, start, end):
            names = [t.text for t in item if t.kind == "n" and t.text != "as"]
            if len(names) == 1:
                self.bound[names[0]] = (module, names[0])
            elif len(names) == 2:
                self.bound[names[1]] = (module, names[0])
        self.used.update(range(start, end))

    # Calls of a process or delete function with their command or path fixed.
    def _calls(self) -> None:
        tokens = self.tokens
        count = len(tokens)
        visits = 0
        for index, token in enumerate(tokens):
            if token.kind != "n" or (index and tokens[index - 1].text == "."):
                continue
            target = self.bound.get(token.text)
            if target is None:
                continue
            module, function = target
            chain = [index]
            at = index + 1
            if function is None:
                if at + 1 < count and tokens[at].text == "." and tokens[at + 1].kind == "n":
                    function = tokens[at + 1].text
                    chain += [at, at + 1]
                    at += 2
                    if (
                        module == "fs"
                        and function == "promises"
                        and at + 1 < count
                        and tokens[at].text == "."
                    ):
                        module, function = "fs/promises", tokens[at + 1].text
                        chain += [at, at + 1]
                        at += 2
                else:
                    continue
            if function in _INERT:
                self.used.update(chain)
                continue
            if at >= count or tokens[at].text != "(":
                continue
            mode = _PROCESS.get(module, {}).get(function)
            kind = _DELETE.get(module, {}).get(function)
            if mode is None and kind is None:
                continue
            visits += 1
            close = self.closes[at]
            if close < 0 or visits > _CALL_VISITS or len(self.commands) >= _COMMANDS_MAX:
                self.unknown = True  # a call too long to read, or too many: findings stand
                break
            args = _split_args(tokens, at + 1, close)
            if mode is not None:
                command = self._command(mode, args)
                if command is not None:
                    self.commands.append(command)
                    self.used.update(chain)
                continue
            if kind is not None and args:
                path = _literal(args[0])
                if path is not None and _scratch(path):
                    self.deletes += 1
                    self.used.update(chain)

    def _command(self, mode: str, args: list[list[_Tok]]) -> str | None:
        if any(arg and arg[0].text in ("*", "...") for arg in args):
            return None  # spread arguments: run time
        if mode == "shell":
            return _literal(args[0]) if args else None
        if mode == "args":
            argv = [_literal(arg) for arg in args if not (len(arg) > 1 and arg[1].text == "=")]
            if not argv or any(item is None for item in argv):
                return None
            return self._argv([item or "" for item in argv])
        if mode == "argv":
            positional, keywords = _keywords(args)
            value = positional[0] if positional else keywords.get("args")
            if value is None:
                return None
            shell = keywords.get("shell")
            flag = False
            if shell is not None:
                if len(shell) != 1 or shell[0].text not in _TRUE | _FALSE:
                    return None
                flag = shell[0].text in _TRUE
            text = _literal(value)
            if text is not None:
                return text
            listed = _literal_list(value)
            if not listed:
                return None
            return listed[0] if flag else self._argv(listed)
        # file: execFile / spawn (file, [args], {options})
        file = _literal(args[0]) if args else None
        if file is None:
            return None
        rest: list[str] = []
        if len(args) > 1 and args[1] and args[1][0].text == "[":
            listed = _literal_list(args[1])
            if listed is None:
                return None
            rest = listed
        elif len(args) > 1 and args[1] and args[1][0].text != "{":
            return None
        shell = _option(args[1:], "shell")
        if shell is not None:
            if len(shell) != 1:
                return None
            if shell[0].text in _FALSE:
                shell = None
            elif not (shell[0].text in _TRUE or shell[0].kind == "s"):
                return None
        if shell is not None:
            return " ".join([file, *rest])
        return self._argv([file, *rest])

    def _argv(self, argv: list[str]) -> str:
        if _runs_unknown(argv):
            self.unknown = True
        return shlex.join(argv)

    def residue(self) -> str:
        """The program without what was accounted for (literals blank)."""
        out = []
        for index, token in enumerate(self.tokens):
            if index in self.used:
                out.append(" ")
            elif token.kind == "s":
                if token.value in ("child_process", "node:child_process"):
                    out.append("child_process")  # a module loaded some other way
                else:
                    out.append("''")
            else:
                out.append(token.text)
        return " ".join(out)

    def loose_names(self) -> bool:
        """Whether a name bound to a process module or function is used outside a read call."""
        for index, token in enumerate(self.tokens):
            if index in self.used or token.kind != "n":
                continue
            if index and self.tokens[index - 1].text == ".":
                continue
            target = self.bound.get(token.text)
            if target is None or target[1] in _INERT:
                continue
            module, function = target
            if function is None and module in ("subprocess", "child_process"):
                return True  # the module passed around or called some other way
            if function is not None and function in _PROCESS.get(module, {}):
                return True  # from subprocess import run; f = run
        return False


_NESTING = threading.local()
#: Commands that only tell a program who and where it runs: from code, the mark of
#: injected code proving it runs (``os.system('id')``), not of a build or a test run.
_PROBES = frozenset(
    {"id", "whoami", "uname", "hostname", "groups", "ifconfig", "ipconfig", "env", "printenv",
     "getent", "w", "who", "last", "netstat", "ss", "arp", "nslookup", "dig"}
)  # fmt: skip
#: A fixed command naming an absolute or home path (``/tmp`` too: shared between
#: processes) that the shell analyser finds nothing in is still judged as process
#: execution: the path rules, which this module cannot read, see what it names
#: through :func:`paths_in`. Relative paths stay inside the working directory.
_OUTSIDE = ("/", "~", "\\", "..", ".env")
_HARMLESS_PATHS = ("/dev/null",)


def _reading(source: str, language: str) -> _Reading | None:
    if len(source) > _CALLS_MAX_CHARS:
        return None
    tokens = _tokens(source, language)
    return None if tokens is None else _Reading(tokens)


def _reaches_out(path: str) -> bool:
    return (path.startswith(_OUTSIDE) and path not in _HARMLESS_PATHS) or _SENSITIVE.search(
        path
    ) is not None


def _judge_calls(source: str, language: str, program: str, findings: dict[str, str]) -> None:
    """Judge the fixed process calls and recursive deletes of ``source`` (in place).

    A process call whose command the program fixes is judged like that command line
    in a shell: ``code:process-exec`` gives way to the shell analyser's findings when
    every process call of the program is such a call (no command built at run time,
    no shell or interpreter left to read its program from stdin, no socket in play,
    nothing outside the working directory named). A recursive delete of a build's
    output (``shutil.rmtree('build')``) is cleanup when it is the program's only one.
    """
    depth = getattr(_NESTING, "depth", 0)
    if depth >= 2:
        return  # a command inside a command inside a program: the findings stand
    reading = _reading(source, language)
    if reading is None:
        return
    process = "code:process-exec" in findings
    if process and reading.commands:
        chars = sum(len(command) for command in reading.commands)
        reports = []
        if chars <= _COMMANDS_CHARS:
            from ._shell import analyse_shell  # the shell analyser reads code: no cycle at import

            _NESTING.depth = depth + 1
            try:
                reports = [analyse_shell(command) for command in reading.commands]
            finally:
                _NESTING.depth = depth
        for report in reports:
            for check, excerpt in report.findings.items():
                findings.setdefault(check, excerpt)
        residue = reading.residue()
        if (
            reports
            and not reading.unknown
            and _SOCKETS.search(program) is None
            and _COMPILED["code:process-exec"].search(residue) is None
            and not reading.loose_names()
            and "code:process-exec" not in {check for r in reports for check in r.findings}
            and not any(name in _PROBES for report in reports for name, _ in report.commands)
            and (
                any(report.findings for report in reports)
                or not any(_reaches_out(path) for report in reports for path in report.paths)
            )
        ):
            del findings["code:process-exec"]
    deletes = "code:bulk-delete" in findings and reading.deletes
    if deletes and _COMPILED["code:bulk-delete"].search(reading.residue()) is None:
        del findings["code:bulk-delete"]


# -- the paths a program opens ------------------------------------------------------------

#: Calls that give the home directory, and calls that join their arguments as a path.
_HOME_CALLS = frozenset({"home", "homedir", "expanduser"})
_JOIN_CALLS = frozenset(
    {"join", "resolve", "Path", "PurePath", "PosixPath", "WindowsPath", "joinpath", "normpath",
     "abspath", "realpath", "expanduser", "URL"}
)  # fmt: skip
#: Methods of a path that keep naming it (``.read_text()``, ``.expanduser()``).
_PATH_METHODS = frozenset(
    {"read_text", "read_bytes", "open", "expanduser", "resolve", "absolute", "exists",
     "is_file", "stat", "iterdir", "glob", "rglob", "readlines", "read", "toString"}
)  # fmt: skip
_HOME_VARIABLES = frozenset({"HOME", "USERPROFILE"})
_MAX_PATHS = 64
_MAX_EXPR = 64  # tokens of one argument read as a path expression


def _field_value(token: _Tok) -> str | None:
    """A string token's value, with the fields of an f-string or template as ``*``."""
    if token.value is not None:
        return token.value
    text = token.text
    if text.startswith("`"):
        body = text[1:-1] if text.endswith("`") and len(text) > 1 else text[1:]
        homed = re.sub(r"\$\{[^{}]*\b(?:homedir\s*\(\s*\)|HOME)\b[^{}]*\}", "~", body)
        return re.sub(r"\$\{[^{}]*\}", "*", homed)
    quote = re.search(r"['\"]", text)
    if quote is None:
        return None
    body = _string_value(text[quote.start() :]) or ""
    homed = re.sub(r"\{[^{}]*\b(?:home\s*\(\s*\)|HOME)\b[^{}]*\}", "~", body)
    return re.sub(r"\{[^{}]*\}", "*", homed)


class _PathExpr:
    """A small reader of path expressions over tokens: literals, ``/`` and ``+``, joins."""

    def __init__(self, tokens: list[_Tok]) -> None:
        self.tokens = tokens
        self.closes = _closes(tokens)

    def expr(self, at: int, end: int) -> tuple[str | None, int]:
        value, at = self.term(at, end)
        while value is not None and at < end and self.tokens[at].text in ("/", "+"):
            operator = self.tokens[at].text
            right, at = self.term(at + 1, end)
            if right is None:
                return None, at
            value = (
                value.rstrip("/") + "/" + right.lstrip("/") if operator == "/" else value + right
            )
        return value, at

    def term(self, at: int, end: int) -> tuple[str | None, int]:
        tokens = self.tokens
        if at >= end:
            return None, at
        token = tokens[at]
        value: str | None
        last = ""
        if token.kind == "s":
            value = ""
            while at < end and tokens[at].kind == "s":
                part = _field_value(tokens[at])
                if part is None:
                    return None, at
                value += part
                at += 1
        elif token.text == "(":
            close = self.closes[at]
            close = end if close < 0 else min(close, end)
            value, inner = self.expr(at + 1, close)
            if inner != close:
                return None, close
            at = close + 1
        elif token.kind == "n":
            value, last = None, token.text
            at += 1
        else:
            return None, at
        # Postfix: .name, (args), [literal]
        while at < end:
            text = tokens[at].text
            if text == "." and at + 1 < end and tokens[at + 1].kind == "n":
                last = tokens[at + 1].text
                if last in _HOME_VARIABLES and value is None:
                    value = "~"  # process.env.HOME
                at += 2
            elif text == "(":
                close = self.closes[at]
                close = end if close < 0 else min(close, end)
                args = _split_args(tokens, at + 1, close)
                value = self.call(last, value, args)
                last = ""
                at = close + 1
            elif text == "[" and at + 2 < end and tokens[at + 1].kind == "s":
                key = tokens[at + 1].value
                value = "~" if key in _HOME_VARIABLES else None
                close = self.closes[at]
                at = (end if close < 0 else min(close, end)) + 1
            else:
                break
        return value, at

    def call(self, name: str, value: str | None, args: list[list[_Tok]]) -> str | None:
        values = [self.whole(arg) for arg in args]
        if name in ("getenv", "get") and values and values[0] in _HOME_VARIABLES:
            return "~"
        if name in _HOME_CALLS and not args:
            return "~"
        if name in _PATH_METHODS and value is not None:
            return value
        if name in _JOIN_CALLS:
            parts = [value] if value is not None and name == "joinpath" else []
            for item in values:
                if item is None:
                    break
                parts.append(item)
            else:
                if parts:
                    joined = parts[0]
                    for part in parts[1:]:
                        joined = part if part.startswith("/") else joined.rstrip("/") + "/" + part
                    return joined
        return None

    def whole(self, arg: list[_Tok]) -> str | None:
        if not arg or len(arg) > _MAX_EXPR:
            return None
        sub = _PathExpr(arg)
        value, at = sub.expr(0, len(arg))
        return value if at == len(arg) else None


def _path_like(value: str) -> bool:
    if not value or len(value) > 1024 or "://" in value or any(c.isspace() for c in value):
        return False
    if value.startswith(("/", "~", "./", "../")) or re.match(r"[A-Za-z]:[\\/]", value):
        return True
    return "/" in value or (value[0] == "." and len(value) > 1 and value[1].isalnum())


def paths_in(source: str, language: str = "") -> list[str]:
    """The literal paths program ``source`` opens or names in a call, at most 64.

    Read from its calls' arguments and assignments, not from comments, docstrings or
    prose: ``open('/proc/1/environ')``, ``glob.glob('/home/*/.ssh/id_*')``; the home
    directory joined to a literal is spelt ``~/...`` (``Path.home() / '.pgpass'``,
    ``os.path.join(os.path.expanduser('~'), '.netrc')``, ``os.homedir() + '/.npmrc'``,
    ``path.join(os.homedir(), '.aws', 'credentials')``); an f-string's or template's
    field is ``*``. The paths a fixed command of the program names (``subprocess.run(['cat',
    '/proc/self/environ'])``) are among them.
    """
    if len(source) > _CALLS_MAX_CHARS or (
        "/" not in source
        and "~" not in source
        and "\\" not in source
        and "home" not in source.lower()
    ):
        return []
    tokens = _tokens(source, language)
    if tokens is None:
        return []
    reader = _PathExpr(tokens)
    found: dict[str, None] = {}
    count = len(tokens)
    visits = 0
    for index, token in enumerate(tokens):
        if len(found) >= _MAX_PATHS or visits > _VISITS:
            break
        text = token.text
        if token.kind != "p" or text not in ("(", "="):
            continue
        visits += 1
        if text == "(" and index and tokens[index - 1].kind in ("n", "p"):
            close = reader.closes[index]
            if close < 0:
                continue
            for arg in _split_args(tokens, index + 1, close):
                value = reader.whole(arg)
                if value is not None and _path_like(value):
                    found[value] = None
                elif arg and arg[0].kind == "s":
                    # A list of literals as an argument: every item.
                    pass
                for item in _literal_list(arg) or () if arg and arg[0].text == "[" else ():
                    if _path_like(item):
                        found[item] = None
        elif (
            text == "="
            and index + 1 < count
            and tokens[index + 1].text != "="
            and (tokens[index - 1].text not in ("=", "!", "<", ">") if index else True)
        ):
            value, _ = reader.expr(index + 1, min(count, index + 1 + _MAX_EXPR))
            if value is not None and _path_like(value):
                found[value] = None
    reading = _Reading(tokens) if "subprocess" in source or "child_process" in source else None
    if reading is not None and reading.commands:
        from ._shell import analyse_shell

        chars = 0
        for command in reading.commands:
            chars += len(command)
            if chars > _COMMANDS_CHARS:
                break
            for path in analyse_shell(command).paths:
                if _path_like(path):
                    found[path] = None
    return list(found)[:_MAX_PATHS]


# -- the SQL a program sends --------------------------------------------------------------

#: Methods that send their first argument to a database as SQL.
_SQL_CALLS = frozenset(
    {"execute", "executemany", "executescript", "exec_driver_sql", "raw", "query"}
)
#: Wrappers that mark a literal as SQL: SQLAlchemy's ``text('...')``, psycopg's ``sql.SQL('...')``.
_SQL_WRAPPERS = frozenset({"text", "SQL"})
_MAX_SQL = 32


def sql_in(source: str, language: str = "") -> list[str]:
    """The fixed SQL texts program ``source`` sends (``cur.execute('DELETE FROM users')``,
    ``session.execute(text('...'))``), at most 32; ``[]`` when its only database is an
    in-memory SQLite (``sqlite3.connect(':memory:')``: no stored data to lose)."""
    if len(source) > _CALLS_MAX_CHARS or not any(f".{name}" in source for name in _SQL_CALLS):
        return []
    tokens = _tokens(source, language)
    if tokens is None:
        return []
    found: dict[str, None] = {}
    closes = _closes(tokens)
    connects = memory = visits = 0
    for index in range(1, len(tokens) - 1):
        token = tokens[index]
        if token.kind != "n" or tokens[index + 1].text != "(":
            continue
        if token.text not in _SQL_CALLS and token.text != "connect":
            continue
        visits += 1
        close = closes[index + 1]
        if visits > _VISITS:
            break
        if close < 0:
            if token.text == "connect":
                connects += 1  # a connection not read: not known to be in memory
            continue
        args = _split_args(tokens, index + 2, close)
        if token.text == "connect":
            connects += 1
            memory += bool(args) and _literal(args[0]) in (":memory:", "file::memory:")
            continue
        if tokens[index - 1].text != "." or len(found) >= _MAX_SQL:
            continue
        if not args:
            continue
        first = args[0]
        while len(first) > 3 and first[-1].text == ")" and first[-2].kind == "s":
            # text('...') / sql.SQL('...'): the wrapper's literal
            name_at = next((at for at, t in enumerate(first) if t.text == "("), 0) - 1
            if name_at < 0 or first[name_at].text not in _SQL_WRAPPERS:
                break
            first = first[name_at + 2 : -1]
        text = _literal(first)
        if text is not None and text.strip():
            found[text] = None
    if connects and connects == memory:
        return []
    return list(found)


# -- a security log or shell history emptied or removed -----------------------------------

#: Calls that empty, replace or remove their first argument: ``open(p, 'w')`` (a write
#: mode without append), ``write_text`` / ``write_bytes``, ``truncate``, ``os.remove`` /
#: ``unlink``, ``writeFileSync`` / ``truncateSync`` / ``unlinkSync`` / ``rmSync``.
_ERASE = re2.compile(
    r"\b(?:open|write_text|write_bytes|truncate|remove|unlink|writeFileSync|writeFile"
    r"|truncateSync|unlinkSync|rmSync|Path)\s*\("
)
_ERASERS = frozenset(
    {"truncate", "remove", "unlink", "writeFileSync", "writeFile", "truncateSync",
     "unlinkSync", "rmSync"}
)  # fmt: skip
_PATH_ERASERS = frozenset({"write_text", "write_bytes", "unlink", "truncate"})


def _erased_log(source: str, language: str) -> str | None:
    """The security log or shell history ``source`` empties or removes with a literal path
    (``open('/var/log/auth.log', 'w').close()``, ``os.remove('~/.bash_history')``,
    ``Path('/var/log/wtmp').write_text('')``), else None."""
    if len(source) > _CALLS_MAX_CHARS:
        return None
    tokens = _tokens(source, language)
    if tokens is None:
        return None
    from ._shell_host import erases_log  # the shell analysers read code: no cycle at import

    closes = _closes(tokens)
    visits = 0
    for index in range(len(tokens) - 1):
        token = tokens[index]
        if token.kind != "n" or tokens[index + 1].text != "(":
            continue
        name = token.text
        if name not in _ERASERS and name not in ("open", "Path"):
            continue
        visits += 1
        close = closes[index + 1]
        if visits > _CALL_VISITS:
            return None
        if close < 0:
            continue
        args = _split_args(tokens, index + 2, close)
        path = _PathExpr(args[0]).whole(args[0]) if args else None  # ~ joins read too
        if path is None:
            continue
        if name == "open":
            positional, keywords = _keywords(args)
            mode_arg = positional[1] if len(positional) > 1 else keywords.get("mode")
            mode = _literal(mode_arg) if mode_arg else None
            if mode is None or "a" in mode or not any(c in mode for c in "wx+"):
                continue
            if "+" in mode and "w" not in mode:
                continue  # r+ edits in place without emptying
        elif name == "Path":
            after = close + 1
            if not (
                after + 2 < len(tokens)
                and tokens[after].text == "."
                and tokens[after + 1].text in _PATH_ERASERS
                and tokens[after + 2].text == "("
            ):
                continue
        if erases_log(path):
            return path
    return None
