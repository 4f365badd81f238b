"""Judges: does answer ``b`` mean what answer ``a`` means, for this prompt?

A judge scores a pair in [0, 1]; 0.5 or more means "the same meaning". Two
kinds: :class:`Judge` is synchronous and pure (lexical, embedding, the
offline default); :class:`AsyncJudge` asks a model (:class:`LLMJudge`).

Surface similarity is a poor judge of meaning: "1889" and "1925" embed close
together, and "Canberra is the capital" shares nearly every word with
"Sydney is the capital". So the default judge reads structure first
(:mod:`._normalise`: abstention, polarity, numbers, dates and units, lists as
sets, swapped words) and lets the embedding speak only where structure has
nothing to say (a paraphrase with other words).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ._normalise import Reading, read

if TYPE_CHECKING:
    from ._embedding import MiniLM
    from ._provider import Provider


@runtime_checkable
class Judge(Protocol):
    """A synchronous judge."""

    def score(self, prompt: str, a: str, b: str) -> float:
        """How surely ``a`` and ``b`` mean the same, in [0, 1] (>= 0.5: same)."""
        ...


@runtime_checkable
class AsyncJudge(Protocol):
    """A judge that has to ask a model."""

    async def ascore(self, prompt: str, a: str, b: str) -> float:
        """As :meth:`Judge.score`, asynchronously."""
        ...


@dataclass(frozen=True, slots=True)
class Assessment:
    """A lexical score, and whether structure settled it (no embedding needed)."""

    score: float
    decisive: bool
    reason: str


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
    """Dates at the coarser side's precision: "1978" / "June 8, 1978" is the same year."""

    def at(q: frozenset[str], other: frozenset[str]) -> frozenset[str]:
        out = set()
        for item in q:
            if item.startswith("date:"):
                year, month = item[5:9], item[5:12]
                if f"{int(year):.6g}" in other:
                    item = f"{int(year):.6g}"
                elif len(item) > 12 and f"date:{month}" in other:
                    item = f"date:{month}"
            out.add(item)
        return frozenset(out)

    return at(qa, qb), at(qb, qa)


def _near(a: str, b: str) -> bool:
    """Spelling variants of one word: "Pyrrh" / "Pyhrr", "Russia" / "Russian"."""
    if min(len(a), len(b)) < 5:
        return False
    if sorted(a) == sorted(b):
        return True
    prefix = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        prefix += 1
    return prefix >= 5 and abs(len(a) - len(b)) <= 2


def _align(rb: Reading, ra: Reading) -> Reading:
    """``rb`` with each word that is a spelling variant of one of ``ra``'s spelled as there."""
    known = set(ra.words)
    words = tuple(
        w if w in known else next((k for k in ra.words if _near(w, k)), w) for w in rb.words
    )
    return rb if words == rb.words else replace(rb, words=words)


def _compare_words(ra: Reading, rb: Reading, qa: frozenset[str], qb: frozenset[str]) -> Assessment:
    wa, wb = frozenset(ra.words), frozenset(rb.words)
    if wa == wb and qa == qb:
        if ra.words != rb.words and len(wa) > 1:
            if _rotation(ra.words, rb.words):
                # "Paris is the capital of France" / "the capital of France is Paris".
                return Assessment(0.9, True, "rotated")
            # "Alice beat Bob" / "Bob beat Alice": the same words in swapped roles.
            return Assessment(0.3, True, "swapped roles")
        return Assessment(0.98, True, "equal")
    if wa == wb:
        # The same words around another number: "range(10)" / "range(11)", "x[n - 1]" / "x[n]".
        return Assessment(0.1, True, "quantity")
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
    if overlap >= 2 and len(only_a) <= 2 and len(only_b) <= 2:
        # Nearly the same sentence with a word or two replaced: a swapped entity.
        return Assessment(0.1, True, "substitution")
    f1 = 2 * overlap / (len(wa | qa) + len(wb | qb)) if overlap else 0.0
    return Assessment(0.45 * f1, False, "overlap")


