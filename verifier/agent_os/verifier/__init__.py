"""Cross-model verification (CMVK): ask several models, cluster their answers by meaning.

::

    from agent_os.verifier import ConsensusVerifier
    verifier = ConsensusVerifier(models=["gpt-4o", "claude-sonnet-4-5", "gemini-2.5-pro"])
    result = await verifier.verify_consensus(prompt, threshold=0.8)
    result.flagged, result.dissenting_models, result.majority_answer

Providers speak each vendor's HTTP API (:mod:`._vendors`); judges decide
whether two answers mean the same (:mod:`._judges`); the consensus clusters
them (:mod:`._consensus`). Results are cached in process or, shared and
signed, in Redis (:mod:`._cache`); a disagreement can open a review item
(:mod:`._review`).
"""

from ._cache import Cache, ResultCache, open_cache
from ._cache_redis import RedisResultCache
from ._consensus import ConsensusResult, ModelResult
from ._errors import (
    ConfigurationError,
    MalformedResponse,
    ProviderError,
    ProviderTimeout,
    RateLimited,
    RemoteError,
    VerifierError,
)
from ._judges import AsyncJudge, DefaultJudge, EmbeddingJudge, Judge, LexicalJudge, LLMJudge
from ._metrics import Metrics
from ._models import parse_model, resolve
from ._provider import Answer, CallSettings, HTTPProvider, Provider
from ._remote import RemoteVerifier
from ._review import Disagreement, ReviewDecision, ReviewDecisions, ReviewSink
from ._vendors import AnthropicMessages, GeminiGenerate, OpenAIChat
from ._verifier import ConsensusVerifier
from ._wire import CMVK_SUBJECT, VERIFIER_RECIPIENT, WORKER_GROUP
from ._worker import VerifierWorker

__all__ = [
    "CMVK_SUBJECT",
    "VERIFIER_RECIPIENT",
    "WORKER_GROUP",
    "Answer",
    "AnthropicMessages",
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
    "RemoteVerifier",
    "ResultCache",
    "ReviewDecision",
    "ReviewDecisions",
    "ReviewSink",
    "VerifierError",
    "VerifierWorker",
    "open_cache",
    "parse_model",
    "resolve",
]
