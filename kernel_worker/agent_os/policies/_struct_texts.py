"""Which texts of an action the structural analyses read, and what they remember of them.

Helpers of ``_struct``: every string of an action (a ``sql`` or ``shell_exec``
action's analyses read all of them), the ``language`` a ``code_exec`` declares,
one SQL gate pass over all fields of unknown meaning, and the shell reports of
command texts seen before.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

from agent_os.policies.analysis._shell import ShellReport, analyse_shell
from agent_os.policies.analysis._sql import sql_gate

__all__ = [
    "SHELL_LANGUAGES",
    "all_strings",
    "gate_data",
    "is_shell_source",
    "language_of",
    "shell_report",
]


def all_strings(node: object, out: list[str], depth: int = 0) -> None:
    """Every string inside ``node`` (keys of mappings excluded), depth-first, bounded."""
    if depth > 64:
        return
    if isinstance(node, str):
        out.append(node)
    elif isinstance(node, Mapping):
        for value in node.values():
            all_strings(value, out, depth + 1)
    elif isinstance(node, list | tuple):
        for item in node:
            all_strings(item, out, depth + 1)


SHELL_LANGUAGES = frozenset({"", "sh", "bash", "shell", "zsh", "dash", "ksh", "console"})


@lru_cache(maxsize=1024)
def shell_report(text: str) -> ShellReport:
    """:func:`analyse_shell`, remembered for repeated command texts (as ``_sql`` remembers
    parses): agents send the same commands again and again. The report is read, never
    changed, by ``Structural._shell_text``; texts are at most ``_SHELL_CHARS`` long."""
    return analyse_shell(text)


def gate_data(groups: Mapping[str, list[str]]) -> bool:
    """Could any field of unknown meaning hold SQL worth reading? (one gate pass for all)"""
    data = groups.get("data")
    return data is not None and bool(data) and sql_gate("\n;\n".join(data))


def language_of(args: object) -> str:
    """The language a ``code_exec`` declares (``language`` or ``lang``), trimmed, lower case."""
    if type(args) is dict:  # no ABC check
        language = args.get("language", _NONE)
        if language is _NONE:
            language = args.get("lang", _NONE)
            if language is _NONE:  # the common case: no language declared
                return ""
    elif isinstance(args, Mapping):
        language = args.get("language", args.get("lang", ""))
    else:
        return ""
    return language.strip().lower() if isinstance(language, str) else ""


_NONE = object()


def is_shell_source(args: object) -> bool:
    """A ``code_exec`` in another language (``language: python``) is not shell text."""
    return language_of(args) in SHELL_LANGUAGES
