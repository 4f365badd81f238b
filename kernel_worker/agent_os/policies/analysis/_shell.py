"""Structural shell analysis: find the command that really runs, then judge it.

:func:`analyse_shell` lexes a script (:mod:`._policy_shell_lex`), builds
simple commands and pipelines, and unwraps what hides the real executable:
``sh -c '...'`` / ``bash -lc``, ``$(...)`` and backticks, ``eval``,
``env VAR=x``, ``sudo``, ``nohup``, ``nice``, ``timeout``, ``xargs``,
``find -exec``, ``command``, ``exec``, ``busybox``, ``cmd /c``, ``/bin/rm``,
``\\rm``, aliases, functions, here-documents fed to a shell. Every
executable found is reported (for ``blocked_commands``), with the paths and
URLs its arguments name (for ``blocked_paths`` and network rules), and these
checks run (on a resolved command: :mod:`._shell_command`; operator tools:
:mod:`._shell_ops`):

* ``shell:rm-rf`` recursive ``rm`` (or ``find -delete``) of anything but a
  build's output (``rm -rf ./dist node_modules``, ``find . -name '*.pyc'
  -delete`` and what lies under ``/tmp`` are cleanup), and a recursive ``rm``
  inside a script awk or perl runs; ``shell:rm-root`` ``rm`` of ``/``, ``~``,
  ``*``, ``.`` or a system directory;
* ``shell:mkfs`` / ``shell:disk-wipe`` (``wipefs``, ``shred``, ``blkdiscard``);
* ``shell:dd-device`` ``dd of=/dev/sdX``; ``shell:device-write`` ``> /dev/sda``
  or ``tee``/``cp`` onto a device;
* ``shell:chmod-root`` recursive or world-writable ``chmod``/``chown`` of
  ``/``, ``~`` or a system directory;
* ``shell:pipe-to-shell`` a shell (or interpreter after a download) reading
  its program from a pipe, ``bash <(curl ...)``, ``sh -c "$(curl ...)"``;
* ``shell:fork-bomb`` a function that calls itself in a pipe or background;
* ``shell:power`` shutdown / reboot / halt / ``kill -9 -1``;
* host rules (:mod:`._shell_host`): ``shell:service-stop`` a service stopped,
  disabled, masked or its daemon killed; ``shell:credential-store`` keychain,
  secret-service or SAM secrets read; ``shell:credential-search`` ``find`` /
  ``grep -r`` / ``locate`` hunting private keys; ``shell:sync-delete``
  ``rsync --delete`` from an empty source or onto a system directory;
  ``shell:audit-tamper`` auditing or logging turned off, security logs or shell
  history erased (``auditctl -D``, ``cloudtrail stop-logging``, ``journalctl
  --vacuum-time=1s``, ``history -c``, ``unset HISTFILE``, ``HISTSIZE=0``,
  ``Clear-EventLog``, ``wevtutil cl``); ``shell:untrusted-index`` packages from
  an index over plain http or a bare IP address (``pip install -i http://...``,
  ``PIP_INDEX_URL=http://... pip install x``); security agents killed, stopped
  or removed are ``shell:defence-off``;
* ``shell:dynamic-command`` the executable itself is only known at run time
  (``$cmd``, ``/bin/r?``, ``eval "$x"``) - a human should look (SIGSTOP in
  ``strict``); ``shell:too-complex`` the script is past the analysis budget.

Pure and bounded (lexing costs about a microsecond per character in Python,
and a verdict has 5 ms): input over 2 KB, nesting deeper than 6, more than 32
commands, more than 4 KB lexed in all (substitutions included), more than
2,048 words after expansion, or a word over 1 KB with unquoted braces yields
``shell:too-complex`` ("too complex": SIGSTOP in strict) instead of more work;
the regex rules still read the whole text.
"""

from __future__ import annotations

from ._shell_command import Cmd, CommandJudge, ShellReport, excerpt, join
from ._shell_host import HOST_CHECKS, judge_assignment, sends_dump
from ._shell_inline import cmd_script, is_cmdlet, judge_powershell
from ._shell_lex import Budget, Lexer, Word
from ._shell_ops import OPERATOR_CHECKS, joins_remote_shell, sends_environment
from ._shell_words import (
    _RESERVED,
    _SHELLS,
    _WRAPPERS,
    _downloads,
    _echo,
    _has,
    _is_assignment,
    _option_value,
    _strip_options,
)

