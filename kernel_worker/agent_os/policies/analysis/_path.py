"""File paths: canonical spellings and glob rules over them.

A path is matched in every spelling it may denote, because the engine cannot
ask the file system (it is pure: no cwd, no ``$HOME``, no symlinks).
:func:`canonical_paths` undoes the tricks that make one file look like
another: percent-encoding (repeated), a NUL byte (C APIs stop there),
backslashes and drive letters, ``file://``, ``$HOME``, ``.`` and ``..``
components, repeated and trailing slashes, trailing dots and spaces
(Windows drops them), ``/proc/self/root``, and letter case. A relative path
is also tried as if the working directory were ``/`` or ``~``, and a path
under ``/home/<user>``, ``/Users/<user>`` or ``/root`` also as ``~/...``.

Globs (:func:`glob_regex`): ``*`` and ``?`` stay inside one component,
``**`` crosses components, ``[...]`` is a class. A glob that starts with
``/`` or ``~`` is anchored at the root / home; any other glob matches at
any depth (``.env`` matches ``app/.env``). ``dir/**`` also matches ``dir``
itself, so a whole-directory copy (``tar c ~/.ssh``) is caught.
"""

from __future__ import annotations

import re

from ._normalise import compat, unescape_url

__all__ = ["canonical_paths", "glob_regex"]

_DRIVE = re.compile(r"[a-z]:(?=/|$)", re.IGNORECASE)
_HOME_VAR = re.compile(r"^(?:\$home|\$\{home\})(?=/|$)")
_USER_HOME = re.compile(r"^/(?:home|users)/[^/]+(?=/|$)|^/root(?=/|$)")
_PROC_ROOT = re.compile(r"^/proc/(?:self|thread-self|\d+)/root(?=/|$)")
_PROC_CWD = re.compile(r"^/proc/(?:self|thread-self|\d+)/cwd(?:/|$)")
_MAX_DECODE = 4


def _decode(text: str) -> str:
    for _ in range(_MAX_DECODE):
        if "%" not in text:
            break
        decoded = unescape_url(text)
        if decoded == text:
            break
        text = decoded
    return text


def _resolve(path: str) -> str:
    """Lexically resolve ``.`` / ``..`` (a ``..`` above the root stays at the root)."""
    absolute = path.startswith("/")
    home = path == "~" or path.startswith("~/")
    parts: list[str] = []
    for part in path.split("/")[1 if absolute or home else 0 :]:
        if part not in (".", ".."):
            part = part.rstrip(". ") or part
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    body = "/".join(parts)
    if absolute:
        return "/" + body
    if home:
        return ("~/" + body) if body else "~"
    return body or "."


def canonical_paths(value: str) -> tuple[str, ...]:
    """Every canonical (lower-case) spelling ``value`` may denote, the literal one first."""
    text = value.strip().strip("'\"")
    if text.isascii() and text.startswith("/") and _plain(text):
        return (text.lower(),)
    return _canonical(text)


# Absolute paths the home and ``/proc`` views read, compared lower-cased.
_SPECIAL_ROOTS = ("/home/", "/users/", "/root", "/proc/")
# A component ending in one of these is trimmed or resolved (``.``, ``..``, ``a.``,
# ``a ``); an empty one (``//``, a trailing ``/``) is dropped.
_TRIMMED = "/. "
_MAX_SLASHES = 32


def _plain(path: str) -> bool:
    """Is the absolute ASCII ``path``, lower-cased, already its only canonical spelling?

    True only when no step of :func:`_canonical` would change or read it: no
    escape, NUL or backslash; no empty, ``.``/``..`` or trailing-dot/space
    component; not under a home or ``/proc``. (An absolute path has no drive,
    ``file:``, ``$HOME`` or ``~`` to undo.) Tests compare both on generated paths.
    """
    if "%" in path or "\x00" in path or "\\" in path or path[-1] in _TRIMMED:
        return False
    if path[:7].lower().startswith(_SPECIAL_ROOTS):
        return False
    slash = path.find("/", 1)
    for _ in range(_MAX_SLASHES):
        if slash < 0:
            return True
        if path[slash - 1] in _TRIMMED:
            return False
        slash = path.find("/", slash + 1)
    return False


def _canonical(text: str) -> tuple[str, ...]:
    """:func:`canonical_paths` of a stripped value, every step taken."""
    text = compat(text)
    text = _decode(text)
    if "\x00" in text:
        text = text.partition("\x00")[0]
    text = text.casefold().replace("\\", "/")
    if text.startswith("file:"):
        text = text[5:]
        if text.startswith("//"):
            rest = text[2:]
            slash = rest.find("/")
            text = rest[slash:] if slash >= 0 else "/"
    drive = _DRIVE.match(text)
    if drive:
        text = text[drive.end() :] or "/"
    text = _HOME_VAR.sub("~", text)
    if text.startswith("~") and not text.startswith("~/") and text != "~":
        text = "~" + text[text.find("/") :] if "/" in text else "~"  # ~user/x -> ~/x
    path = _resolve(text)
    out = [path]
    if path.startswith("/"):
        proc = _PROC_ROOT.match(path)
        if proc:
            path = _resolve(path[proc.end() :] or "/")
            out.append(path)
        elif _PROC_CWD.match(path):
            rel = path.split("/", 4)[4] if path.count("/") >= 4 else "."
            out.extend(_relative_views(rel))
        home = _USER_HOME.match(path)
        if home:
            out.append("~" + path[home.end() :])
    elif not path.startswith("~"):
        # The working directory is unknown: a relative path (climbing or not)
        # may be read from / or from ~.
        out.extend(_relative_views(path))
    return tuple(dict.fromkeys(out))


def _relative_views(path: str) -> list[str]:
    body = "" if path == "." else path
    return [path, "/" + body, ("~/" + body) if body else "~"]


def glob_regex(glob: str) -> str:
    """An RE2 regex (lower-case, match against :func:`canonical_paths`) for ``glob``.

    Raises ``ValueError`` for an empty glob.
    """
    text = glob.strip().casefold().replace("\\", "/")
    if not text:
        raise ValueError("a path glob must not be empty")
    if text.startswith("$home") or text.startswith("${home}"):
        text = _HOME_VAR.sub("~", text)
    anchored = text.startswith("/") or text == "~" or text.startswith("~/")
    while len(text) > 1 and text.endswith("/"):
        text = text[:-1]
    out = ["(?s)^" if anchored else "(?s)(?:^|/)"]
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if text.startswith("/**", i) and i + 3 == n:
            out.append("(?:/.*)?")
            i += 3
        elif text.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif text.startswith("**", i):
            out.append(".*")
            i += 2
        elif ch == "*":
            out.append("[^/]*")
            i += 1
        elif ch == "?":
            out.append("[^/]")
            i += 1
        elif ch == "[":
            j = i + 1
            if j < n and text[j] in "!^":
                j += 1
            if j < n and text[j] == "]":
                j += 1
            end = text.find("]", j)
            if end < 0:
                out.append("\\[")
                i += 1
                continue
            body = text[i + 1 : end]
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end + 1
        else:
            out.append(re.escape(ch))
            i += 1
    out.append("$")
    return "".join(out)
