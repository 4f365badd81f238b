"""Judges on fixed cases: formats that agree, structures that contradict."""

from __future__ import annotations

import asyncio

import pytest

import agent_os.verifier as verifier
from agent_os.verifier import (
    CallSettings,
    DefaultJudge,
    EmbeddingJudge,
    LexicalJudge,
    LLMJudge,
    resolve,
)
from agent_os.verifier._embedding import _KEPT, _halves, run_in_thread
from tests.unit.verifier.vendor_server import vendor_server

SAME = [
    ("1,000", "one thousand"),
    ("About 2.5 million people.", "2,500,000"),
    ("5 km", "5000 m"),
    ("90 minutes", "1.5 hours"),
    ("$25", "twenty-five dollars"),
    ("March 3, 1999", "3 March 1999"),
    ("1999-03-03", "the 3rd of March 1999"),
    ("Canberra", "I believe it is Canberra."),
    ("The Nile", "nile"),
    ("Au.", "AU"),
    ("red, green and blue", "blue, red, green"),
    ("Albuquerque", "Albuquerque, New Mexico"),
    ("Paris is the capital of France.", "The capital of France is Paris."),
    ("No, it is not visible.", "It is not visible."),
    ("I don't know.", "I am not sure."),
    ("Óscar Romero", "Oscar Romero"),
    ("4 July 1776", "07/04/1776"),
    ("25/12/2020", "December 25, 2020"),
    ("1987", "in the late 1980s"),
    ("1900", "the 20th century"),
    ("sixth season", "season 6"),
    ("Bill Clinton", "William Jefferson Clinton"),
    ("John F. Kennedy", "John Fitzgerald Kennedy"),
    ("KKK", "Ku Klux Klan"),
    ("American Express Co.", "American Express Company"),
    ("Bachman\u2013Turner Overdrive", "Bachman\\u2013Turner Overdrive"),
    ("10\u00c2\u00a0November 1775", "10 November 1775"),
    ("x *= 2", "x = x * 2"),
    ("for i in range(0, n):", "for i in range(n):"),
]
DIFFERENT = [
    ("1889", "1925"),
    ("Two", "Three"),
    ("5 km", "5 miles"),
    ("March 3, 1999", "March 4, 1999"),
    ("The capital of Australia is Canberra.", "The capital of Australia is Sydney."),
    ("Alice beat Bob in the final.", "Bob beat Alice in the final."),
    ("No, it is not visible.", "Yes, it is visible."),
    ("The drug causes drowsiness.", "The drug does not cause drowsiness."),
    ("Penguins cannot fly.", "Penguins can fly."),
    ("red, green and blue", "red, yellow and blue"),
    ("for i in range(10):", "for i in range(11):"),
    ("Canberra", "I don't know."),
    ("5%", "15%"),
    ("07/04/1776", "4 August 1776"),
    ("1987", "the 1990s"),
    ("Louis XIV", "Louis XVI"),
    ("Bill Clinton", "Hillary Clinton"),
    ("while i < n:", "while i <= n:"),
    ("return a + b", "return a - b"),
    ("for i in range(n):", "for i in range(1, n):"),
    ("items[len(items) - 1]", "items[len(items)]"),
]


@pytest.mark.parametrize(("a", "b"), SAME)
def test_lexical_same(a: str, b: str) -> None:
    assert LexicalJudge().score("q", a, b) >= 0.5
    assert LexicalJudge().score("q", b, a) >= 0.5


@pytest.mark.parametrize(("a", "b"), DIFFERENT)
def test_lexical_different(a: str, b: str) -> None:
    assert LexicalJudge().score("q", a, b) < 0.5
    assert LexicalJudge().score("q", b, a) < 0.5


@pytest.fixture(scope="module")
def embedding() -> EmbeddingJudge:
    return EmbeddingJudge()


def test_embedding_ranks_paraphrase_over_unrelated(embedding: EmbeddingJudge) -> None:
    para = embedding.cosine("The tower was finished in 1889.", "The tower was completed in 1889.")
    unrelated = embedding.cosine("The tower was finished in 1889.", "Bananas are yellow.")
    assert para > 0.9
    assert unrelated < 0.2


