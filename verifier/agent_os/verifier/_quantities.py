"""Numbers, units and dates as :mod:`._normalise` reads them.

Numbers whatever their spelling ("one thousand", "1,000", "sixth", "XIV"; "1k"
is not read), quantities in base units ("5 km" and "5000 m" are both
``5000 m``), dates as ISO tokens ("3 March 1999", "March 3rd, 1999",
"03/03/1999" are ``date:1999-03-03``), decades (``decade:198``) and centuries
(``century:20``).
"""

from __future__ import annotations

import re


def _words(text: str) -> list[str]:
    return text.split()


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

_ISO_DATE = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))
_DMY = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?(?: of)? ({_MONTH_RE})\.?,? (\d{{4}})\b")
_MDY = re.compile(rf"\b({_MONTH_RE})\.? (\d{{1,2}})(?:st|nd|rd|th)?,? (\d{{4}})\b")
_MY = re.compile(rf"\b({_MONTH_RE})\.?,? (\d{{4}})\b")
_NUMERIC_DATE = re.compile(r"\b(\d{1,2})([/.-])(\d{1,2})\2(\d{4})\b")
_ORDINAL_RE = "|".join(_ORDINALS)
_CENTURY = re.compile(rf"\b(\d{{1,2}}(?:st|nd|rd|th)|{_ORDINAL_RE}) century\b")
_DECADE = re.compile(r"\b(\d{3})0'?s\b")

_ROMAN = re.compile(r"x{0,3}(?:ix|iv|v?i{0,3})")


def _canonical_number(value: float) -> str:
    return f"{value:.6g}"


def dates(text: str) -> str:
    """Dates, decades and centuries in ``text`` (lower case) rewritten as tokens."""

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


def read_tokens(tokens: list[str]) -> tuple[list[str], list[str]]:
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
