"""Structure first: what two answers' readings say about whether they mean the same.

:func:`assess` compares the readings of :mod:`._normalise` (abstention,
lists as sets, polarity, numbers, dates at the coarser side's precision,
swapped words, acronyms) and says whether structure settled the pair. Where
it did not, the judges in :mod:`._judges` let the embedding or a model speak.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

from ._normalise import Reading, read


@dataclass(frozen=True, slots=True)
class Assessment:
    """A lexical score, and whether structure settled it (no embedding needed)."""

    score: float
    decisive: bool
    reason: str
    #: where structure cannot decide: how alike the content words are spelled (letter
    #: trigrams, Jaccard): "Spain" / "Spanish", "Hinduism" / "Hindu"
    resemblance: float = 0.0
    #: how much an embedding's likeness counts here: little between two names with no
    #: word in common ("Indira Gandhi" / "Jawaharlal Nehru": alike in kind, not the same)
    embedding_weight: float = 1.0


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


def assess(a: str, b: str) -> Assessment:
    """Compare two answers' readings; see the module docstring."""
    ra, rb = read(a), read(b)
    if ra.abstains or rb.abstains:
        same = ra.abstains and rb.abstains
        return Assessment(1.0 if same else 0.0, True, "abstention")
    if ra.items is not None and rb.items is not None:
        j = _jaccard(ra.items, rb.items)
        return Assessment(0.97 if j == 1.0 else 0.2 * j, True, "list")
    if ra.negative != rb.negative:
        return Assessment(0.02, True, "polarity")
    exact = frozenset(ra.quantities), frozenset(rb.quantities)
    qa, qb = _coarsen(*exact)
    if qa and qb and not (qa <= qb or qb <= qa):
        return Assessment(0.05, True, "quantity")
    found = _compare_words(ra, _align(rb, ra), qa, qb)
    if (qa, qb) != exact and found.score >= 0.5:
        # Same year, one side names the day: agreeing, but one claims more.
        return Assessment(min(found.score, 0.7), True, "date precision")
    return found


def _coarsen(qa: frozenset[str], qb: frozenset[str]) -> tuple[frozenset[str], frozenset[str]]:
    """Dates at the coarser side's precision: "1978" / "June 8, 1978" is the same year,
    "1987" / "the 1980s" the same decade, "1900" / "the 20th century" the same century."""

    def at(q: frozenset[str], other: frozenset[str]) -> frozenset[str]:
        out = set()
        for item in q:
            year = _year(item)
            if year is not None:
                wider = [f"{year}", f"decade:{year // 10}"]
                wider += [f"century:{(year - 1) // 100 + 1}", f"century:{year // 100 + 1}"]
                if item.startswith("date:") and len(item) > 12:
                    wider.insert(0, item[:12])
                item = next((w for w in wider if w in other and w != item), item)
            out.add(item)
        return frozenset(out)

    return at(qa, qb), at(qb, qa)


def _year(item: str) -> int | None:
    """The year a date or a year-like number names (a number from 100 to 2199)."""
    if item.startswith("date:"):
        return int(item[5:9])
    if item.isdigit() and 100 <= int(item) < 2200:
        return int(item)
    return None


def _near(a: str, b: str) -> bool:
    """Spelling variants of one word: "Pyrrh" / "Pyhrr", "Russia" / "Russian"."""
    if min(len(a), len(b)) < 5:
        return False
    if sorted(a) == sorted(b) or _one_edit(a, b):
        return True
    prefix = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        prefix += 1
    return prefix >= 5 and abs(len(a) - len(b)) <= 2


def _one_edit(a: str, b: str) -> bool:
    """One letter added, dropped or changed: "Gajraj" / "Gajaraj"."""
    if len(a) > len(b):
        a, b = b, a
    if len(b) - len(a) > 1:
        return False
    i = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), len(a))
    return a[i + (len(a) == len(b)) :] == b[i + 1 :]


def _align(rb: Reading, ra: Reading) -> Reading:
    """``rb`` with each word that is a spelling variant of one of ``ra``'s spelled as there.

    Within a name of two words or more, an initial stands for a word with that initial
    ("Roger L. Jackson" / "Roger Labon Jackson").
    """
    known = set(ra.words)
    names = len(ra.words) > 1 and len(rb.words) > 1

    def alike(w: str, k: str) -> bool:
        initial = names and min(len(w), len(k)) == 1 and (w + k).isalpha()
        return _near(w, k) or (initial and k[0] == w[0])

    words = tuple(
        w if w in known else next((k for k in ra.words if alike(w, k)), w) for w in rb.words
    )
    return rb if words == rb.words else replace(rb, words=words)


