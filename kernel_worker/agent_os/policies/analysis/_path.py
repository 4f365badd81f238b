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
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import re2

from ._normalise import compat, unescape_url
from ._re import OPTIONS

__all__ = ["GlobSet", "canonical_paths", "glob_regex", "with_words"]

_DRIVE = re.compile(r"[a-z]:(?=/|$)", re.IGNORECASE)
_HOME_VAR = re.compile(
    r"^(?:\$home|\$\{home\}|\$env:(?:userprofile|home)|%userprofile%|(?:%homedrive%)?%homepath%)"
    r"(?=/|$)"
)
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
    """Every canonical (lower-case) spelling ``value`` may denote, the literal one first.

    Short values (a path field, a path in a command) recur from call to call: their
    spellings are remembered.
    """
    if len(value) <= _SHORT:
        return _short_paths(value)
    return _paths(value)


def with_words(values: list[str]) -> list[str]:
    """``values`` (a path field's), plus the words of each that read as paths: one holding
    whitespace may name several files (``/etc/passwd /etc/shadow``) or carry a note after
    its path. A word reads as a path when it holds ``/``, ``\\`` or ``~``; at most
    :data:`_MAX_WORDS` per value. ``values`` itself when no value has such a word.
    """
    out: list[str] | None = None
    for value in values:
        cut = value.find(" ")
        if cut < 0:
            if "\t" not in value and "\n" not in value:
                continue  # the common path: one word, its own path
            words = value.split()
        elif not _marked(value[cut:]):
            # A note after a path, naming none itself: the path before it.
            head = value[:cut]
            if _marked(head):
                out = out or list(values)
                out.append(head)
            continue
        else:
            words = value.split()
        words = [w for w in words if "/" in w or "\\" in w or "~" in w]  # _marked, inline
        if words and (len(words) > 1 or words[0] != value):
            out = out or list(values)
            out.extend(words[:_MAX_WORDS])
    return values if out is None else out


_MAX_WORDS = 16


def _marked(text: str) -> bool:
    """Whether ``text`` holds a mark of a path: a separator or a home."""
    return "/" in text or "\\" in text or "~" in text


# Values up to this long have their spellings remembered (4096 of them at most).
_SHORT = 256


@lru_cache(maxsize=4096)
def _short_paths(value: str) -> tuple[str, ...]:
    return _paths(value)


def _paths(value: str) -> tuple[str, ...]:
    text = value.strip().strip("'\"")
    if text.isascii() and text.startswith("/") and _plain(text):
        return (text.lower(),)
    return _canonical(text)


# Absolute paths the home and ``/proc`` views read, compared lower-cased.
_SPECIAL_ROOTS = ("/home/", "/users/", "/root", "/proc/")
_ROOT_LEADS = frozenset("hurpHURP")  # their second characters, in either case
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
    if path[1:2] in _ROOT_LEADS and path[:7].lower().startswith(_SPECIAL_ROOTS):
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
        # may be read from / or from ~ (and from / it may name a home: ../../home/u/.kube).
        views = _relative_views(path)
        out.extend(views)
        home = _USER_HOME.match(views[1])
        if home:
            out.append("~" + views[1][home.end() :])
    return tuple(dict.fromkeys(out))


def _relative_views(path: str) -> list[str]:
    body = "" if path == "." else path
    return [path, "/" + body, ("~/" + body) if body else "~"]


def glob_regex(glob: str) -> str:
    """An RE2 regex (lower-case, match against :func:`canonical_paths`) for ``glob``.

    Raises ``ValueError`` for an empty glob.
    """
    anchored, pieces = _glob_pieces(glob)
    return ("(?s)^" if anchored else "(?s)(?:^|/)") + "".join(pieces) + "$"


def _glob_pieces(glob: str) -> tuple[bool, list[str]]:
    """Is ``glob`` anchored (at ``/`` or ``~``), and its regex one piece per glob token."""
    text = glob.strip().casefold().replace("\\", "/")
    if not text:
        raise ValueError("a path glob must not be empty")
    if text.startswith("$home") or text.startswith("${home}"):
        text = _HOME_VAR.sub("~", text)
    anchored = text.startswith("/") or text == "~" or text.startswith("~/")
    while len(text) > 1 and text.endswith("/"):
        text = text[:-1]
    out: list[str] = []
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
    return anchored, out


