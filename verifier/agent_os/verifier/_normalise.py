"""What an answer says, read for comparison: numbers, units, dates, lists, polarity.

SQuAD-style normalisation (lower case, no articles, no punctuation, collapsed
space) is the base, after undoing mojibake and JSON escapes; on top of it an
answer is read as a :class:`Reading`:

- numbers, quantities in base units, dates, decades and centuries, read by
  :mod:`._quantities` ("5 km" and "5000 m" are both ``5000 m``);
- polarity (an odd number of negations is a negative answer; "not more than
  four" is a bound and "no-fly zone" a compound, not negations);
- abstention ("I don't know", "cannot be determined");
- a list of short items, compared as a set;
- the content words left over, lightly stemmed, in order, common short forms
  of given names and abbreviations spelled out ("Bill" is "William"); a short
  word in capitals is an acronym, not a stop word ("US", "WHO");
- whether it is written as a name (every content word capitalised) and
  whether it has any capital at all ("kerala" says nothing either way);
- in code, its operators as words, in one spelling ("x += 1" is "x = x + 1").

Pure and synchronous; no model, no I/O.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from ._quantities import dates, read_tokens


def _words(text: str, sep: str | None = None) -> list[str]:
    return text.split(sep)


_NEGATIONS = frozenset(
    _words(
        "not no never none nobody nothing neither nor cannot false without nowhere incorrect untrue"
    )
)
_ABSTAIN = re.compile(
    r"\b(i (do not|don't|dont) know|not sure|unsure|no idea|cannot (be )?(determined|say|tell|"
    r"answer|know)|can't (say|tell|answer|know|determine)|unable to (answer|determine|say)|"
    r"(not|insufficient) enough information|no (reliable |available )?(information|answer|data)|"
    r"is unknown|remains unknown|unknown|not known|uncertain|unclear|i'm sorry|i am sorry|"
    r"cannot help|there is no way to know)\b"
)
_STOP = frozenset(
    _words(
        "a an the and or is are was were be been being am of in on at to it its it's that "
        "this these those by for with as from i we you he she they his her their our my your "
        "me him them us so then than do does did has have had will would shall should can "
        "could may might must also just answer answers think believe probably likely perhaps "
        "maybe possibly seems seem seemed approximately about around roughly nearly almost "
        "some there here which who whom whose what when where why how yes indeed actually "
        "really quite very called named known"
    )
)
_CONTRACTIONS = (
    (re.compile(r"\bcan't\b|\bcannot\b"), "can not"),
    (re.compile(r"\bwon't\b"), "will not"),
    (re.compile(r"\bshan't\b"), "shall not"),
    (re.compile(r"n't\b"), " not"),
    (re.compile(r"'s\b"), ""),
)
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
#: "18, 426" (a tokenizer's spacing of "18,426")
_SPACED_THOUSANDS = re.compile(r"\b\d{1,3}(?:, \d{3})+\b(?!\.\d)")
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"))
#: brackets or operators: a number in it is an operand ("x[n - 1]" / "x[n]")
_CODE = re.compile(r"\w[\[(]|[{}=<>*/+]|\s-\s*\d")
_LETTERS = re.compile(r"[^\W\d_]+")
_CAPITALS = re.compile(r"\b[A-Z]{2,}\b")
#: written in lower case inside a name: "Leonardo da Vinci", "Ludwig van Beethoven"
_PARTICLES = frozenset(
    _words("da de del della der di du van von den la le dos das bin ibn al el y")
)
_ESCAPE = re.compile(r"\\+u([0-9a-fA-F]{4})")
_MOJIBAKE = re.compile("[\u00c2\u00c3\u00e2][\u0080-\u00bf\u20ac\u201a-\u2122]")
_TOKEN = re.compile(r"(?:date|decade|century):[\d-]+|\d+(?:\.\d+)?(?:st|nd|rd|th)?|[^\W\d]+|[%$€£]")
#: in code, operators are words too: "i < n" / "i <= n", "a + b" / "a - b"
_CODE_TOKEN = re.compile(rf"{_TOKEN.pattern}|[<>!=]=|[<>+\-*/%=]")
_AUGMENTED = re.compile(r"([a-z_][\w.]*(?:\[[^\]]*\])?)\s*([-+*/%])=\s*")
_RANGE_FROM_ZERO = re.compile(r"\brange\(\s*0\s*,\s*")
#: Common English short forms of given names, and abbreviations, read as the full word.
_ALIASES = {
    short: full
    for entry in _words(
        "william: bill billy will willy; robert: bob bobby rob robbie bert; richard: "
        "dick rick ricky; james: jim jimmy jamie; john: jack johnny; edward: ed "
        "eddie ted ned; thomas: tom tommy; charles: charlie chuck; elizabeth: liz lizzie "
        "beth betty; margaret: maggie meg peggy; katherine: kate katie kathy catherine; "
        "michael: mike mickey; joseph: joe joey; anthony: tony; daniel: dan danny; "
        "david: dave; steven: steve stephen; christopher: chris; benjamin: ben; samuel: "
        "sam; alexander: alex; nicholas: nick; patrick: pat; theodore: teddy; abraham: "
        "abe; frederick: fred freddie; harold: harry; lawrence: larry; ronald: ron "
        "ronnie; donald: don; gerald: jerry; kenneth: ken kenny; timothy: tim; matthew: "
        "matt; andrew: andy; jennifer: jen jenny; susan: susie; peter: pete; raymond: ray; "
        "patricia: patty trish; gregory: greg; jeffrey: jeff; douglas: doug; phillip: phil; "
        "stanley: stan; vincent: vince; zachary: zach; jacob: jake; leonard: lenny; "
        "randolph: randy; alfred: alf alfie; walter: walt; company: co; "
        "corporation: corp; incorporated: inc; limited: ltd; mount: mt; doctor: dr; "
        "junior: jr; senior: sr; university: univ; international: intl; versus: vs",
        "; ",
    )
    for full, shorts in [entry.split(": ")]
    for short in shorts.split()
}
#: "no-fly zone", "no-value indicator" (but "no-one" is "nobody")
_NO_COMPOUND = re.compile(r"\bno-(?!one\b)(?=[a-z])")
#: "not more than four", "no later than 1990": a bound on the number, not a negation
_BOUND = re.compile(
    r"\b(?:not|no) (more|less|fewer|later|earlier|greater|longer|shorter|higher|lower) than\b"
)
_LIST_SPLIT = re.compile(r"\s*(?:,|;|\n|\band\b|&)\s*")


@dataclass(frozen=True, slots=True)
class Reading:
    """One answer as read for comparison."""

    words: tuple[str, ...]
    quantities: tuple[str, ...]
    negative: bool
    abstains: bool
    items: frozenset[str] | None
    code: bool = False
    #: every content word capitalised, as in "Bill Clinton"
    name: bool = False
    #: any capital letter at all ("kerala" says nothing about being a name)
    cased: bool = True

    @property
    def key(self) -> tuple[object, ...]:
        """Equal keys mean equal meaning as far as this reading can tell."""
        return (
            self.items,
            tuple(sorted(self.quantities)),
            self.negative,
            self.words,
            self.abstains,
        )


def _unescape(text: str) -> str:
    """Undo two common manglings: UTF-8 read as Latin-1 ("MÃ¡ire"), JSON escapes left in."""
    if _MOJIBAKE.search(text):
        for codec in ("cp1252", "latin-1"):
            try:
                text = text.encode(codec).decode("utf-8")
                break
            except UnicodeError:
                continue
    if "\\" in text:
        text = _ESCAPE.sub(lambda g: chr(int(g[1], 16)), text).replace("\\", "")
    return text


def _prepare(text: str) -> str:
    text = _unescape(text).translate(_INVISIBLE)
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).lower())
    # Accents folded: "Óscar" and "Oscar" are one name.
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    # A dash between numbers is a range ("2256\u20132257"), elsewhere a space.
    text = re.sub(r"(?<=\d)\s*[\u2013\u2014]\s*(?=\d)", " to ", text)
    text = re.sub(r"[\u2010-\u2015]", " ", text)
    for pattern, repl in _CONTRACTIONS:
        text = pattern.sub(repl, text)
    text = _THOUSANDS.sub("", text)
    text = _SPACED_THOUSANDS.sub(lambda g: g[0].replace(", ", ""), text)
    # "no-fly zone": a compound, not a negation; "not more than four": a bound.
    text = _NO_COMPOUND.sub("no_", text)
    text = _BOUND.sub(r"\1 than", text)
    text = re.sub(r"(?<=[a-z])-(?=[a-z])", " ", text)
    text = re.sub(r"\bper cent\b", "per_cent", text)
    return dates(text)


def _stem(word: str) -> str:
    for suffix in ("ies", "es", "s"):
        if word.endswith(suffix) and len(word) > len(suffix) + 2 and not word.endswith("ss"):
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


@lru_cache(maxsize=4096)
def read(text: str) -> Reading:
    """Read ``text`` (cached: the same answers are compared pairwise)."""
    prepared = _prepare(text)
    code = bool(_CODE.search(text))
    if code:
        # One spelling of the same statement: "x += 1" is "x = x + 1", range(0, n) is range(n).
        prepared = _AUGMENTED.sub(r"\1 = \1 \2 ", prepared)
        prepared = _RANGE_FROM_ZERO.sub("range(", prepared)
    abstains = bool(_ABSTAIN.search(prepared))
    items: frozenset[str] | None = None
    parts = [p for p in _LIST_SPLIT.split(prepared.strip(" .!\n")) if p.strip()]
    if len(parts) >= 3 and all(len(p.split()) <= 4 for p in parts):
        items = frozenset(" ".join(_plain(p)) for p in parts)
    words, quantities = read_tokens((_CODE_TOKEN if code else _TOKEN).findall(prepared))
    if words[:1] == ["no"] and any(w in _NEGATIONS for w in words[1:]):
        # "No, it is not visible": the answer particle agrees with its clause.
        words = words[1:]
    negations = sum(1 for w in words if w in _NEGATIONS)
    stop = _STOP - _acronyms(text)
    content = tuple(
        _stem(_ALIASES.get(w, w)) for w in words if w not in stop and w not in _NEGATIONS
    )
    letters = [w for w in _LETTERS.findall(text) if w.lower() not in stop and w not in _PARTICLES]
    capitals = [w[0].isupper() for w in letters]
    name = bool(capitals) and all(capitals)
    cased = text.lower() != text
    return Reading(
        content, tuple(quantities), negations % 2 == 1, abstains, items, code, name, cased
    )


def _acronyms(text: str) -> frozenset[str]:
    """Words written in capitals: "US", "IT", "WHO" are names, not "us", "it", "who".

    Not where everything is in capitals ("THE BEATLES"), unless it is one word.
    """
    caps = _CAPITALS.findall(text)
    if not caps or (len(caps) > 1 and text.upper() == text):
        return frozenset()
    return frozenset(w.lower() for w in caps)


def _plain(part: str) -> list[str]:
    words, quantities = read_tokens(_TOKEN.findall(part))
    return [_stem(w) for w in words if w not in _STOP] + sorted(quantities)
