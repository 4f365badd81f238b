"""Judging a resolved shell command, and the scripts it hands on (``sh -c``, ``eval``, ``ssh``).

:class:`CommandJudge` is the half of the shell analyser (:mod:`._shell`) that
looks at one command once its real executable is known: the destructive,
operator, Windows, interpreter and persistence checks, the scripts a shell,
``eval``, ``su -c`` or ``ssh`` runs (handed back through :meth:`run_script`),
redirections, and the paths and URLs its arguments name. The script structure
(pipelines, wrappers, aliases, functions, assignments) stays in :mod:`._shell`.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from ._code import analyse_code
from ._shell_host import erases_log, hunts_keys, judge_host, sync_deletes
from ._shell_inline import (
    container_command,
    database_statement,
    interpreter_code,
    is_cmdlet,
    judge_powershell,
    powershell_script,
    windows_delete,
)
from ._shell_lex import Word
from ._shell_ops import judge_operator, persistence_target, sends_environment
from ._shell_words import (
    _DOWNLOADERS,
    _INTERPRETERS,
    _WORLD,
    _WRITE_OPS,
    RM_IN_TEXT,
    _downloads,
    _is_device,
    _powers_off,
    _scratch,
    _short,
    _split_options,
    _system,
    _wipes,
)
from ._sql import analyse_sql

__all__ = ["Cmd", "CommandJudge", "ShellReport", "excerpt", "join"]


@dataclass(slots=True)
class ShellReport:
    """What a script does: findings, executables run, paths and URLs its commands name."""

    findings: dict[str, str] = field(default_factory=dict)
    commands: list[tuple[str, str]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    work: int = 0  # characters lexed so far (the budget)
    words: int = 0  # words after expansion so far (the budget)


@dataclass(slots=True)
class Cmd:
    words: list[Word] = field(default_factory=list)
    redirects: list[tuple[str, Word]] = field(default_factory=list)
    piped_in: bool = False
    piped_out: bool = False
    background: bool = False
    upstream: frozenset[str] = frozenset()


def join(words: list[Word]) -> str:
    return " ".join(w.text for w in words)


_FIND_OR = frozenset({"-o", "-or", "!", "-not", ","})
#: Programs that run an argument as a script of their own language or as a command line.
_RUNS_ARGUMENTS = _INTERPRETERS | frozenset(
    {"awk", "gawk", "mawk", "nawk", "busybox", "tclsh", "expect", "parallel", "watch",
     "script", "tmux", "screen", "nodejs", "deno", "bun", "osascript", "pwsh", "powershell"}
)  # fmt: skip


def _finds_scratch(words: list[Word]) -> bool:
    """Whether ``find``'s ``words`` select only build, cache or dependency output inside the
    working directory: a relative start, and ``-name`` / ``-iname`` tests that each name
    such output (``find . -name '*.pyc' -delete``), with no ``-o`` or ``!`` to widen them."""
    texts = [w.text for w in words[1:]]
    if not texts or any(w.dynamic for w in words[1:]) or _FIND_OR.intersection(texts):
        return False
    root = texts[0]
    if root.startswith(("/", "~", "-")) or ".." in root.split("/"):
        return False
    names = [texts[i + 1] for i, t in enumerate(texts[:-1]) if t in ("-name", "-iname")]
    return bool(names) and all(_scratch(name) for name in names)


def excerpt(words: list[Word]) -> str:
    return join(words)[:120]


class CommandJudge:
    """The checks on one resolved command; :class:`._shell._Script` supplies the structure."""

    report: ShellReport
    executed: list[str]  # executables run so far in this script
    downloaded: set[str]  # files a downloader wrote: running one is curl | sh
    created: set[str]  # directories mkdir made: an rsync --delete from one empties its target
    # While a find's -exec runs: whether it finds only build and cache output (its {}).
    finds_scratch = False

    def substitute(self, script: str) -> tuple[str | None, tuple[str, ...]]:
        """Analyse ``script`` as a nested script: (its static output or None, executables)."""
        raise NotImplementedError

    def command(self, words: list[Word], cmd: Cmd) -> None:
        """Analyse one simple command (``find -exec`` runs one)."""
        raise NotImplementedError

    def flag(self, check: str, text: str) -> None:
        self.report.findings.setdefault(check, text)

    # -- scripts a command runs ---------------------------------------------------------

    def run_script(self, script: str, words: list[Word]) -> None:
        if any(w.dynamic for w in words):
            self.dynamic(words)
        else:
            self.executed.extend(self.substitute(script)[1])

    def dynamic(self, words: list[Word]) -> None:
        subs = [s for w in words for s in w.subs]
        check = "shell:pipe-to-shell" if _downloads(subs) else "shell:dynamic-command"
        self.flag(check, excerpt(words))

    def shell(self, words: list[Word], cmd: Cmd) -> None:
        index = 1
        command = stdin = False
        while index < len(words):
            text = words[index].text
            if text == "--" or not text or text[0] not in "-+":
                index += text == "--"
                break
            if not text.startswith("--") and "c" in text[1:]:
                command = True
            if not text.startswith("--") and "s" in text[1:]:
                stdin = True
            if text in ("--rcfile", "--init-file", "-o", "+o", "-O", "+O"):
                index += 1
            index += 1
        rest = words[index:]
        if command:
            if rest:
                self.run_script(rest[0].text, rest[:1])
            return
        if rest and not stdin:
            script = rest[0]
            if (
                _downloads(script.subs)
                or script.text in self.downloaded
                or (script.text in ("-", "/dev/stdin") and cmd.piped_in)
            ):
                self.flag("shell:pipe-to-shell", excerpt(words))
            return
        feed = self.stdin_text(cmd)
        if feed is not None:
            self.run_script(feed, words)
        if cmd.piped_in:
            self.flag("shell:pipe-to-shell", excerpt(words))

    def stdin_text(self, cmd: Cmd) -> str | None:
        for op, target in cmd.redirects:
            if op == "<<<":
                return target.text
            if op in ("<<", "<<-") and target.heredoc is not None:
                return target.heredoc
        return None

    def evaluate(self, name: str, words: list[Word], cmd: Cmd) -> None:
        args = words[1:]
        if name == "eval":
            if any(w.dynamic for w in args):
                self.dynamic(words)
            else:
                self.run_script(join(args), words)
        elif any(_downloads(w.subs) for w in args) or (
            cmd.piped_in and args and args[0].text in ("/dev/stdin", "-")
        ):
            self.flag("shell:pipe-to-shell", excerpt(words))
        else:
            self.note_args(args)

    def find(self, words: list[Word], cmd: Cmd) -> None:
        index = 1
        executes: list[str] = []
        scratch = _finds_scratch(words)
        while index < len(words):
            text = words[index].text
            if text == "-delete" and not scratch:
                self.flag("shell:rm-rf", excerpt(words))
            if text in ("-exec", "-execdir", "-ok", "-okdir"):
                end = index + 1
                while end < len(words) and words[end].text not in (";", "+"):
                    end += 1
                deletes = words[index + 1].text.rsplit("/", 1)[-1] in ("rm", "unlink")
                root = words[1] if len(words) > 1 else None
                if end > index + 1 and deletes and root and root.text != "." and _system(root):
                    self.flag("shell:rm-rf", excerpt(words))  # find / -exec rm: a tree deleted
                self.finds_scratch = scratch
                try:
                    self.command(words[index + 1 : end], Cmd(redirects=[]))
                finally:
                    self.finds_scratch = False
                executes.append(words[index + 1].text.rsplit("/", 1)[-1] if end > index + 1 else "")
                index = end
            index += 1
        if hunts_keys([w.text for w in words[1:]], executes):
            self.flag("shell:credential-search", excerpt(words))
        self.note_args(words[1:])

    def remote(self, words: list[Word]) -> None:
        check = judge_host("ssh", [w.text for w in words[1:]], words[0].text)
        if check is not None:
            self.flag(check, excerpt(words))  # ssh -R: a port out there forwarded back here
        index = 1
        while index < len(words) and words[index].text.startswith("-"):
            index += 2 if words[index].text in ("-i", "-p", "-l", "-o", "-F", "-J") else 1
        if index + 1 < len(words):
            self.run_script(join(words[index + 1 :]), words[index + 1 :])

    def redirects(self, cmd: Cmd) -> None:
        for op, target in cmd.redirects:
            if target.text.startswith(("/dev/tcp/", "/dev/udp/")):
                self.flag("shell:reverse-shell", f"{op} {target.text}")
            if op in _WRITE_OPS and _is_device(target.text):
                self.flag("shell:device-write", f"{op} {target.text}")
            if op in _WRITE_OPS and persistence_target(target.text):
                self.flag("shell:persistence", f"{op} {target.text}")
            if op in (">", ">|", "&>") and erases_log(target.text):
                self.flag("shell:audit-tamper", f"{op} {target.text}")  # : > /var/log/wtmp
            if op not in ("<<", "<<-", "<<<", ">&", "<&"):
                self.report.paths.append(target.text)

    # -- judging a resolved command -----------------------------------------------------

    def judge(self, name: str, words: list[Word], cmd: Cmd) -> None:
        args = words[1:]
        options, operands = _split_options(args)
        self.judge_more(name, words, cmd)
        self._embeds_rm(name, words)
        if name == "rm":
            if (
                any(_short(o, "rR") for o in options)
                or {"--recursive", "--no-preserve-root"} & {o.split("=")[0] for o in options}
            ) and not self._scratch_only(operands):
                self.flag("shell:rm-rf", excerpt(words))
            elif any(_wipes(w) for w in operands):
                self.flag("shell:rm-root", excerpt(words))
        elif name.startswith("mkfs") or name in ("mke2fs", "mkswap", "mkdosfs", "mkntfs"):
            self.flag("shell:mkfs", excerpt(words))
        elif name in ("wipefs", "shred", "blkdiscard"):
            self.flag("shell:disk-wipe", excerpt(words))
        elif name == "dd":
            if any(w.text.startswith("of=") and _is_device(w.text[3:]) for w in args):
                self.flag("shell:dd-device", excerpt(words))
        elif name in ("tee", "cp", "mv", "install", "ln"):
            if operands and _is_device(operands[-1].text):
                self.flag("shell:device-write", excerpt(words))
        elif name in ("chmod", "chown", "chgrp"):
            recursive = any(_short(o, "R") or o == "--recursive" for o in options)
            world = name == "chmod" and any(_WORLD.match(w.text) for w in operands[:1])
            if (recursive or world) and any(_system(w) for w in operands[1:]):
                self.flag("shell:chmod-root", excerpt(words))
        elif _powers_off(name, args):
            self.flag("shell:power", excerpt(words))
        elif name in _INTERPRETERS:
            script = operands[0] if operands else None
            from_pipe = script is None or script.text in ("-", "/dev/stdin")
            fed = cmd.upstream if from_pipe and cmd.piped_in else ()
            script = None if from_pipe else script
            if _downloads(script.subs if script is not None else fed):
                self.flag("shell:pipe-to-shell", excerpt(words))
        if name in _DOWNLOADERS:
            self.report.urls.extend(w.text for w in operands if not w.dynamic)
        self.note_args(args)

    def _embeds_rm(self, name: str, words: list[Word]) -> None:
        """A recursive rm inside one argument of a program that runs its arguments as a
        script (``awk 'BEGIN{system("rm -rf /opt")}'``, ``perl -e``), or of a command
        wrapped in JSON (``{"command": "rm -rf /var/www"}``). Other programs' arguments
        are data (``echo 'rm -rf / is dangerous'``)."""
        if (name in _RUNS_ARGUMENTS or name[:1] in ("{", "[")) and any(
            "rm" in w.text and RM_IN_TEXT.search(w.text) is not None for w in words[1:]
        ):
            self.flag("shell:rm-rf", excerpt(words))

    def _scratch_only(self, operands: list[Word]) -> bool:
        """Whether a recursive ``rm`` of ``operands`` removes only build, cache or dependency
        output (``rm -rf ./dist node_modules``; a find's ``{}`` when it finds only such)."""
        return bool(operands) and all(
            not w.dynamic and (_scratch(w.text) or (w.text == "{}" and self.finds_scratch))
            for w in operands
        )

    def judge_more(self, name: str, words: list[Word], cmd: Cmd) -> None:
        """Operator tools, Windows shells, interpreters' inline code, persistence writes."""
        texts = [w.text for w in words[1:]]
        check = judge_operator(name, texts) or judge_host(name, texts, words[0].text)
        if check is not None:
            self.flag(check, excerpt(words))
        statement = database_statement(name, texts)
        if statement is not None:
            for found, _ in analyse_sql(statement, sql_action=True):
                self.flag(found, excerpt(words))
        if name in ("dig", "nslookup", "host", "drill") and any(w.dynamic for w in words[1:]):
            self.flag("shell:exfiltration", excerpt(words))  # data spelled into DNS names
        if any(w.subs and sends_environment([name, *w.subs]) for w in words[1:]):
            self.flag("shell:exfiltration", excerpt(words))  # curl -d "$(env)" https://...
        if windows_delete(name, texts):
            self.flag("shell:rm-rf", excerpt(words))
        if any(t.startswith(("/dev/tcp/", "/dev/udp/")) or "/inet/tcp/" in t for t in texts):
            self.flag("shell:reverse-shell", excerpt(words))  # bash /dev/tcp, gawk /inet/tcp
        inner = container_command(name, texts)
        if inner is not None:
            self.run_script(shlex.join(inner), words)  # kubectl exec ... -- CMD, docker exec C CMD
        if name in ("powershell", "pwsh", "powershell.exe", "pwsh.exe"):
            script = powershell_script(texts)
            for found in judge_powershell(script or ""):
                self.flag(found, excerpt(words))
        elif is_cmdlet(name):  # PowerShell given to a shell tool: Set-MpPreference -Disable...
            for found in judge_powershell(join(words)):
                self.flag(found, excerpt(words))
        elif name in ("tee", "cp", "mv", "install", "ln", "dd", "copy", "xcopy", "move") and texts:
            target = texts[-1].removeprefix("of=")
            if persistence_target(target) and not target.startswith("-"):
                self.flag("shell:persistence", excerpt(words))
        elif name in _INTERPRETERS or name.startswith("python"):
            inline = interpreter_code(name, texts)
            if inline is not None:
                for found, _ in analyse_code(inline[1], inline[0]):
                    self.flag(found, excerpt(words))
        if name == "mkdir":
            self.created.update(t.rstrip("/") for t in texts if not t.startswith("-"))
        elif name == "rsync":
            fresh = any("mktemp" in w.subs for w in words[1:])
            if sync_deletes(texts, self.created, fresh):
                self.flag("shell:sync-delete", excerpt(words))
        if name in _DOWNLOADERS:
            for option in ("-O", "-o", "--output", "--output-document"):
                if option in texts[:-1]:
                    self.downloaded.add(texts[texts.index(option) + 1])
        elif self.downloaded and any(t in self.downloaded for t in [name, *texts[:1]]):
            self.flag("shell:pipe-to-shell", excerpt(words))

    def note_args(self, args: list[Word]) -> None:
        for word in args:
            text = word.text
            if "://" in text:
                self.report.urls.append(text)
            if text.startswith("-") and "=" in text:
                text = text.partition("=")[2]
            elif "=" in text and not text.startswith(("/", "~", ".")):
                text = text.partition("=")[2] or text
            if text and not text.startswith("-"):
                self.report.paths.append(text)