# Regex pieces that read the other way round when the path is read from its end.
_REVERSED = {"(?:/.*)?": "(?:.*/)?", "(?:.*/)?": "(?:/.*)?"}
# Last pieces that can take the whole rest of a path: read from the end, they never stop.
_OPEN_ENDED = frozenset({".*", "(?:/.*)?"})


def _tail_regex(pieces: list[str]) -> str | None:
    """The regex of an unanchored glob, read from the path's end (``None``: it cannot stop).

    ``(?:^|/)X$`` matches a path exactly when ``X`` reversed, at the start of the
    reversed path, is followed by ``/`` or the end.
    """
    if not pieces or pieces[-1] in _OPEN_ENDED:
        return None
    return "(?s)^" + "".join(_REVERSED.get(p, p) for p in reversed(pieces)) + "(?:/|$)"


# Up to this long, one set call over the whole path costs less than the checks that
# choose which of the three sets to run.
_SHORT_PATH = 256
# Short paths whose matches a glob set keeps.
_KNOWN = 4096
# A literal shorter than this is not worth looking for inside a path.
_MIN_INSIDE = 3


def _literals(globs: list[list[str]], where: str) -> tuple[str, ...] | None:
    """One literal each glob's match must hold (``None``: some glob has none to offer).

    ``where`` is ``start`` (the leading run of ASCII literal pieces, which an
    anchored glob's match starts with), ``end`` (the trailing run, which an
    unanchored glob's match ends with, at the path's end) or ``inside`` (the
    longest run). Globs and canonical paths are both case-folded, and a
    case-folded ASCII character has no other case-folded spelling that RE2's
    case-insensitive match accepts, so a path without the literal (compared
    exactly) cannot match the glob.
    """
    found = []
    for pieces in globs:
        runs = [""]
        for piece in pieces:
            literal = len(piece) == 1 or (len(piece) == 2 and piece[0] == "\\")
            if literal and piece[-1].isascii():
                runs[-1] += piece[-1]
            else:
                runs.append("")
        if where == "start":
            best = runs[0]
        elif where == "end":
            best = runs[-1]
        else:
            best = max(runs, key=len)
            if len(best) < _MIN_INSIDE:
                best = ""
        if not best:
            return None
        found.append(best)
    # A literal holding another is implied by it: keep the other (fewer checks).
    keep = sorted(set(found), key=len)
    implied = {
        "start": str.startswith,
        "end": str.endswith,
        "inside": str.__contains__,
    }[where]
    return tuple(
        literal
        for at, literal in enumerate(keep)
        if not any(implied(literal, k) for k in keep[:at])
    )


# Literals by the length and text of what precedes a ``/`` in them, and the characters
# that precede those ``/``.
_Heads = tuple[frozenset[str], tuple[tuple[int, dict[str, tuple[str, ...]]], ...]]


def _heads(literals: tuple[str, ...]) -> _Heads | None:
    """``literals`` by what precedes a ``/`` in them (``None``: one has no ``/`` past its start)."""
    by_cut: dict[int, dict[str, list[str]]] = {}
    for literal in literals:
        cut = literal.find("/", 1)
        if cut < 0:
            return None
        by_cut.setdefault(cut, {}).setdefault(literal[:cut], []).append(literal)
    ends = frozenset(head[-1] for heads in by_cut.values() for head in heads)
    return ends, tuple(
        (cut, {head: tuple(found) for head, found in heads.items()})
        for cut, heads in sorted(by_cut.items())
    )


def _holds(path: str, literals: tuple[str, ...], heads: _Heads | None) -> bool:
    """Whether ``path`` holds one of ``literals`` (``heads``: :func:`_heads` of them).

    A ``/`` in a literal is one of the path's, so a path with few slashes (the common
    case, however long) is read at its slashes only: the character before each, and
    the text before it when that character fits. ``literal in path`` reads all of it
    once per literal (~1 ns/char).
    """
    if heads is not None:
        ends, by_cut = heads
        slash = path.find("/", 1)
        for _ in range(_MAX_SLASHES):
            if slash < 0:
                return False
            if path[slash - 1] in ends:
                for cut, by_head in by_cut:
                    if slash >= cut:
                        found = by_head.get(path[slash - cut : slash])
                        if found is not None and path.startswith(found, slash - cut):
                            return True
            slash = path.find("/", slash + 1)
    return any(literal in path for literal in literals)


def _compile(anchor: str, regexes: list[str]) -> Any:
    rule_set = getattr(re2.Set, anchor)(OPTIONS)
    for regex in regexes:
        rule_set.Add(regex)
    rule_set.Compile()
    return getattr(rule_set, "_set", rule_set).Match  # the binding's Match on bytes


