"""Secret detection over every string of an action: catalogue, entropy, context, decoding, joining.

:func:`scan_secrets` walks an action's arguments and reports ``(check id,
excerpt)`` for each secret found. Steps, cheapest first:

1. One RE2 set scan (:mod:`._secrets_rules`: detect-secrets' plugins plus our
   vendor catalogue) over all strings joined by a separator, and, when there
   are several, over their plain concatenation: a key split across two
   adjacent fields (``key_part_1`` / ``key_part_2``, list chunks) is whole
   again there.
2. Each candidate a rule finds is judged: a documented example or a
   placeholder (``AKIAIOSFODNN7EXAMPLE``, ``sk-...``, ``<your-key>``,
   ``${DB_PASSWORD}``, ``xxxx``) passes, and so does text whose Shannon entropy
   is below the rule's floor (``ghp_XXXX...``). Fixed markers (PEM headers)
   need no entropy.
3. Context: a value under a credential-named key (``password``,
   ``client_secret``, ``aws_secret_access_key``...) is a secret when it is not a
   placeholder and has the entropy of one.
4. Decoding (:mod:`._secrets_decode`): runs of base64 / base64url (24+
   characters), hex (32+), URL escapes (many in a text, or one inside a
   token), spaced-out characters and a key prefix spaced from its groups
   (``ghp_ BY6r fNcA ...``) are decoded or joined and scanned again when the
   result is printable text; base64 and hex up to
   :data:`_LAYERS` layers deep (base64 of base64, base64 of hex). Base32 runs
   and gzip behind base64 (``H4sI...``) are decoded with base64; text spelled
   otherwise (:mod:`._secrets_spelled`: ``\u005f`` escapes, literals joined
   by ``+``, character codes, a key written backwards or in ROT13) is read
   when its sign shows, and a list of 16+ printable character codes among the
   arguments is read as the text it spells.

Mapping keys 16+ characters long are read like values: a file name in a
gist is data that leaves too, and so is a top-level parameter an agent names
itself.

Bounded: at most :data:`_MAX_DECODE` bytes are decoded per action and at most
:data:`_MAX_CANDIDATES` candidates judged; past that the action is reported as
``secret:too-complex`` (a human looks), never skipped.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Iterable, Mapping

from ._normalise import INVISIBLE as _INVISIBLE
from ._secrets_catalogue import KNOWN_EXAMPLES
from ._secrets_decode import decodings, inflated
from ._secrets_rules import RULES, SECRET_CHECKS, match_set
from ._secrets_spelled import TURNED, signs, spellings

__all__ = ["SECRET_CHECKS", "entropy", "is_placeholder", "scan_secrets"]

_SEP = "\n\x00\n"
_MAX_DEPTH = 32
_MAX_DECODE = 64 * 1024
_MAX_CANDIDATES = 64
#: Longest secret a rule finds (GitHub fine-grained tokens are 255 characters).
_SPLIT_EDGE = 320
_PLACEHOLDER = re.compile(
    r"example|sample|dummy|placeholder|your[_-]?|changeme|change[_-]me|redacted|fake|"
    r"xxxx|\*\*\*|\.\.\.|<[^>]*>|\$\{|\{\{|%\(|\$\(|^\$[A-Za-z_]|^(?:password|secret|token|"
    r"pass|passwd|test|none|null|true|false|admin|root|user)$|"
    # A reference to where the secret lives, read at run time: the environment.
    r"^(?:os\.)?(?:environ|getenv)\b|^process\.env\b|^ENV\[|^System\.getenv\b|"
    r"^Environment\.GetEnvironmentVariable\b|^\$env:",
    re.IGNORECASE,
)
_KEY = re.compile(
    r"(?:^|[_-])(?:password|passwd|pwd|passphrase|secret|api_?key|apikey|access_?key|"
    r"secret_?key|private_?key|auth_?token|access_?token|refresh_?token|token|credentials?|"
    r"client_?secret|bearer)$",
    re.IGNORECASE,
)
#: The last three letters of every name :data:`_KEY` accepts.
_KEY_TAILS = frozenset({"ord", "swd", "pwd", "ase", "ret", "key", "ken", "ial", "als", "rer"})
_EXAMPLES = tuple(value for value, _ in KNOWN_EXAMPLES)
# Set members past the rules: a run worth decoding, spaced-out characters, a hex run,
# a key prefix spaced from its groups.
_DECODABLE, _SPACED_OUT, _HEX_MEMBER = len(RULES), len(RULES) + 1, len(RULES) + 2
_GROUPED = len(RULES) + 3
#: Encodings read inside one another (base64 of base64 of hex); texts scanned at this
#: depth are not decoded (joins of texts already decoded at depth 0).
_LAYERS = 3
#: A list of this many printable character codes (and tab, line feeds) is read as text.
_CODES = 16
_PRINTABLE = frozenset((9, 10, 13, *range(32, 127)))
#: Mapping keys this long are read as data too (the shortest rule-found keys are longer).
_KEY_TEXT = 16
_TOKEN = re.compile(r"[A-Za-z0-9_+/=-]{8,}")
#: ``_TOKEN``'s characters as ``a``, any other byte as a space: one translate and one
#: ``find`` find the first word of an ASCII text (``re`` tries each position, ~25 a byte).
_WORDS = bytes(
    ord("a") if re.fullmatch(_TOKEN.pattern[:-4], chr(i)) else ord(" ") for i in range(256)
)
_WORD = b"a" * 8
_GLANCE = 64
#: Short texts (a tool's strings joined, split-secret junctions) in which the rule sets
#: found nothing at all: agents send them again and again.
_CLEAN: set[str] = set()
_SHORT = 256
_MAX_CLEAN = 4096


def entropy(text: str) -> float:
    """Shannon entropy of ``text`` in bits per character."""
    if not text:
        return 0.0
    counts: dict[str, int] = {}
    for char in text:
        counts[char] = counts.get(char, 0) + 1
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def is_placeholder(text: str) -> bool:
    """A documented example, template variable or filler, not a live secret."""
    return _PLACEHOLDER.search(text) is not None


class _Scan:
    __slots__ = ("budget", "candidates", "findings")

    def __init__(self) -> None:
        self.findings: dict[str, str] = {}
        self.budget = _MAX_DECODE
        self.candidates = 0

    def add(self, check: str, excerpt: str) -> None:
        # Rules of one check may find one secret at different lengths (a fixed-length
        # plugin regex, our open-ended one): keep the longest, whatever the set order.
        if len(excerpt) > len(self.findings.get(check, "")):
            self.findings[check] = excerpt

    def text(self, text: str, depth: int) -> None:
        short = len(text) <= _SHORT
        if short and text in _CLEAN:
            return
        data = text.encode("utf-8", "surrogatepass")
        found = match_set(data)
        if not found:
            # No rule and nothing to decode: nothing to find in this text, ever.
            if short:
                if len(_CLEAN) >= _MAX_CLEAN:
                    _CLEAN.clear()  # texts come from agents: bound the memory they take
                _CLEAN.add(text)
            return
        decodable = encoded = spaced = hexed = grouped = False
        for index in found:
            if index >= _DECODABLE:
                decodable = True
                encoded = encoded or index == _DECODABLE
                spaced = spaced or index == _SPACED_OUT
                hexed = hexed or index == _HEX_MEMBER
                grouped = grouped or index == _GROUPED
                continue
            rule = RULES[index]
            for found in rule.compiled.finditer(text):
                self.candidates += 1
                if self.candidates > _MAX_CANDIDATES:
                    self.add("secret:too-complex", "too many secret candidates to judge")
                    return
                value = found.group(rule.group) or ""
                whole = found.group(0)
                if is_placeholder(value) or is_placeholder(whole.strip()):
                    continue
                if rule.min_entropy and entropy(value) < rule.min_entropy:
                    continue
                if rule.id == "secret:jwt" and not _jwt(whole):
                    continue
                if rule.id == "secret:basic-auth" and not _basic(value):
                    continue
                around = text[found.start() : found.end() + 64]  # lazy matches stop early
                if any(example in around for example in _EXAMPLES):
                    continue
                self.add(rule.id, whole.strip())
                break
        if depth < _LAYERS and decodable:
            # The set's decoding trigger also fires on the signs of text spelled otherwise;
            # a run worth decoding may also be a key written backwards or in ROT13.
            spelled = signs(text) | TURNED if encoded else 0
            self.decoded(text, depth, (spaced, hexed, grouped, encoded), spelled)

    def decoded(
        self, text: str, depth: int, seen: tuple[bool, bool, bool, bool], spelled: int
    ) -> None:
        for decoded, nested in decodings(text, *seen):
            if not self.layer(decoded, len(decoded), depth + 1 if nested else _LAYERS):
                return
        for decoded, cost in spellings(text, spelled, self.budget):
            if not self.layer(decoded, cost, depth + 1):
                return
        if seen[3] and "H4sI" in text:
            for decoded, cost in inflated(text, self.budget):
                if not self.layer(decoded, cost, depth + 1):
                    return

    def charge(self, cost: int) -> bool:
        """Spend ``cost`` of the decoding budget; ``False`` (and a review) past it."""
        self.budget -= cost
        if self.budget < 0:
            self.add("secret:too-complex", "too much encoded text to decode")
            return False
        return True

    def layer(self, decoded: str, cost: int, depth: int) -> bool:
        """Scan one decoded text that cost ``cost`` of the budget; ``False``: stop decoding."""
        if not self.charge(cost):
            return False
        before = len(self.findings)
        if decoded:
            self.text(decoded, depth)
        return len(self.findings) == before and "secret:too-complex" not in self.findings

    def field(self, key: str, value: str) -> None:
        if len(value) < 6 or len(value) > 512:
            return
        value = value.strip()
        if " " in value or is_placeholder(value):
            return
        floor = 2.3 if "pass" in key.lower() or "pwd" in key.lower() else 3.0
        if entropy(value) >= floor:
            self.add("secret:credential-field", f"{key}={value}")


def _basic(encoded: str) -> bool:
    """``user:password`` behind a Basic header, with a password that is not a placeholder."""
    try:
        raw = base64.b64decode(encoded + "=" * (-len(encoded) % 4)).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return False
    _, colon, password = raw.partition(":")
    return bool(colon) and len(password) >= 4 and not is_placeholder(password)


def _jwt(token: str) -> bool:
    head = token.split(".", 1)[0]
    try:
        raw = base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))
    except (binascii.Error, ValueError):
        return False
    return raw.startswith(b"{") and b"alg" in raw


def _credential_key(key: str) -> bool:
    # The last three letters first: thousands of distinct field names cost a slice and a
    # set lookup each, not a regex search (a cache of names would only thrash).
    return key[-3:].lower() in _KEY_TAILS and _KEY.search(key) is not None


def _walk(node: object, key: str, out: list[str], scan: _Scan, depth: int) -> None:
    if depth > _MAX_DEPTH:
        return
    if type(node) is dict:
        for child_key, value in node.items():  # the common shape: a flat dict of strings
            child = child_key if type(child_key) is str else str(child_key)
            # Keys are data that leaves too (a body's objects, a map of files, and at the
            # top a parameter an agent names itself): a long one is read like a value.
            if len(child) >= _KEY_TEXT:
                out.append(child)
            if type(value) is str:
                out.append(value)
                if _credential_key(child):
                    scan.field(child, value)
            elif (
                type(value) is list
                and value
                and type(value[0]) is str
                and depth < _MAX_DEPTH
                and not _credential_key(child)
            ):
                # The next common shape: a list of strings (recipients, commands), read
                # here as the list branch below would.
                for item in value:
                    if type(item) is str:
                        out.append(item)
                    elif type(item) is list and all(type(x) is str for x in item):
                        out.extend(item)
                    else:
                        _walk(item, child, out, scan, depth + 2)
            else:
                _walk(value, child, out, scan, depth + 1)
    elif isinstance(node, str):
        out.append(node)
        if key and _credential_key(key):
            scan.field(key, node)
    elif isinstance(node, list | tuple):  # before Mapping: an ABC check costs more
        if len(node) >= _CODES and type(node[0]) is int:
            spelled = _spelled(node)
            if spelled is not None and scan.charge(len(spelled)):  # as a decoded text
                out.append(spelled)
        named = bool(key) and _credential_key(key)
        for item in node:
            if type(item) is str:  # the common shape: a list of strings
                out.append(item)
                if named:
                    scan.field(key, item)
            elif type(item) is list and not named and all(type(x) is str for x in item):
                out.extend(item)  # a list of argv lists: no call per inner list
            else:
                _walk(item, key, out, scan, depth + 1)
    elif isinstance(node, Mapping):
        for child_key, value in node.items():
            if len(str(child_key)) >= _KEY_TEXT:
                out.append(str(child_key))
            _walk(value, str(child_key), out, scan, depth + 1)
    elif isinstance(node, bytes | bytearray):
        _walk(bytes(node).decode("utf-8", "replace"), key, out, scan, depth + 1)
    elif node is not None and not isinstance(node, bool | int | float):
        # Any other object is read as its text, like flatten does; a str() that raises
        # propagates and the engine denies the action as malformed (fail closed).
        _walk(str(node), key, out, scan, depth + 1)


def _spelled(codes: list[object] | tuple[object, ...]) -> str | None:
    """The text a list of printable character codes spells (``[103, 104, 112, ...]``)."""
    if all(type(code) is int and code in _PRINTABLE for code in codes):
        return bytes(codes).decode("ascii")  # type: ignore[arg-type]
    return None


def _fragments(texts: list[str]) -> list[str]:
    """Where a split secret's halves meet: a token-like string (no spaces) whole, and of a
    text with spaces the first token-like word (8+ characters) when a fragment comes before
    it and the last when a text comes after it; in order, so one text's end meets the next
    one's start (``"part 1: ghp_r81H..."``, ``["part 2: oDeT..."]``). A match never runs
    across a separator, so the words no neighbour meets are left out.

    Only the ends of a long token can hold part of a split secret, so one
    longer than two :data:`_SPLIT_EDGE` keeps its ends (cut by a separator):
    the joined text stays within twice the fragments' count times the edge.
    Fewer than two fragments join nothing: ``[]``, and the scan stops before
    the last text when no fragment came before it.
    """
    out: list[str] = []
    final = len(texts) - 1
    for index, text in enumerate(texts):
        if index == final and not out:
            return []
        if len(text) < 4:
            continue
        if " " not in text:
            if len(text) > 2 * _SPLIT_EDGE:
                text = text[:_SPLIT_EDGE] + _SEP + text[-_SPLIT_EDGE:]
            out.append(text)
            continue
        first = _first_word(text) if out else None
        last = _last_word(text) if index < final else None
        if first is not None:
            out.append(first if last is None else first + _SEP + last)
        elif last is not None:
            out.append(last)
    return out if len(out) > 1 else []


def _first_word(text: str) -> str | None:
    """The first token-like word in ``text``'s first :data:`_SPLIT_EDGE` characters (cut
    there), or ``None``."""
    if not text.isascii():
        found = _TOKEN.search(text, 0, _SPLIT_EDGE)
        return None if found is None else found.group(0)
    # ASCII: one byte a character, so positions in the mapped bytes are the text's. The
    # first _GLANCE characters mostly hold a whole word: those are mapped first.
    mapped = text[:_GLANCE].encode("ascii").translate(_WORDS)
    start = mapped.find(_WORD)
    stop = mapped.find(b" ", start) if start >= 0 else -1
    if stop < 0 and len(text) > _GLANCE:  # no whole word in the glance: the whole edge
        mapped = text[:_SPLIT_EDGE].encode("ascii").translate(_WORDS)
        start = mapped.find(_WORD)
        stop = mapped.find(b" ", start) if start >= 0 else -1
    if start < 0:
        return None
    return text[start:stop] if stop >= 0 else text[start:_SPLIT_EDGE]


def _last_word(text: str) -> str | None:
    """The last token-like word in ``text``'s last :data:`_SPLIT_EDGE` characters (cut
    there), or ``None``."""
    last = text[-_SPLIT_EDGE:]
    if not text.isascii():
        found = _TOKEN.search(last[::-1])  # the last word, read backwards
        return None if found is None else found.group(0)[::-1]
    edge = last[-_GLANCE:]
    mapped = edge.encode("ascii").translate(_WORDS)
    end = mapped.rfind(_WORD)  # the last run ends 8 bytes after its last probe
    begin = mapped.rfind(b" ", 0, end) if end >= 0 else -1
    if begin < 0 and len(last) > _GLANCE:
        edge = last
        mapped = edge.encode("ascii").translate(_WORDS)
        end = mapped.rfind(_WORD)
        begin = mapped.rfind(b" ", 0, end) if end >= 0 else -1
    if end < 0:
        return None
    return edge[begin + 1 : end + 8]


def _visible(text: str) -> str:
    """``text`` without the invisible characters that split a key (``AKIA\u200b...``)."""
    if text.isascii():
        return text
    for char in _INVISIBLE:
        if char in text:
            text = text.replace(char, "")
    return text


def scan_secrets(args: object, extra: Iterable[str] = ()) -> list[tuple[str, str]]:
    """Findings ``(check id, excerpt)`` for every secret in ``args`` (and ``extra`` texts).

    Besides each string, three joins are read: the strings without invisible
    characters, the strings with their line breaks removed (a key wrapped over
    two lines), and the split-secret junctions (:func:`_fragments`).
    Raises only what an argument's ``str()`` raises; the excerpt is the raw secret
    (callers redact it).
    """
    scan = _Scan()
    texts = list(extra)
    _walk(args, "", texts, scan, 0)
    if texts:
        joined = _SEP.join(texts)
        if not joined.isascii():
            joined = _visible(joined)
        scan.text(joined, 0)
        if not scan.findings:
            # A line break inside a string (not just the separators'): one memchr per string.
            for text in texts:
                if "\n" in text:
                    # Separators become NULs: still between strings, never inside a token.
                    scan.text(joined.replace("\r", "").replace("\n", ""), _LAYERS)
                    break
        if len(texts) > 1 and not scan.findings:
            fragments = _fragments(texts)
            if len(fragments) > 1:
                scan.text("".join(fragments), _LAYERS)
    return list(scan.findings.items())


assert "secret:credential-field" in SECRET_CHECKS
