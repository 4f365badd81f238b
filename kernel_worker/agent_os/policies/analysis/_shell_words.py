"""Tables and pure helpers of the shell analyser: wrappers, options, targets, devices."""

from __future__ import annotations

import re
from collections.abc import Iterable

import re2

from ._path import canonical_paths
from ._shell_lex import Word, decode_ansi_c

_SHELLS = frozenset({"sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "fish", "csh", "tcsh"})
_INTERPRETERS = frozenset({"python", "python2", "python3", "perl", "ruby", "node", "php", "lua"})
_DOWNLOADERS = frozenset({"curl", "wget", "fetch", "http", "https", "aria2c", "lynx", "w3m"})
_WRITE_OPS = frozenset({">", ">>", ">|", "&>", "&>>", "<>"})
_SAFE_DEV = re.compile(r"^/dev/(?:null|zero|u?random|stdout|stderr|stdin|tty\w*|pts/\d+|fd/\d+)$")
_SYSTEM = frozenset(
    {"/", "~", ".", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/opt",
     "/proc", "/root", "/sbin", "/srv", "/sys", "/usr", "/var", "/users"}
)  # fmt: skip
_WORLD = re.compile(r"^(?:[0-7]?[0-7][0-7][2367]|[ugoa]*[+=][rwxXst]*w[rwxXst]*)$")
_POWER = frozenset({"shutdown", "reboot", "halt", "poweroff", "killall5"})
_RESERVED = frozenset(
    {
        "if",
        "then",
        "else",
        "elif",
        "fi",
        "do",
        "done",
        "while",
        "until",
        "!",
        "{",
        "}",
        "time",
        "esac",
        "in",
        "[[",
        "]]",
        "coproc",
    }
)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Wrapper -> (options that take a value, positional arguments before the command).
_WRAPPERS: dict[str, tuple[frozenset[str], int]] = {
    "sudo": (
        frozenset(
            {
                "-u",
                "-g",
                "-h",
                "-p",
                "-C",
                "-D",
                "-r",
                "-t",
                "-U",
                "-T",
                "--user",
                "--group",
                "--host",
            }
        ),
        0,
    ),
    "doas": (frozenset({"-u", "-C"}), 0),
    "env": (frozenset({"-u", "-C", "--unset", "--chdir"}), 0),
    "nohup": (frozenset(), 0),
    "nice": (frozenset({"-n", "--adjustment"}), 0),
    "ionice": (frozenset({"-c", "-n", "-p", "--class", "--classdata"}), 0),
    "timeout": (frozenset({"-s", "-k", "--signal", "--kill-after"}), 1),
    "time": (frozenset({"-f", "-o", "--format", "--output"}), 0),
    "command": (frozenset(), 0),
    "builtin": (frozenset(), 0),
    "exec": (frozenset({"-a"}), 0),
    "stdbuf": (frozenset({"-i", "-o", "-e"}), 0),
    "setsid": (frozenset(), 0),
    "chroot": (frozenset({"--userspec", "--groups"}), 1),
    "strace": (
        frozenset({"-o", "-e", "-p", "-s", "-u", "-E", "-a", "-b", "-I", "-O", "-P", "-S", "-X"}),
        0,
    ),
    "ltrace": (frozenset({"-o", "-e", "-p", "-s", "-u"}), 0),
    "taskset": (frozenset({"-c", "--cpu-list"}), 0),
    "unbuffer": (frozenset(), 0),
    "caffeinate": (frozenset({"-t", "-w"}), 0),
    "torsocks": (frozenset(), 0),
    "proxychains": (frozenset({"-f"}), 0),
    "proxychains4": (frozenset({"-f"}), 0),
    "firejail": (frozenset(), 0),
    "xvfb-run": (frozenset({"-n", "-s", "-f", "-e", "-p"}), 0),
    "catchsegv": (frozenset(), 0),
    "busybox": (frozenset(), 0),
    "flock": (frozenset({"-w", "-E", "--timeout", "--conflict-exit-code"}), 1),
    "runuser": (frozenset({"-u", "-g", "-G", "--user", "--group"}), 0),
    "xargs": (
        frozenset(
            {
                "-I",
                "-i",
                "-n",
                "-P",
                "-L",
                "-l",
                "-d",
                "-E",
                "-e",
                "-s",
                "-a",
                "--max-args",
                "--arg-file",
            }
        ),
        0,
    ),
    "watch": (frozenset({"-n", "-d", "--interval"}), 0),
    "nsenter": (frozenset({"-t", "--target"}), 0),
    "unshare": (frozenset(), 0),
    "systemd-run": (frozenset({"-p", "-u", "--unit", "--property"}), 0),
}


def _is_assignment(text: str) -> bool:
    name, eq, _ = text.partition("=")
    return bool(eq) and _NAME.fullmatch(name) is not None


def _has(args: list[Word], *values: str) -> bool:
    return any(w.text in values for w in args)


def _short(option: str, letters: str) -> bool:
    return not option.startswith("--") and any(ch in option[1:] for ch in letters)


def _split_options(args: list[Word]) -> tuple[list[str], list[Word]]:
    options: list[str] = []
    operands: list[Word] = []
    done = False
    for word in args:
        if not done and word.text == "--":
            done = True
        elif not done and word.text.startswith("-") and len(word.text) > 1:
            options.append(word.text)
        else:
            operands.append(word)
    return options, operands


def _strip_options(
    args: list[Word], with_value: frozenset[str], positionals: int, env: bool = False
) -> list[Word]:
    index = 0
    while index < len(args):
        text = args[index].text
        if text == "--":
            index += 1
            break
        if text.startswith("-") and len(text) > 1:
            index += 2 if text in with_value else 1
            continue
        if env and _is_assignment(text):
            index += 1
            continue
        break
    return args[index + positionals :] if index + positionals <= len(args) else []


def _option_value(args: list[Word], names: tuple[str, ...]) -> str | None:
    prefixes = tuple(name + "=" for name in names if name.startswith("--"))
    for index, word in enumerate(args):
        text = word.text
        if text in names and index + 1 < len(args):
            return args[index + 1].text
        if prefixes and text.startswith(prefixes):
            prefix = next(p for p in prefixes if text.startswith(p))
            return text[len(prefix) :]
    return None


def _echo(name: str, args: list[str]) -> str:
    if name == "printf":
        return decode_ansi_c(args[0]).replace("%s", " ".join(args[1:])) if args else ""
    words = [a for a in args if a not in ("-n", "-e", "-E")]
    return " ".join(words)


def _downloads(executables: Iterable[str]) -> bool:
    return any(e in _DOWNLOADERS for e in executables)


def _powers_off(name: str, args: list[Word]) -> bool:
    if name in _POWER:
        return True
    if name in ("init", "telinit"):
        return _has(args, "0", "6")
    if name == "systemctl":
        return _has(args, "poweroff", "reboot", "halt", "kexec")
    return name in ("kill", "pkill") and any(w.text == "-1" for w in args[1:])


def _is_device(text: str) -> bool:
    path = canonical_paths(text)[0]
    return path.startswith("/dev/") and _SAFE_DEV.match(path) is None


def _system(word: Word) -> bool:
    text = word.text
    if text.endswith("/*"):
        text = text[:-2] or "/"
    return canonical_paths(text)[0] in _SYSTEM


#: What a build, a dependency install or a test run makes and a clean removes: deleting
#: one recursively is routine (``rm -rf node_modules``, ``find . -name __pycache__ -exec rm
#: -rf {} +``), not destruction.
_SCRATCH = frozenset(
    {"dist", "build", "_build", "out", "target", "obj", "node_modules", "__pycache__",
     ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis", ".tox", ".nox", ".venv",
     "venv", ".eggs", "coverage", "htmlcov", ".coverage", ".next", ".nuxt", ".svelte-kit",
     ".parcel-cache", ".turbo", ".cache", ".gradle", ".terraform", ".ipynb_checkpoints",
     ".sass-cache", "storybook-static", "tmp", "temp"}
)  # fmt: skip
_SCRATCH_ENDS = (".egg-info", ".pyc", ".pyo", ".o", ".class")
_TEMP_ROOTS = ("/tmp/", "/var/tmp/")
_GLOB = frozenset("*?[")


#: A recursive rm spelled inside one word: a script another program runs (``awk
#: 'BEGIN{system("rm -rf /opt")}'``, a command wrapped in JSON), which no lexer reads as
#: a command line of its own.
RM_IN_TEXT = re2.compile(r"(?i)\brm\s+(?:-[\w-]+\s+)*(?:-[a-z]*r[a-z]*|--recursive)\b")


def _scratch(text: str) -> bool:
    """Whether deleting ``text`` (a static word) recursively removes only what a build or a
    test run made: a build, cache or dependency directory, or compiled files, named by a
    path inside the working directory (``./dist``, ``web/node_modules``, ``*.egg-info``),
    or something under ``/tmp`` other than ``/tmp`` itself (``/tmp/pytest-of-dev``)."""
    if text.startswith(_TEMP_ROOTS):
        rest = text.split("/", 3)[3] if text.startswith("/var/") else text[5:]
        parts = [part for part in rest.split("/") if part not in ("", ".")]
        return bool(parts) and ".." not in parts and parts != ["*"] and parts != [".*"]
    if text[:1] in ("/", "~", "$", "-") or "\\" in text:
        return False
    parts = [part for part in text.split("/") if part not in ("", ".")]
    if not parts or ".." in parts:
        return False
    last = parts[-1]
    if last in _SCRATCH:
        return True
    if last.startswith("*"):
        last = last[1:]  # *.egg-info, *.pyc: every such file, and only those
    return not _GLOB.intersection(last) and last.endswith(_SCRATCH_ENDS)


def _wipes(word: Word) -> bool:
    text = word.text
    if text in ("*", ".*", "./*", "~/*", "/*"):
        return True
    return _system(word)