@pytest.mark.parametrize(("a", "b"), DIFFERENT)
def test_default_keeps_structure_over_surface(embedding: EmbeddingJudge, a: str, b: str) -> None:
    assert DefaultJudge(embedding).score("q", a, b) < 0.5


def test_default_lets_the_embedding_judge_a_paraphrase(embedding: EmbeddingJudge) -> None:
    a, b = (
        "It returns the sum of the two numbers.",
        "The function gives back the sum of both numbers.",
    )
    assert LexicalJudge().score("q", a, b) < 0.5
    assert DefaultJudge(embedding).score("q", a, b) >= 0.5


async def test_default_async_path_scores_as_the_sync_one(embedding: EmbeddingJudge) -> None:
    judge = DefaultJudge(embedding)
    for a, b in [*SAME, *DIFFERENT, ("It returns the sum.", "The function gives back the sum.")]:
        assert await judge.ascore("q", a, b) == judge.score("q", a, b)


async def test_default_prepares_only_pairs_structure_cannot_decide(
    embedding: EmbeddingJudge,
) -> None:
    judge = DefaultJudge(embedding)
    seen = embedding._encoder()._seen
    seen.clear()
    judge.prepare("Why?", ["In 1889."], "In 1925.")
    judge.prepare("Why?", ["The bridge was closed for repairs."], "It shut to be repaired.")
    judge.prepare("Why?", ["It shut to be repaired."], "It closed for repairs.")
    await asyncio.sleep(0)  # one turn of the loop: what was handed over goes to the encoder
    # The embedding thread runs its queue in order: once this returns, the work is done.
    await run_in_thread(len, "")
    assert set(seen) == {
        "The bridge was closed for repairs.",
        "It shut to be repaired.",
        "It closed for repairs.",
    }


async def test_texts_asked_for_together_are_embedded_once_on_the_thread(
    embedding: EmbeddingJudge,
) -> None:
    encoder = embedding._encoder()
    texts = ["The ferry sails at noon.", "At midday the ferry leaves."]
    for text in texts:
        encoder._seen.pop(text, None)
    first, again = encoder.embed_soon(texts), encoder.embed_soon(texts)
    # The second ask waits on the first's passes instead of queuing the texts again.
    assert len(first) == 2 and {id(f) for f in again} <= {id(f) for f in first}
    await encoder.embedded(texts)
    assert all(text in encoder._seen for text in texts)
    assert encoder.embed_soon(texts) == []


async def test_a_failed_embedding_pass_fails_its_waiters_and_is_asked_anew(
    embedding: EmbeddingJudge,
) -> None:
    encoder = embedding._encoder()
    text = "A sentence this test embeds after a fault."
    encoder._seen.pop(text, None)

    def broken(*args: object) -> None:
        raise RuntimeError("encoder fault")

    layers, encoder._layers = encoder._layers, broken  # type: ignore[assignment]
    try:
        with pytest.raises(RuntimeError, match="encoder fault"):
            await encoder.embedded([text])
    finally:
        encoder._layers = layers
    await encoder.embedded([text])
    assert text in encoder._seen


def test_int8_onnx_layers_keep_the_float_embeddings(embedding: EmbeddingJudge) -> None:
    encoder = embedding._encoder()
    assert encoder.backend == "onnxruntime-int8"  # the cmvk extra installs ONNX Runtime
    texts = ["The tower was finished in 1889.", "Bananas are yellow.", "Ku Klux Klan", "1925"]
    fast = encoder._encode(texts)
    fast_layers, encoder._layers = encoder._layers, encoder._numpy_layers
    try:
        exact = encoder._encode(texts)
    finally:
        encoder._layers = fast_layers
    assert min(float(a @ b) for a, b in zip(fast, exact, strict=True)) > 0.95


