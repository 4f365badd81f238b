"""The consensus verifier against three local providers, one per vendor API."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest

from agent_os.verifier import (
    CallSettings,
    ConfigurationError,
    ConsensusVerifier,
    LexicalJudge,
    ResultCache,
)
from tests.unit.verifier.vendor_server import Hang, Status, three, vendor_server

PROMPT = "In which year was the Eiffel Tower completed?"


async def test_seed_spelling_two_agree_one_dissents() -> None:
    scripts = {
        "gpt-local": ["It was completed in 1889."],
        "claude-local": ["1889"],
        "gemini-local": ["The Eiffel Tower was completed in 1925."],
    }
    with vendor_server(scripts) as server:
        verifier = ConsensusVerifier(models=three(server))
        result = await verifier.verify_consensus(PROMPT, threshold=0.8)
        await verifier.aclose()
    assert result.flagged
    assert result.outcome == "flagged"
    assert result.dissenting_models == ("gemini:gemini-local",)
    assert result.majority_models == ("openai:gpt-local", "anthropic:claude-local")
    assert result.majority_answer == "It was completed in 1889."
    assert result.agreement == pytest.approx(2 / 3)
    assert result.semantic_entropy == pytest.approx(
        -(2 / 3) * math.log(2 / 3) - (1 / 3) * math.log(1 / 3)
    )
    by_model = {m.model: m for m in result.models}
    assert by_model["anthropic:claude-local"].input_tokens == 12
    assert by_model["gemini:gemini-local"].output_tokens == 5
    assert all(m.latency_s > 0 for m in result.models)


async def test_all_agree_in_different_spellings() -> None:
    scripts = {
        "gpt-local": ["one thousand"],
        "claude-local": ["1,000"],
        "gemini-local": ["I think it is 1000."],
    }
    with vendor_server(scripts) as server:
        async with ConsensusVerifier(models=three(server)) as verifier:
            result = await verifier.verify_consensus("How many?", threshold=0.8)
    assert not result.flagged
    assert result.outcome == "agreed"
    assert result.agreement == 1.0
    assert result.dissenting_models == ()
    assert result.semantic_entropy == 0.0


async def test_fewer_answers_than_quorum_is_inconclusive() -> None:
    scripts = {"gpt-local": ["1889"], "claude-local": [Status(500)], "gemini-local": [Hang()]}
    settings = CallSettings(timeout=0.5, retries=1, backoff=0.01)
    with vendor_server(scripts) as server:
        async with ConsensusVerifier(models=three(server), settings=settings) as verifier:
            result = await verifier.verify_consensus(PROMPT)
    assert result.outcome == "inconclusive"
    assert result.flagged
    assert result.failed_models == ("anthropic:claude-local", "gemini:gemini-local")
    codes = {m.model: m.error_code for m in result.models}
    assert codes == {
        "openai:gpt-local": None,
        "anthropic:claude-local": "http_error",
        "gemini:gemini-local": "timeout",
    }


async def test_partial_answers_within_quorum_decide_and_say_who_failed() -> None:
    scripts = {"gpt-local": ["1889"], "claude-local": ["1889."], "gemini-local": [Status(503)]}
    settings = CallSettings(timeout=5, retries=0)
    with vendor_server(scripts) as server:
        async with ConsensusVerifier(models=three(server), settings=settings) as verifier:
            result = await verifier.verify_consensus(PROMPT)
    assert result.outcome == "agreed"
    assert result.failed_models == ("gemini:gemini-local",)
    assert result.agreement == 1.0


async def test_three_way_split_has_no_majority() -> None:
    scripts = {"gpt-local": ["1889"], "claude-local": ["1887"], "gemini-local": ["1925"]}
    with vendor_server(scripts) as server:
        async with ConsensusVerifier(models=three(server), judge=LexicalJudge()) as verifier:
            result = await verifier.verify_consensus(PROMPT)
    assert result.flagged
    assert result.majority_answer is None
    assert len(result.dissenting_models) == 3
    assert result.semantic_entropy == pytest.approx(math.log(3))


def test_no_keys_no_network_is_a_configuration_error_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(f"{name}_FILE", raising=False)
    with pytest.raises(ConfigurationError, match="no API key") as info:
        ConsensusVerifier(models=["gpt-4o", "claude-sonnet-4-5", "gemini-2.5-pro"])
    assert info.value.code == "configuration"


def test_bad_quorum_and_duplicate_models() -> None:
    local = "openai:m@http://127.0.0.1:9/v1"
    with pytest.raises(ConfigurationError):
        ConsensusVerifier(models=[local], quorum=2)
    with pytest.raises(ConfigurationError, match="twice"):
        ConsensusVerifier(models=[local, local])
    with pytest.raises(ConfigurationError):
        ConsensusVerifier(models=[])


async def test_cache_answers_the_same_question_without_asking() -> None:
    now = [0.0]
    cache = ResultCache(ttl=10, size=8, clock=lambda: now[0])
    scripts = {"gpt-local": ["1889"], "claude-local": ["1889"], "gemini-local": ["1889"]}
    with vendor_server(scripts) as server:
        async with ConsensusVerifier(models=three(server), cache=cache) as verifier:
            first = await verifier.verify_consensus(PROMPT)
            second = await verifier.verify_consensus(PROMPT)
            assert server.calls("gpt-local") == 1
            now[0] = 10.0
            third = await verifier.verify_consensus(PROMPT)
            assert server.calls("gpt-local") == 2
    assert not first.cached and second.cached and not third.cached
    assert second.agreement == first.agreement


async def test_cache_size_bound() -> None:
    from agent_os.verifier import ConsensusResult

    cache = ResultCache(ttl=10, size=2)
    result = ConsensusResult("agreed", 1.0, 0.8, 1, "x", ("m",), (), (), 0.0, (("m",),))
    for key in ("a", "b", "c"):
        await cache.put(key, result)
    assert len(cache) == 2
    assert await cache.get("a") is None and await cache.get("c") is not None


def test_result_round_trips_through_json_form() -> None:
    from agent_os.verifier import ConsensusResult, ModelResult

    result = ConsensusResult(
        "flagged",
        2 / 3,
        0.8,
        2,
        "1889",
        ("a", "b"),
        ("c",),
        (),
        0.63,
        (("a", "b"), ("c",)),
        (ModelResult("a", "1889", 0.1, 1, 2, None, None, None, 0),),
    )
    again = ConsensusResult.from_dict(result.to_dict())
    assert again == result
    assert result.to_dict()["flagged"] is True


async def test_metrics_by_outcome_model_latency_errors_and_agreement() -> None:
    from prometheus_client import CollectorRegistry

    from agent_os.verifier import Metrics

    registry = CollectorRegistry()
    scripts = {"gpt-local": ["1889"], "claude-local": ["1889"], "gemini-local": [Status(500)]}
    settings = CallSettings(timeout=5, retries=0)
    with vendor_server(scripts) as server:
        verifier = ConsensusVerifier(
            models=three(server), settings=settings, metrics=Metrics(registry)
        )
        async with verifier:
            await verifier.verify_consensus(PROMPT)
    value = registry.get_sample_value
    assert value("agent_os_cmvk_verifications_total", {"outcome": "agreed"}) == 1.0
    assert value("agent_os_cmvk_verifications_total", {"outcome": "flagged"}) is None
    assert (
        value(
            "agent_os_cmvk_model_errors_total",
            {"model": "gemini:gemini-local", "code": "http_error"},
        )
        == 1.0
    )
    assert value("agent_os_cmvk_model_latency_seconds_count", {"model": "openai:gpt-local"}) == 1.0
    assert value("agent_os_cmvk_agreement_count") == 1.0
    assert value("agent_os_cmvk_agreement_bucket", {"le": "0.9"}) == 0.0


class PreparingLexical(LexicalJudge):
    """The lexical judge, recording what it was handed as models answered."""

    def __init__(self) -> None:
        self.handed: list[tuple[tuple[str, ...], str]] = []

    def prepare(self, prompt: str, earlier: Sequence[str], answer: str) -> None:
        self.handed.append((tuple(earlier), answer))


async def test_a_judge_that_prepares_sees_each_answer_with_those_before_it() -> None:
    scripts = {
        "gpt-local": ["It was completed in 1889."],
        "claude-local": ["1889"],
        "gemini-local": [Status(500)],
    }
    judge = PreparingLexical()
    with vendor_server(scripts) as server:
        settings = CallSettings(retries=0)
        verifier = ConsensusVerifier(models=three(server), judge=judge, settings=settings)
        result = await verifier.verify_consensus(PROMPT)
        await verifier.aclose()
    assert result.outcome == "agreed"
    assert sorted(answer for _, answer in judge.handed) == ["1889", "It was completed in 1889."]
    assert [earlier for earlier, _ in judge.handed] == [(), (judge.handed[0][1],)]
