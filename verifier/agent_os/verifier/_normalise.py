"""What an answer says, read for comparison: numbers, units, dates, lists, polarity.

SQuAD-style normalisation (lower case, no articles, no punctuation, collapsed
space) is the base, after undoing mojibake and JSON escapes; on top of it an
answer is read as a :class:`Reading`:

- numbers whatever their spelling ("one thousand", "1,000", "sixth", "XIV";
  "1k" is not read) and quantities in base units ("5 km" and "5000 m" are
  both ``5000 m``);
- dates in ISO form ("3 March 1999", "March 3rd, 1999", "1999-03-03",
  "03/03/1999"), decades ("the 1980s") and centuries ("the 20th century");
- polarity (an odd number of negations is a negative answer);
- abstention ("I don't know", "cannot be determined");
- a list of short items, compared as a set;
- the content words left over, lightly stemmed, in order, common short forms
  of given names and abbreviations spelled out ("Bill" is "William");
- in code, its operators as words, in one spelling ("x += 1" is "x = x + 1").

Pure and synchronous; no model, no I/O.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache


def _words(text: str, sep: str | None = None) -> list[str]:
    return text.split(sep)


_SMALL = {
    w: i
    for i, w in enumerate(
        _words(
            "zero one two three four five six seven eight nine ten eleven twelve thirteen "
            "fourteen fifteen sixteen seventeen eighteen nineteen"
        )
    )
}
_TENS = {
    w: 10 * i
    for i, w in enumerate(
        ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
    )
    if w != "_"
}
_SCALES = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}
_ORDINALS = {
    w: i + 1
    for i, w in enumerate(
        _words(
            "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth "
            "thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth "
            "twentieth"
        )
    )
}
_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        _words(
            "january february march april may june july august september october november december"
        )
    )
}
_MONTHS.update({m[:3]: i for m, i in list(_MONTHS.items())})
_MONTHS["sept"] = 9
#: unit word -> (dimension, factor to the base unit)
_UNITS: dict[str, tuple[str, float]] = {}
for _names, _dim, _factor in (
    ("km kilometer kilometers kilometre kilometres", "m", 1e3),
    ("m meter meters metre metres", "m", 1.0),
    ("cm centimeter centimeters centimetre centimetres", "m", 1e-2),
    ("mm millimeter millimeters millimetre millimetres", "m", 1e-3),
    ("mi mile miles", "m", 1609.344),
    ("ft foot feet", "m", 0.3048),
    ("inch inches", "m", 0.0254),
    ("kg kilogram kilograms kilo kilos", "g", 1e3),
    ("g gram grams", "g", 1.0),
    ("mg milligram milligrams", "g", 1e-3),
    ("tonne tonnes", "g", 1e6),
    ("lb lbs pound pounds", "g", 453.59237),
    ("s sec secs second seconds", "s", 1.0),
    ("ms millisecond milliseconds", "s", 1e-3),
    ("min mins minute minutes", "s", 60.0),
    ("h hr hrs hour hours", "s", 3600.0),
    ("day days", "s", 86400.0),
    ("week weeks", "s", 604800.0),
    ("l liter liters litre litres", "l", 1.0),
    ("ml milliliter milliliters millilitre millilitres", "l", 1e-3),
    ("% percent per_cent percentage", "%", 1.0),
    ("usd dollar dollars $", "usd", 1.0),
    ("eur euro euros €", "eur", 1.0),
    ("gbp £", "gbp", 1.0),
):
    for _n in _names.split():
        _UNITS[_n] = (_dim, _factor)
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
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))
_DMY = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?(?: of)? ({_MONTH_RE})\.?,? (\d{{4}})\b")
_MDY = re.compile(rf"\b({_MONTH_RE})\.? (\d{{1,2}})(?:st|nd|rd|th)?,? (\d{{4}})\b")
_MY = re.compile(rf"\b({_MONTH_RE})\.?,? (\d{{4}})\b")
_NUMERIC_DATE = re.compile(r"\b(\d{1,2})([/.-])(\d{1,2})\2(\d{4})\b")
_ORDINAL_RE = "|".join(_ORDINALS)
_CENTURY = re.compile(rf"\b(\d{{1,2}}(?:st|nd|rd|th)|{_ORDINAL_RE}) century\b")
_DECADE = re.compile(r"\b(\d{3})0'?s\b")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
#: "18, 426" (a tokenizer's spacing of "18,426")
_SPACED_THOUSANDS = re.compile(r"\b\d{1,3}(?:, \d{3})+\b(?!\.\d)")
_ROMAN = re.compile(r"x{0,3}(?:ix|iv|v?i{0,3})")
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"))
#: brackets or operators: a number in it is an operand ("x[n - 1]" / "x[n]")
_CODE = re.compile(r"\w[\[(]|[{}=<>*/+]|\s-\s*\d")
_LETTERS = re.compile(r"[^\W\d_]+")
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
        "matt; andrew: andy; jennifer: jen jenny; susan: susie; company: co; "
        "corporation: corp; incorporated: inc; limited: ltd; mount: mt; doctor: dr; "
        "junior: jr; senior: sr; university: univ; international: intl; versus: vs",
        "; ",
    )
    for full, shorts in [entry.split(": ")]
    for short in shorts.split()
}
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


def _canonical_number(value: float) -> str:
    return f"{value:.6g}"


def _dates(text: str) -> str:
    def iso(y: str, m: int, d: int | None) -> str:
        return f" date:{int(y):04d}-{m:02d}" + (f"-{d:02d} " if d else " ")

    def numeric(g: re.Match[str]) -> str:
        # Month first ("07/04/1776" is 4 July), unless the first number cannot be a month.
        first, second = int(g[1]), int(g[3])
        month, day = (second, first) if first > 12 or g[2] == "." else (first, second)
        return iso(g[4], month, day) if 1 <= month <= 12 and 1 <= day <= 31 else g[0]

    def century(g: re.Match[str]) -> str:
        n = _ORDINALS.get(g[1]) or int(g[1][:-2])
        return f" century:{n} "

    text = _ISO_DATE.sub(lambda g: iso(g[1], int(g[2]), int(g[3])), text)
    text = _NUMERIC_DATE.sub(numeric, text)
    text = _CENTURY.sub(century, text)
    text = _DECADE.sub(lambda g: f" decade:{g[1]} ", text)
    text = _DMY.sub(lambda g: iso(g[3], _MONTHS[g[2]], int(g[1])), text)
    text = _MDY.sub(lambda g: iso(g[3], _MONTHS[g[1]], int(g[2])), text)
    return _MY.sub(lambda g: iso(g[2], _MONTHS[g[1]], None), text)


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
    text = re.sub(r"(?<=[a-z])-(?=[a-z])", " ", text)
    text = re.sub(r"\bper cent\b", "per_cent", text)
    return _dates(text)


def _read_tokens(tokens: list[str]) -> tuple[list[str], list[str]]:
    """Words and quantities: number words folded into numbers, units into base units."""
    words: list[str] = []
    quantities: list[str] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if ":" in tok:
            quantities.append(tok)
            i += 1
            continue
        if tok in _ORDINALS or re.fullmatch(r"\d+(st|nd|rd|th)", tok):
            n = _ORDINALS.get(tok) or int(re.sub(r"\D", "", tok))
            # "sixth season" / "season 6": an ordinal is read as its number.
            quantities.append(_canonical_number(n))
            i += 1
            continue
        if len(tok) > 1 and _ROMAN.fullmatch(tok):
            # "Louis XIV" / "Louis XVI": a Roman numeral from 2 to 39 is a number.
            quantities.append(_canonical_number(_roman(tok)))
            i += 1
            continue
        value, j = _number_at(tokens, i)
        if value is None:
            if tok in ("$", "€", "£") and i + 1 < len(tokens):
                nxt, k = _number_at(tokens, i + 1)
                if nxt is not None:
                    dim, factor = _UNITS[tok]
                    quantities.append(f"{_canonical_number(nxt * factor)} {dim}")
                    i = k
                    continue
            words.append(tok)
            i += 1
            continue
        unit = tokens[j] if j < len(tokens) else None
        if unit is not None and unit in _UNITS:
            dim, factor = _UNITS[unit]
            quantities.append(f"{_canonical_number(value * factor)} {dim}")
            j += 1
        else:
            quantities.append(_canonical_number(value))
        i = j
    return words, quantities


def _roman(numeral: str) -> int:
    values = [{"i": 1, "v": 5, "x": 10}[c] for c in numeral]
    return sum(-v if v < w else v for v, w in zip(values, [*values[1:], 0], strict=True))


def _number_at(tokens: list[str], i: int) -> tuple[float | None, int]:
    """The number that starts at ``tokens[i]`` and the index after it."""
    total = 0.0
    current = 0.0
    seen = False
    j = i
    while j < len(tokens):
        tok = tokens[j]
        if re.fullmatch(r"\d+(\.\d+)?", tok) and not seen:
            current = float(tok)
        elif tok in _SMALL:
            current += _SMALL[tok]
        elif tok in _TENS:
            current += _TENS[tok]
        elif tok == "hundred" and seen:
            current = (current or 1) * 100
        elif tok in _SCALES and seen:
            total += (current or 1) * _SCALES[tok]
            current = 0
        elif (
            tok == "and"
            and seen
            and j + 1 < len(tokens)
            and (tokens[j + 1] in _SMALL or tokens[j + 1] in _TENS)
        ):
            pass
        elif (
            tok in ("a", "one")
            and not seen
            and j + 1 < len(tokens)
            and (tokens[j + 1] in _SCALES or tokens[j + 1] == "hundred")
        ):
            current = 1
        else:
            break
        seen = True
        j += 1
    if not seen:
        return None, i
    return total + current, j


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
    words, quantities = _read_tokens((_CODE_TOKEN if code else _TOKEN).findall(prepared))
    if words[:1] == ["no"] and any(w in _NEGATIONS for w in words[1:]):
        # "No, it is not visible": the answer particle agrees with its clause.
        words = words[1:]
    negations = sum(1 for w in words if w in _NEGATIONS)
    content = tuple(
        _stem(_ALIASES.get(w, w)) for w in words if w not in _STOP and w not in _NEGATIONS
    )
    capitals = [w[0].isupper() for w in _LETTERS.findall(text) if w.lower() not in _STOP]
    name = bool(capitals) and all(capitals)
    return Reading(content, tuple(quantities), negations % 2 == 1, abstains, items, code, name)


def _plain(part: str) -> list[str]:
    words, quantities = _read_tokens(_TOKEN.findall(part))
    return [_stem(w) for w in words if w not in _STOP] + sorted(quantities)
