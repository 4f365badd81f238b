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

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ._assess import Assessment, assess

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


@runtime_checkable
class PreparingJudge(Protocol):
    """A judge that can start on an answer as soon as its model answers (optional)."""

    def prepare(self, prompt: str, earlier: Sequence[str], answer: str) -> None:
        """Start any work that comparing ``answer`` with ``earlier`` will need.

        Called on the event loop as each model answers; never blocks it.
        """
        ...


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
        va, vb = self._encoder().embed_many((a, b))
        return float(va @ vb)

    def known_score(self, a: str, b: str) -> float | None:
        """:meth:`score` if both answers are embedded already (prepared), else ``None``.

        Never loads the model (that is seconds of work, kept off the event loop).
        """
        if self._model is None:
            return None
        va, vb = self._model._seen.get(a), self._model._seen.get(b)
        if va is None or vb is None:
            return None
        return self._rescaled(float(va @ vb))

    def warm(self, texts: Sequence[str]) -> None:
        """Start embedding ``texts`` on the embedding thread (the model loads there if needed)."""
        if self._model is not None:
            self._model.embed_soon(texts)
            return
        from ._embedding import start_in_thread

        start_in_thread(lambda: self._encoder().embed_soon(texts))

    async def ascore(self, prompt: str, a: str, b: str) -> float:
        """:meth:`score` with the embedding done on the embedding thread."""
        if self._model is None:
            from ._embedding import run_in_thread

            await run_in_thread(self._encoder)
        assert self._model is not None
        while (known := self.known_score(a, b)) is None:
            await self._model.embedded((a, b))
        return known

    def score(self, prompt: str, a: str, b: str) -> float:
        return self._rescaled(self.cosine(a, b))

    def _rescaled(self, cosine: float) -> float:
        return min(1.0, max(0.0, 0.5 + cosine - self.same_at))


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
    _pending: list[str] = field(default_factory=list, init=False, repr=False)

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

    def prepare(self, prompt: str, earlier: Sequence[str], answer: str) -> None:
        """Start embedding ``answer``, and the earlier answers it will be compared with.

        Called as each model answers: only pairs that structure cannot decide need
        the embedding, and those are embedded on the embedding thread while slower
        models are still answering (with an LLM judge there is nothing to start).
        Answers handed over in the same turn of the event loop (models that answer
        together) go to the encoder as one batch; answers that arrive while it is
        busy go to it together, in its next pass.
        """
        if self.embedding is None or self.llm is not None:
            return
        pending = [a for a in earlier if a != answer and not assess(a, answer).decisive]
        if not pending:
            return
        if not self._pending:
            asyncio.get_running_loop().call_soon(self._start)
        self._pending += [*pending, answer]

    def _start(self) -> None:
        texts, self._pending = self._pending, []
        if self.embedding is not None:
            self.embedding.warm(texts)

    def score(self, prompt: str, a: str, b: str) -> float:
        found = assess(a, b)
        if found.decisive or self.embedding is None:
            return found.score
        return _blend(found, self.embedding.score(prompt, a, b))

    async def ascore(self, prompt: str, a: str, b: str) -> float:
        found = assess(a, b)
        if found.decisive:
            return found.score
        if self.llm is not None:
            return await self.llm.ascore(prompt, a, b)
        if self.embedding is None:
            return found.score
        # Milliseconds (tens in numpy): off the event loop, on a thread of its own, so
        # other verifications and the bus keep moving meanwhile.
        return _blend(found, await self.embedding.ascore(prompt, a, b))


def _blend(found: Assessment, embedded: float) -> float:
    """Where structure cannot decide: the embedding, lifted by alike spelling.

    The embedding counts as much as structure says it does (little between two names
    with no word in common: :attr:`Assessment.embedding_weight`). Kept within
    [0.06, 0.94], above any contradiction structure found ("1889" / "1925": 0.05) and
    below what structure confirmed. The weights were chosen on the half of NQ-open
    whose questions hash even (benchmarks/cmvk_judge.py prints the AUROC of the other
    half apart).
    """
    lifted = min(1.0, max(0.0, found.embedding_weight * embedded + 0.5 * found.resemblance))
    return 0.06 + 0.88 * max(found.score, lifted)


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