__all__ = ["SHELL_CHECKS", "ShellReport", "analyse_shell"]

#: Check id -> reason.
SHELL_CHECKS: dict[str, str] = {
    "shell:rm-rf": "recursive file deletion (rm -r)",
    "shell:rm-root": "deletion of /, ~, * or a system directory",
    "shell:mkfs": "filesystem format (mkfs)",
    "shell:disk-wipe": "disk or file wipe (wipefs, shred, blkdiscard)",
    "shell:dd-device": "raw write to a device (dd of=/dev/...)",
    "shell:device-write": "write to a raw device",
    "shell:chmod-root": "recursive or world-writable permission change on a system path",
    "shell:pipe-to-shell": "program piped into a shell or interpreter",
    "shell:fork-bomb": "fork bomb",
    "shell:power": "shutdown, reboot or kill of every process",
    "shell:dynamic-command": "command only known at run time (review)",
    "shell:too-complex": "shell script too large or too nested to analyse within budget (review)",
    **OPERATOR_CHECKS,
    **HOST_CHECKS,
}

_MAX_CHARS = 2_048
_MAX_DEPTH = 6
_MAX_COMMANDS = 32
_MAX_WORK = 4_096  # characters lexed in all, nested substitutions included


# Words after expansion, nested scripts included: no more than 4 KB lexed can spell
# without expansion (a parameter's value may hold many words and be used many times;
# each brace group multiplies its word, up to 64).
_MAX_WORDS = 2_048


def analyse_shell(text: str) -> ShellReport:
    """Analyse one shell script; never raises."""
    report = ShellReport()
    if len(text) > _MAX_CHARS:
        report.findings["shell:too-complex"] = "script too complex to analyse"
        return report
    try:
        _Script(report, {}, {}, 0).run(text)
    except Budget:
        report.findings["shell:too-complex"] = "script too complex to analyse"
    except (RecursionError, ValueError, IndexError) as exc:  # a lexer bug must not allow
        report.findings["shell:dynamic-command"] = f"could not analyse ({type(exc).__name__})"
    # A path named twice is checked once (``echo $x $x``: thousands of the same words).
    report.paths = list(dict.fromkeys(report.paths))
    return report


