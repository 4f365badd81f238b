import agent_os.trust

EXPECTED = {
    "AgentIdentity",
    "AsyncNonceStore",
    "AsyncRedisNonceStore",
    "FileTrustStore",
    "JetStreamNonceStore",
    "KeyFileError",
    "MalformedMessage",
    "MemoryNonceStore",
    "MemoryTrustStore",
    "NonceStore",
    "PublicIdentity",
    "RedisChecks",
    "RedisNonceStore",
    "SignedMessage",
    "StrictJSONError",
    "TrustEntry",
    "TrustError",
    "TrustLevel",
    "TrustRegistry",
    "TrustStore",
    "VerificationResult",
    "as_async_nonce_store",
    "reply_bound_request",
    "strict_loads",
}


def test_exported_names_are_pinned() -> None:
    assert set(agent_os.trust.__all__) == EXPECTED
    assert len(agent_os.trust.__all__) == len(EXPECTED)
    for name in EXPECTED:
        assert getattr(agent_os.trust, name).__module__.startswith("agent_os.trust")


def test_error_codes() -> None:
    assert agent_os.trust.TrustError("x").code == "trust_error"
    assert agent_os.trust.KeyFileError("x").code == "key_file"
    assert agent_os.trust.MalformedMessage("x").code == "malformed"
    err = agent_os.trust.TrustError("x", code="store_error", retryable=True)
    assert (err.code, err.retryable) == ("store_error", True)
    assert issubclass(agent_os.trust.KeyFileError, agent_os.trust.TrustError)
    assert not agent_os.trust.MalformedMessage("x").retryable


def test_levels() -> None:
    levels = agent_os.trust.TrustLevel
    assert [int(x) for x in levels] == [0, 1, 2, 3, 4, 5, 6, 7]
    assert [x.name for x in levels] == [
        "NONE", "LOW", "STANDARD", "HIGH", "KERNEL", "ADMIN", "REVIEWER", "AUDITOR",
    ]  # fmt: skip