def _rotation(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    return len(a) == len(b) and any(a[i:] + a[:i] == b for i in range(1, len(a)))


class LexicalJudge:
    """Normalised lexical comparison that understands numbers, units, dates, lists, polarity."""

    def score(self, prompt: str, a: str, b: str) -> float:
        return assess(a, b).score


@dataclass
class EmbeddingJudge:
    """Cosine similarity of all-MiniLM-L6-v2 embeddings (a weak judge on its own).

    ``same_at`` is the cosine that scores 0.5; the score rises one for one with the
    cosine around it (chosen on NQ-open: benchmarks/cmvk_judge.py).
    """

    same_at: float = 0.6
    _model: MiniLM | None = field(default=None, init=False, repr=False)

    def _encoder(self) -> MiniLM:
        if self._model is None:
            from ._embedding import load_minilm

            self._model = load_minilm()
        return self._model

    def cosine(self, a: str, b: str) -> float:
        m = self._encoder()
        return float(m.embed(a) @ m.embed(b))

    def score(self, prompt: str, a: str, b: str) -> float:
        return min(1.0, max(0.0, 0.5 + self.cosine(a, b) - self.same_at))


@dataclass
class DefaultJudge:
    """Structure first; where structure cannot decide, the LLM if one is given, else the embedding.

    Offline (``llm=None``) it needs no network: with the embedding model
    installed it is lexical + embedding, without it lexical alone. With an
    :class:`LLMJudge` a pair that structure settles never reaches the model
    (no call for "1889" / "1925"); the rest are asked both ways.
    """

    embedding: EmbeddingJudge | None = None
    llm: LLMJudge | None = None

    @classmethod
    def offline(cls) -> DefaultJudge:
        """With the embedding judge when its model is installed, else lexical only."""
        from ._errors import ConfigurationError

        judge = EmbeddingJudge()
        try:
            judge._encoder()
        except ConfigurationError:
            return cls(None)
        return cls(judge)

    def score(self, prompt: str, a: str, b: str) -> float:
        found = assess(a, b)
        if found.decisive or self.embedding is None:
            return found.score
        return max(found.score, self.embedding.score(prompt, a, b))

    async def ascore(self, prompt: str, a: str, b: str) -> float:
        found = assess(a, b)
        if found.decisive:
            return found.score
        if self.llm is not None:
            return await self.llm.ascore(prompt, a, b)
        if self.embedding is None:
            return found.score
        # Tens of milliseconds of numpy: off the event loop (numpy releases the GIL), on one
        # thread of its own, so other verifications and the bus keep moving meanwhile.
        from ._embedding import run_in_thread

        embedded = await run_in_thread(self.embedding.score, prompt, a, b)
        return max(found.score, embedded)


_ENTAILS = (
    "Question: {prompt}\nStatement A: {a}\nStatement B: {b}\n"
    "As answers to the question, does statement A entail statement B? Reply with one word: "
    "yes or no."
)


@dataclass
class LLMJudge:
    """Two-way entailment asked of a configured model, as semantic entropy clusters.

    Scores 1.0 when each answer entails the other, 0.25 when one direction
    holds, 0.0 otherwise. A failed call raises (a pair that could not be
    judged is not a pair that agrees).
    """

    model: Provider

    async def _entails(self, prompt: str, a: str, b: str) -> bool:
        answer = await self.model.complete(_ENTAILS.format(prompt=prompt, a=a, b=b))
        return answer.text.strip().lower().lstrip("\"'*").startswith("yes")

    async def ascore(self, prompt: str, a: str, b: str) -> float:
        forward = await self._entails(prompt, a, b)
        backward = await self._entails(prompt, b, a)
        return 1.0 if forward and backward else 0.25 if forward or backward else 0.0
