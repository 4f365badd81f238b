"""Answers into meaning classes, and what the classes say.

Clustering follows semantic entropy (Farquhar et al., 2024): each answer joins
the first class whose first member the judge finds equivalent, else starts a
class. The agreement score is the share of answers in the largest class; the
semantic entropy is the entropy of the class sizes (0 when all agree).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from ._judges import AsyncJudge, Judge

Outcome = Literal["agreed", "flagged", "inconclusive"]


@dataclass(frozen=True, slots=True)
class ModelResult:
    """What one model did: its answer, or why there is none."""

    model: str
    answer: str | None
    latency_s: float
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None
    error_code: str | None = None
    error: str | None = None
    cluster: int | None = None

    @property
    def answered(self) -> bool:
        return self.answer is not None


@dataclass(frozen=True, slots=True)
class ConsensusResult:
    """The verdict of one verification.

    ``outcome`` is ``agreed`` (agreement >= threshold), ``flagged`` (below it)
    or ``inconclusive`` (fewer answers than the quorum); ``flagged`` is true for
    both of the last two, so a caller that reads only ``flagged`` fails closed.
    ``review_ticket`` is the review item a disagreement opened for a person to
    look at (``pending_review``), when the verifier was asked to open one.
    """

    outcome: Outcome
    agreement: float
    threshold: float
    quorum: int
    majority_answer: str | None
    majority_models: tuple[str, ...]
    dissenting_models: tuple[str, ...]
    failed_models: tuple[str, ...]
    semantic_entropy: float
    clusters: tuple[tuple[str, ...], ...]
    models: tuple[ModelResult, ...] = field(default=())
    cached: bool = False
    review_ticket: str | None = None

    @property
    def pending_review(self) -> bool:
        """A review item was opened for this result; its ticket is ``review_ticket``."""
        return self.review_ticket is not None

    @property
    def flagged(self) -> bool:
        return self.outcome != "agreed"

    @property
    def confidence(self) -> float:
        """The seed's name for the agreement score."""
        return self.agreement

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the bus carries this)."""
        data = asdict(self)
        data["flagged"] = self.flagged
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConsensusResult:
        """The inverse of :meth:`to_dict`; raises ``KeyError`` / ``TypeError`` on a bad shape."""
        fields = {k: v for k, v in data.items() if k != "flagged"}
        fields["models"] = tuple(ModelResult(**m) for m in fields["models"])
        for name in ("majority_models", "dissenting_models", "failed_models"):
            fields[name] = tuple(fields[name])
        fields["clusters"] = tuple(tuple(c) for c in fields["clusters"])
        return cls(**fields)


async def _same(judge: Judge | AsyncJudge, prompt: str, a: str, b: str) -> bool:
    if isinstance(judge, AsyncJudge):
        return await judge.ascore(prompt, a, b) >= 0.5
    return judge.score(prompt, a, b) >= 0.5


async def cluster(judge: Judge | AsyncJudge, prompt: str, answers: Sequence[str]) -> list[int]:
    """The class index of each answer (classes numbered in order of appearance)."""
    heads: list[str] = []
    labels: list[int] = []
    for text in answers:
        for index, head in enumerate(heads):
            if text == head or await _same(judge, prompt, head, text):
                labels.append(index)
                break
        else:
            heads.append(text)
            labels.append(len(heads) - 1)
    return labels


def semantic_entropy(sizes: Sequence[int]) -> float:
    """Entropy (nats) of the class distribution."""
    total = sum(sizes)
    return -sum(s / total * math.log(s / total) for s in sizes if s) + 0.0 if total else 0.0


async def decide(
    judge: Judge | AsyncJudge,
    prompt: str,
    results: Sequence[ModelResult],
    *,
    threshold: float,
    quorum: int,
) -> ConsensusResult:
    """Cluster the answers in ``results`` and read the verdict."""
    answered = [r for r in results if r.answer is not None]
    failed = tuple(r.model for r in results if r.answer is None)
    labels = await cluster(judge, prompt, [r.answer for r in answered if r.answer is not None])
    sizes = [labels.count(i) for i in range(max(labels, default=-1) + 1)]
    with_labels = {r.model: i for r, i in zip(answered, labels, strict=True)}
    models = tuple(replace(r, cluster=with_labels.get(r.model)) for r in results)
    groups = tuple(
        tuple(r.model for r in answered if with_labels[r.model] == i) for i in range(len(sizes))
    )
    if len(answered) < quorum:
        return ConsensusResult(
            "inconclusive",
            0.0,
            threshold,
            quorum,
            None,
            (),
            (),
            failed,
            semantic_entropy(sizes),
            groups,
            models,
        )
    top = max(sizes)
    majority = sizes.index(top)
    ties = sizes.count(top) > 1
    agreement = top / len(answered)
    majority_models = () if ties else groups[majority]
    dissent = tuple(r.model for r in answered if r.model not in majority_models)
    outcome: Outcome = "agreed" if agreement >= threshold and not ties else "flagged"
    answer = None if ties else answered[labels.index(majority)].answer
    return ConsensusResult(
        outcome,
        agreement,
        threshold,
        quorum,
        answer,
        majority_models,
        dissent,
        failed,
        semantic_entropy(sizes),
        groups,
        models,
    )