def _compare_words(ra: Reading, rb: Reading, qa: frozenset[str], qb: frozenset[str]) -> Assessment:
    wa, wb = frozenset(ra.words), frozenset(rb.words)
    if wa == wb and qa == qb:
        if ra.words != rb.words and len(wa) > 1:
            if len(ra.words) != len(rb.words):
                # One says a word again ("Ray Bolger, Raymond Wallace Bolger"): no roles swap.
                return Assessment(0.9, True, "repeated")
            if _rotation(ra.words, rb.words):
                # "Paris is the capital of France" / "the capital of France is Paris".
                return Assessment(0.9, True, "rotated")
            # "Alice beat Bob" / "Bob beat Alice": the same words in swapped roles.
            return Assessment(0.3, True, "swapped roles")
        return Assessment(0.98, True, "equal")
    if wa == wb:
        ca, cb = Counter(ra.quantities), Counter(rb.quantities)
        if not (ra.code or rb.code) and qa != qb and (ca <= cb or cb <= ca):
            # One names a number the other does not: "2256" / "2256 to 2257", "Henry Loeb III"
            # / "Henry Loeb" (in code, "x[n - 1]" / "x[n]", it is another operand).
            return Assessment(0.55, False, "extra quantity")
        # The same words around another number: "range(10)" / "range(11)", "x[n - 1]" / "x[n]".
        return Assessment(0.1, True, "quantity")
    if qa == qb and _acronym(ra.words, rb.words):
        return Assessment(0.85, True, "acronym")
    if (ra.code or rb.code) and (qa != qb or _operators(wa) != _operators(wb)):
        # In code a changed operand or operator is another program: "x[n - 1]" / "x[n]".
        return Assessment(0.1, True, "code")
    only_a, only_b = (wa - wb) | (qa - qb), (wb - wa) | (qb - qa)
    shared = (wa & wb) | (qa & qb)
    if shared and (not only_a or not only_b):
        # One answer says all the other says and more ("Paris" / "Paris, France").
        larger = max(len(wa | qa), len(wb | qb))
        extra = len(only_a or only_b)
        if qa != qb and (qa and qb):
            return Assessment(0.55, False, "extra quantity")
        return Assessment(0.9 - 0.3 * extra / larger, True, "contained")
    overlap = len(shared)
    names = _names(ra, rb)
    if (overlap >= 2 and len(only_a) <= 2 and len(only_b) <= 2) or (
        names and overlap and len(only_a) == len(only_b) == 1
    ):
        # Nearly the same sentence with a word or two replaced: a swapped entity
        # ("Bill Clinton" / "Hillary Clinton").
        return Assessment(0.4, True, "substitution")
    resemblance = _trigram_jaccard(ra.words, rb.words)
    if not overlap and _names(ra, rb):
        return Assessment(0.0, False, "other names", resemblance, _OTHER_NAMES_WEIGHT)
    f1 = 2 * overlap / (len(wa | qa) + len(wb | qb)) if overlap else 0.0
    return Assessment(0.45 * f1, False, "overlap", resemblance)


#: A name is an identifier: two with no word in common name two things, however alike
#: in kind the embedding finds them (two prime ministers, two cities).
_OTHER_NAMES_WEIGHT = 0.1


def _names(ra: Reading, rb: Reading) -> bool:
    """Both answers are names (a short answer in lower case only, "kerala", may be one)."""

    def may_be(r: Reading) -> bool:
        return r.name or (not r.cased and 0 < len(r.words) <= _UNCASED_MAX)

    return (ra.name or rb.name) and may_be(ra) and may_be(rb)


#: the most words a name written in lower case only is taken to have ("jawahar lal nehru")
_UNCASED_MAX = 3


def _trigram_jaccard(a: tuple[str, ...], b: tuple[str, ...]) -> float:
    def grams(words: tuple[str, ...]) -> set[str]:
        text = f" {' '.join(words)} "
        return {text[i : i + 3] for i in range(len(text) - 2)}

    ga, gb = grams(a), grams(b)
    return len(ga & gb) / len(ga | gb) if ga | gb else 0.0


def _operators(words: frozenset[str]) -> frozenset[str]:
    return frozenset(w for w in words if not w[0].isalnum())


def _acronym(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """One side is the initials of the other's words: "KKK" / "Ku Klux Klan"."""
    short, long = (a, b) if len(a) < len(b) else (b, a)
    return len(short) == 1 and len(long) >= 2 and short[0] == "".join(w[0] for w in long)


def _rotation(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    return len(a) == len(b) and any(a[i:] + a[:i] == b for i in range(1, len(a)))