def test_a_split_pass_keeps_each_text_in_its_place(embedding: EmbeddingJudge) -> None:
    encoder = embedding._encoder()
    # Lengths that the token balance reorders: the halves are not the first and last texts.
    texts = [
        "Yes.",
        "The bridge was closed for two weeks while its deck was repaired after the flood.",
        "Bananas are yellow.",
        "It shut so it could be repaired.",
        "1925",
    ]
    together = encoder._encode(texts)
    alone = [encoder._encode([text])[0] for text in texts]
    for i, vector in enumerate(together):
        cosines = [float(vector @ other) for other in alone]
        assert max(range(len(texts)), key=cosines.__getitem__) == i
        assert cosines[i] > 0.95  # activations are quantised per pass: close, not equal


def test_a_full_cache_still_returns_every_text_asked_for(embedding: EmbeddingJudge) -> None:
    encoder = embedding._encoder()
    old = "An answer embedded long ago."
    encoder.embed_many([old])
    # Fill the cache so that keeping the next new text pushes out the oldest: ``old``.
    encoder._seen = {old: encoder._seen[old]} | {
        f"filler {i}": encoder._seen[old] for i in range(_KEPT - 1)
    }
    new = "An answer never seen before."
    first, second = encoder.embed_many([old, new])
    assert old not in encoder._seen and new in encoder._seen
    assert float(first @ second) < 0.99
    encoder._seen.clear()


def test_halves_balance_tokens() -> None:
    assert _halves([[1] * 9, [1] * 2, [1] * 5, [1] * 4]) == ([0, 1], [2, 3])
    assert _halves([[1] * 3, [1] * 3]) == ([0], [1])


def test_offline_default_finds_the_installed_model() -> None:
    assert DefaultJudge.offline().embedding is not None


@pytest.mark.parametrize(
    ("replies", "score"), [(["yes"], 1.0), (["yes", "no"], 0.25), (["No."], 0.0)]
)
async def test_llm_judge_asks_both_directions(replies: list[str], score: float) -> None:
    with vendor_server({"judge": replies}) as server:
        model = resolve(f"openai:judge@{server.url}/v1", settings=CallSettings(retries=0))
        got = await LLMJudge(model).ascore("Year?", "1889", "It was 1889.")
        await model.aclose()
        prompts = [r["body"]["messages"][0]["content"] for r in server.requests]
    assert got == score
    assert len(prompts) == 2
    assert "Statement A: 1889\nStatement B: It was 1889." in prompts[0]
    assert "Statement A: It was 1889.\nStatement B: 1889" in prompts[1]


async def test_default_with_an_llm_asks_it_only_where_structure_cannot_decide() -> None:
    with vendor_server({"judge": ["yes"]}) as server:
        model = resolve(f"openai:judge@{server.url}/v1", settings=CallSettings(retries=0))
        judge = DefaultJudge(llm=LLMJudge(model))
        contradiction = await judge.ascore("Year?", "1889", "1925")
        asked_for_contradiction = len(server.requests)
        paraphrase = await judge.ascore(
            "Why?", "The bridge was closed for repairs.", "It shut so it could be repaired."
        )
        await model.aclose()
    assert contradiction < 0.5 and asked_for_contradiction == 0
    assert paraphrase == 1.0 and len(server.requests) == 2


def test_exported_names() -> None:
    assert set(verifier.__all__) == {
        "AnthropicMessages",
        "Answer",
        "AsyncJudge",
        "Cache",
        "CallSettings",
        "ConfigurationError",
        "ConsensusResult",
        "ConsensusVerifier",
        "DefaultJudge",
        "Disagreement",
        "EmbeddingJudge",
        "GeminiGenerate",
        "HTTPProvider",
        "Judge",
        "LLMJudge",
        "LexicalJudge",
        "MalformedResponse",
        "Metrics",
        "ModelResult",
        "OpenAIChat",
        "Provider",
        "ProviderError",
        "ProviderTimeout",
        "RateLimited",
        "RedisResultCache",
        "RemoteError",
        "ResultCache",
        "ReviewDecision",
        "ReviewDecisions",
        "ReviewSink",
        "VerifierError",
        "VerifierWorker",
        "RemoteVerifier",
        "CMVK_SUBJECT",
        "VERIFIER_RECIPIENT",
        "WORKER_GROUP",
        "open_cache",
        "parse_model",
        "resolve",
    }