class _Script(CommandJudge):
    def __init__(
        self, report: ShellReport, env: dict[str, str], aliases: dict[str, str], depth: int
    ) -> None:
        self.report = report
        self.env = env
        self.aliases = aliases
        self.depth = depth
        self.executed: list[str] = []
        self.functions: dict[str, int] = {}  # active function bodies: name -> brace depth
        self.defined: set[str] = set()
        self.braces = 0
        self.echo: str | None = None  # output of a lone static echo / printf
        self.cases = 0  # open case statements: "pattern)" is not a command
        self.downloaded: set[str] = set()  # files a downloader wrote: running one is curl | sh
        self.created: set[str] = set()  # directories mkdir made (an rsync --delete source)

    def run(self, text: str) -> list[str]:
        if self.depth > _MAX_DEPTH:
            self.flag("shell:too-complex", "nesting too deep to analyse")
            return []
        self.report.work += len(text)
        if self.report.work > _MAX_WORK:
            raise Budget
        cmd = Cmd()
        pipeline: list[Cmd] = []
        redirect: str | None = None
        pending_func: str | None = None
        for token in Lexer(text, self.lookup, self.substitute):
            if isinstance(token, Word):
                self.report.words += 1
                if self.report.words > _MAX_WORDS:
                    raise Budget
                if redirect is not None:
                    cmd.redirects.append((redirect, token))
                    redirect = None
                elif not cmd.words and token.text in ("{", "}") and not token.dynamic:
                    self._brace(token.text)
                else:
                    cmd.words.append(token)
                continue
            if token in ("<", ">", ">>", ">|", "&>", "&>>", "<>", "<<", "<<-", "<<<", ">&", "<&"):
                redirect = token
                continue
            if token == "(" and len(cmd.words) == 1 and not pipeline:
                pending_func = cmd.words[0].text
                cmd = Cmd()
                continue
            if token == ")" and pending_func is not None and not cmd.words:
                self.functions[pending_func] = self.braces
                self.defined.add(pending_func)
                pending_func = None
                continue
            pending_func = None
            if token in ("|", "|&"):
                cmd.piped_out = True
                pipeline.append(cmd)
                cmd = Cmd(piped_in=True)
                continue
            pipeline.append(cmd)
            if not (token == ")" and self.cases and len(pipeline) == 1):
                self.pipeline(pipeline, background=token == "&")
            if len(self.executed) > _MAX_COMMANDS:
                self.flag("shell:too-complex", "script too complex to analyse")
                return self.executed
            pipeline, cmd = [], Cmd()
        pipeline.append(cmd)
        self.pipeline(pipeline, background=False)
        return self.executed

    def _brace(self, brace: str) -> None:
        if brace == "{":
            self.braces += 1
            return
        self.braces = max(0, self.braces - 1)
        for name, level in list(self.functions.items()):
            if level >= self.braces:
                del self.functions[name]

    def pipeline(self, cmds: list[Cmd], background: bool) -> None:
        upstream: set[str] = set()
        for cmd in cmds:
            if not cmd.words and not cmd.redirects:
                continue
            cmd.background = background
            cmd.upstream = frozenset(upstream)
            before = len(self.executed)
            self.command(list(cmd.words), cmd)
            upstream.update(self.executed[before:])
            for word in cmd.words:
                upstream.update(word.subs)
            self.redirects(cmd)
        if len(cmds) > 1 and cmds[0].words and is_cmdlet(cmds[0].words[0].text.casefold()):
            script = " | ".join(join(c.words) for c in cmds)  # Get-ChildItem -Recurse | Remove-Item
            for found in judge_powershell(script):
                self.flag(found, excerpt([w for c in cmds for w in c.words]))
        if len(cmds) > 1 and joins_remote_shell(sorted(upstream)):
            self.flag("shell:reverse-shell", excerpt([w for c in cmds for w in c.words]))
        if len(cmds) > 1 and (sends_environment(sorted(upstream)) or sends_dump(upstream)):
            self.flag("shell:exfiltration", excerpt([w for c in cmds for w in c.words]))

    def lookup(self, name: str) -> str | None:
        if name == "IFS":
            return " "
        if name == "HOME":
            return "~"
        return self.env.get(name)

    def substitute(self, script: str) -> tuple[str | None, tuple[str, ...]]:
        inner = _Script(self.report, dict(self.env), self.aliases, self.depth + 1)
        executed = inner.run(script)
        # The output is known only when the whole script is one static echo / printf.
        return (inner.echo if len(executed) == 1 else None), tuple(executed)

    # -- one simple command -------------------------------------------------------------

    def command(self, words: list[Word], cmd: Cmd) -> None:
        words = self.assignments(words, cmd)
        for _ in range(16):  # wrappers nest, but not forever
            while words and words[0].text in _RESERVED and not words[0].dynamic:
                if words[0].text == "esac":
                    self.cases = max(0, self.cases - 1)
                words = words[1:]
            if not words:
                return
            head = words[0]
            if head.text in ("for", "select", "case", "function") and not head.dynamic:
                self.header(words)
                return
            if head.dynamic or head.glob:
                if _downloads(head.subs):
                    self.flag("shell:pipe-to-shell", excerpt(words))
                self.flag("shell:dynamic-command", excerpt(words))
                return
            name = head.text.rsplit("/", 1)[-1].casefold().removesuffix(".exe")
            if name in self.aliases and len(self.executed) < _MAX_COMMANDS:
                alias = self.aliases.pop(name)  # an alias does not expand inside itself
                self.executed.extend(self.substitute(f"{alias} {join(words[1:])}")[1])
                self.aliases[name] = alias
                return
            self.executed.append(name)
            self.report.commands.append((name, excerpt(words)))
            if len(self.report.commands) > _MAX_COMMANDS:
                raise Budget
            if name in self.functions and (cmd.piped_in or cmd.piped_out or cmd.background):
                self.flag("shell:fork-bomb", excerpt(words))
            if name in self.defined:
                return
            unwrapped = self.unwrap(name, words, cmd)
            if unwrapped is None:
                return
            words = unwrapped
        self.flag("shell:too-complex", "wrappers nested too deeply")

    def assignments(self, words: list[Word], cmd: Cmd) -> list[Word]:
        index = 0
        while index < len(words) and _is_assignment(words[index].text):
            index += 1
        if index and index == len(words):
            for word in words:
                self.assign(word)
        else:
            for word in words[:index]:  # VAR=x cmd: the variable is set for cmd alone
                self.check_assignment(word)
        return words[index:]

    def assign(self, word: Word) -> None:
        name, _, value = word.text.partition("=")
        if word.dynamic or word.glob:
            self.env.pop(name, None)
        else:
            self.env[name] = value
        self.check_assignment(word)

    def check_assignment(self, word: Word) -> None:
        """``HISTFILE=/dev/null``, ``PIP_INDEX_URL=http://...``: a variable that turns a
        record off or points a tool at an untrusted source (a value known only at run time
        is not judged)."""
        if word.dynamic:
            return
        name, _, value = word.text.partition("=")
        check = judge_assignment(name, value)
        if check is not None:
            self.flag(check, word.text[:120])

    def header(self, words: list[Word]) -> None:
        head = words[0].text
        if head == "case":
            self.cases += 1
        elif head == "function" and len(words) > 1:
            self.functions[words[1].text] = self.braces
            self.defined.add(words[1].text)
        elif head in ("for", "select") and len(words) > 1:
            name = words[1].text
            items = [w for w in words[3:] if w.text not in (";", "do")]
            if len(words) > 2 and words[2].text == "in" and len(items) == 1:
                self.assign(Word(f"{name}={items[0].text}", items[0].dynamic, items[0].glob))
            else:
                self.env.pop(name, None)

    def unwrap(self, name: str, words: list[Word], cmd: Cmd) -> list[Word] | None:
        """The wrapped command's words, or ``None`` once this command is fully judged."""
        args = words[1:]
        if name in _SHELLS:
            self.shell(words, cmd)
            return None
        if name in ("eval", "source", "."):
            self.evaluate(name, words, cmd)
            return None
        if name in ("su", "script") or (name == "runuser" and _has(args, "-c")):
            script = _option_value(args, ("-c", "--command"))
            if script is not None:
                self.run_script(script, words)
                return None
        if name == "cmd":
            script = cmd_script([w.text for w in args])
            if script is not None:
                self.run_script(script, words)
            return None
        if name == "find":
            self.find(words, cmd)
            return None
        if name == "ssh":
            self.remote(words)
            return None
        if name in ("export", "declare", "typeset", "local", "readonly"):
            for word in args:
                if _is_assignment(word.text):
                    self.assign(word)
            return None
        if name == "alias":
            for word in args:
                key, eq, value = word.text.partition("=")
                if eq and not word.dynamic:
                    self.aliases[key] = value
            return None
        if name in ("unset", "read"):
            functions = name == "unset" and _has(args, "-f")
            for word in args:
                self.env.pop(word.text, None)
                if name == "unset" and not functions and not word.dynamic:
                    check = judge_assignment(word.text, None)  # unset HISTFILE
                    if check is not None:
                        self.flag(check, excerpt(words))
            return None
        if name in ("echo", "printf") and not cmd.piped_out and not any(w.dynamic for w in args):
            self.echo = _echo(name, [w.text for w in args])
        if name == "command" and args and args[0].text in ("-v", "-V"):
            return None  # a lookup, not a run
        if name == "flock" and _has(args, "-c"):
            self.run_script(_option_value(args, ("-c",)) or "", words)
            return None
        if name == "watch":
            self.run_script(join(_strip_options(args, *_WRAPPERS["watch"])), words)
            return None
        spec = _WRAPPERS.get(name)
        if spec is not None:
            inner = _strip_options(args, *spec, env=name in ("env", "sudo", "doas"))
            if name in ("env", "sudo", "doas"):
                for word in args[: len(args) - len(inner)]:  # env VAR=x cmd
                    if _is_assignment(word.text):
                        self.check_assignment(word)
            if name == "env":
                split = _option_value(args, ("-S", "--split-string"))
                if split is not None:
                    self.run_script(split, words)
                    return None
            if name == "sudo" and not inner and (_has(args, "-s") or _has(args, "-i")):
                self.shell([Word("sh")], cmd)
                return None
            if name == "xargs" and not inner:
                return None  # xargs runs echo
            if name == "systemd-run" and any(a.text.startswith("--on-") for a in args):
                self.flag("shell:persistence", excerpt(words))  # a timer: it runs again later
            return inner or None
        self.judge(name, words, cmd)
        return None