class GlobSet:
    """Which of some globs match a canonical path, reading as little of the path as it can.

    Every glob regex ends at the path's end, and most also start at the root or
    constrain only the last components, so one set scanning the whole path (as an
    unanchored set must) mostly reads text no glob can use. Globs anchored at ``/``
    or ``~`` are one set matched from the path's start, which stops where none can
    match any more; unanchored globs are one set matched from the path's end (their
    regexes reversed), which stops as soon; the rest (unanchored globs ending in
    ``**`` or another wildcard) are one set scanning the whole path. A set runs only
    when the path holds a literal one of its globs needs: the start of an anchored
    glob, the end of an unanchored one, a literal inside the rest (looked for at the
    path's slashes, :func:`_holds`). A short path is one set call, its answer kept.
    Tests compare the result with one unanchored set of every :func:`glob_regex` on
    generated paths and globs.
    """

    __slots__ = ("_known", "_scans", "_whole")

    def __init__(self, globs: Sequence[str]) -> None:
        groups: dict[str, list[tuple[int, list[str], str]]] = {"start": [], "end": [], "inside": []}
        whole = []  # glob_regex of each glob
        for index, glob in enumerate(globs):
            anchored, pieces = _glob_pieces(glob)
            regex = ("(?s)^" if anchored else "(?s)(?:^|/)") + "".join(pieces) + "$"
            whole.append(regex)
            tail = None if anchored else _tail_regex(pieces)
            if tail is not None and _literals([pieces], "end") is None:
                # No literal at its end to turn paths away (``.ssh/id_*``): it would make
                # every long path read from its end. Inside, its longest literal gates it.
                tail = None
            if anchored:
                groups["start"].append((index, pieces, regex))
            elif tail is not None:
                groups["end"].append((index, pieces, tail))
            else:
                groups["inside"].append((index, pieces, regex))
        scans = []
        for where, group in groups.items():
            if not group:
                continue
            literals = _literals([pieces for _, pieces, _ in group], where)
            # The literals' first (start) or last (end) characters, up to as many as the
            # shortest has: one lookup turns most paths away before the longer check.
            cut = min(3, *map(len, literals)) if literals else 0
            keys = frozenset(
                literal[:cut] if where == "start" else literal[len(literal) - cut :]
                for literal in literals or ()
            )
            anchor = "SearchSet" if where == "inside" else "MatchSet"
            scans.append(
                (
                    _compile(anchor, [regex for _, _, regex in group]),
                    where,
                    literals,
                    cut,
                    keys,
                    _heads(literals) if where == "inside" and literals else None,
                    tuple(index for index, _, _ in group),
                )
            )
        self._scans = tuple(scans)
        # One set scanning the whole path: the cheapest reading of a short one.
        self._whole = _compile("SearchSet", whole)
        # Short paths recur (a path field, the paths of a command): their matches are kept.
        self._known: dict[str, tuple[int, ...]] = {}

    def match(self, path: str) -> list[int]:
        """Indices (into the globs given) of every glob matching ``path``, ascending.

        ``path`` is a canonical spelling (:func:`canonical_paths`: case-folded), as
        the literal checks before the sets expect.
        """
        if len(path) <= _SHORT_PATH:
            known = self._known.get(path)
            if known is None:
                if len(self._known) >= _KNOWN:
                    self._known.clear()  # paths come from agents: bound the memory they take
                known = self._known[path] = tuple(sorted(self._whole(path.encode())))
            return list(known)
        return self._parts(path)

    def _parts(self, path: str) -> list[int]:
        """:meth:`match` by the three sets, each run only when its literal check passes."""
        data: bytes | None = None
        found: list[int] = []
        for match, where, literals, cut, keys, heads, indices in self._scans:
            if literals is not None:
                if where == "start":
                    if path[:cut] not in keys or not path.startswith(literals):
                        continue
                elif where == "end":
                    if path[-cut:] not in keys or not path.endswith(literals):
                        continue
                elif not _holds(path, literals, heads):
                    continue
            if data is None:
                data = path.encode()
            if where == "end":
                # Byte order reversed is code point order reversed only for ASCII.
                hits = match(data[::-1] if len(data) == len(path) else path[::-1].encode())
            else:
                hits = match(data)
            if hits:
                found.extend(indices[hit] for hit in hits)
        if len(found) > 1:
            found.sort()
        return found
