"""TrustRegistry.verify and the administration around it."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_os.trust import (
    AgentIdentity,
    MemoryNonceStore,
    SignedMessage,
    TrustError,
    TrustLevel,
    TrustRegistry,
    VerificationResult,
)

NOW = 1_700_000_000.0
AGENT = AgentIdentity.from_seed("agent-1", b"\x01" * 32, "Agent", ["read", "sql"])
KERNEL = AgentIdentity.from_seed("kernel-1", b"\x02" * 32)


def _registry(**kwargs: object) -> TrustRegistry:
    reg = TrustRegistry(**kwargs)  # type: ignore[arg-type]
    reg.register(AGENT)
    return reg


def _msg(sender: AgentIdentity = AGENT, *, now: float = NOW, to: str = "kernel") -> SignedMessage:
    return SignedMessage.create(sender, to, {"action": "file_read", "path": "/tmp/x"}, now=now)


def test_valid_message_from_object_and_bytes() -> None:
    reg = _registry()
    msg = _msg()
    for candidate in (msg, msg.to_bytes()):
        result = reg.verify(candidate, now=NOW + 1)
        assert result
        assert result == VerificationResult(
            valid=True,
            reason="ok",
            sender_id="agent-1",
            trust_level=TrustLevel.STANDARD,
            capabilities=frozenset({"read", "sql"}),
        )


def test_default_clock_is_used_when_now_is_omitted() -> None:
    reg = _registry()
    assert reg.verify(SignedMessage.create(AGENT, "kernel", b"x")).valid
    assert reg.verify(_msg(now=NOW)).reason == "stale"


def test_garbage_is_malformed_never_raises() -> None:
    reg = _registry()
    for bad in (b"", b"nonsense", b"AOSM1" + b"\x00" * 100, "a string", None, 42):
        result = reg.verify(bad, now=NOW)  # type: ignore[arg-type]
        assert not result
        assert (result.reason, result.sender_id, result.trust_level) == (
            "malformed",
            None,
            TrustLevel.NONE,
        )


def test_message_object_whose_fields_lie_is_malformed() -> None:
    reg = _registry()
    msg = _msg()
    forged = dataclasses.replace(msg, recipient_id="someone-else")
    assert reg.verify(forged, now=NOW).reason == "malformed"
    forged_content = dataclasses.replace(msg, content=b'{"action":"shell_exec"}')
    assert reg.verify(forged_content, now=NOW).reason == "malformed"
    assert reg.verify(dataclasses.replace(msg, signed_bytes=None), now=NOW).reason == "malformed"  # type: ignore[arg-type]


_WIRE = SignedMessage.create(AGENT, "kernel", {"action": "sql", "q": "select 1"}, now=NOW)
_BYTES = _WIRE.to_bytes()
_REG = _registry()


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=len(_BYTES) - 1), st.integers(1, 255))
def test_any_single_byte_change_is_rejected(index: int, xor: int) -> None:
    assert _REG.verify(_BYTES, now=NOW).valid
    tampered = bytearray(_BYTES)
    tampered[index] ^= xor
    result = _REG.verify(bytes(tampered), now=NOW)
    assert not result.valid
    assert result.reason in {"malformed", "bad_signature", "unknown_agent"}


def test_every_single_byte_position_is_covered() -> None:
    # Exhaustive over positions (hypothesis samples): flip the low bit everywhere.
    for index in range(len(_BYTES)):
        tampered = bytearray(_BYTES)
        tampered[index] ^= 1
        assert not _REG.verify(bytes(tampered), now=NOW).valid, index


def test_truncated_or_extended_bytes_are_rejected() -> None:
    assert not _REG.verify(_BYTES[:-1], now=NOW).valid
    assert _REG.verify(_BYTES + b" ", now=NOW).reason == "bad_signature"


def test_signature_from_another_key_is_bad_signature() -> None:
    reg = _registry()
    impostor = AgentIdentity.from_seed("agent-1", b"\x09" * 32)
    result = reg.verify(_msg(impostor), now=NOW)
    assert (result.valid, result.reason, result.sender_id) == (False, "bad_signature", "agent-1")


def test_raw_signature_cannot_be_lifted_into_a_message() -> None:
    reg = _registry()
    msg = _msg()
    # A raw sign() over the same signed bytes is not a message signature.
    lifted = dataclasses.replace(msg, signature=AGENT.sign(msg.signed_bytes))
    assert reg.verify(lifted.to_bytes(), now=NOW).reason == "bad_signature"


def test_unknown_agent() -> None:
    reg = TrustRegistry()
    result = reg.verify(_msg(), now=NOW)
    assert (result.valid, result.reason, result.sender_id) == (False, "unknown_agent", "agent-1")
    assert reg.level("agent-1") is TrustLevel.NONE
    assert reg.get("agent-1") is None


def test_revoked_agent() -> None:
    reg = _registry()
    msg = _msg()
    assert reg.verify(msg, now=NOW).valid
    reg.revoke("agent-1", "compromised", now=NOW + 5)
    result = reg.verify(msg, now=NOW)
    assert (result.valid, result.reason, result.trust_level) == (False, "revoked", TrustLevel.NONE)
    assert reg.level("agent-1") is TrustLevel.NONE
    entry = reg.get("agent-1")
    assert entry is not None
    assert (entry.revoked, entry.revoked_reason, entry.revoked_at) == (True, "compromised", NOW + 5)
    reg.revoke("agent-1", "again", now=NOW + 9)  # idempotent, keeps the first record
    entry = reg.get("agent-1")
    assert entry is not None and entry.revoked_reason == "compromised"
    with pytest.raises(TrustError) as err:
        reg.register(AGENT)
    assert err.value.code == "revoked"
    with pytest.raises(TrustError) as err:
        reg.rotate("agent-1", KERNEL.public_key)
    assert err.value.code == "revoked"


def test_revoke_unknown_agent_raises() -> None:
    with pytest.raises(TrustError) as err:
        TrustRegistry().revoke("ghost", "x")
    assert err.value.code == "unknown_agent"


def test_rotation() -> None:
    reg = _registry(nonces=MemoryNonceStore())
    new = AgentIdentity.from_seed("agent-1", b"\x03" * 32)
    old_msg = _msg(AGENT)
    reg.rotate("agent-1", new.public_key)
    assert reg.verify(old_msg, now=NOW).reason == "bad_signature"
    result = reg.verify(_msg(new), now=NOW)
    assert result.valid
    assert result.capabilities == frozenset({"read", "sql"})  # kept from the registration
    entry = reg.get("agent-1")
    assert entry is not None
    assert entry.agent_id == "agent-1"
    assert entry.identity.public_key == new.public_key
    assert entry.key_history == (AGENT.fingerprint,)
    reg.rotate("agent-1", new.public_key)  # same key: nothing changes
    assert reg.get("agent-1") == entry
    with pytest.raises(TrustError) as err:
        reg.rotate("agent-1", AGENT.public_key)
    assert err.value.code == "key_conflict"
    with pytest.raises(TrustError) as err:
        reg.rotate("ghost", new.public_key)
    assert err.value.code == "unknown_agent"
    with pytest.raises(TrustError) as err:
        reg.rotate("agent-1", b"short")
    assert err.value.code == "invalid_identity"


def test_register_same_id_with_other_key_is_a_conflict() -> None:
    reg = _registry()
    with pytest.raises(TrustError) as err:
        reg.register(AgentIdentity.from_seed("agent-1", b"\x07" * 32))
    assert err.value.code == "key_conflict"
    assert reg.verify(_msg(), now=NOW).valid


def test_register_again_with_same_key_updates_level() -> None:
    reg = _registry()
    reg.register(AGENT.public(), TrustLevel.HIGH)
    assert reg.level("agent-1") is TrustLevel.HIGH
    assert reg.verify(_msg(), now=NOW).trust_level is TrustLevel.HIGH


@pytest.mark.parametrize(
    ("sent_at", "reason"),
    [
        (NOW - 30.0, "ok"),
        (NOW - 30.001, "stale"),
        (NOW - 3600, "stale"),
        (NOW + 5.0, "ok"),
        (NOW + 5.001, "from_future"),
        (NOW + 3600, "from_future"),
    ],
)
def test_timestamp_window(sent_at: float, reason: str) -> None:
    reg = _registry(max_age=30.0, max_skew=5.0)
    assert reg.verify(_msg(now=sent_at), now=NOW).reason == reason


def test_non_finite_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        _registry().verify(_msg(), now=float("nan"))


def test_replay_is_refused_with_a_nonce_store() -> None:
    reg = _registry(nonces=MemoryNonceStore())
    msg = _msg()
    assert reg.verify(msg.to_bytes(), now=NOW).valid
    again = reg.verify(msg.to_bytes(), now=NOW + 1)
    assert (again.valid, again.reason, again.sender_id) == (False, "replay", "agent-1")
    assert reg.verify(_msg(), now=NOW + 1).valid  # a new message has a new nonce
    # Past max_age the replay is refused as stale even after its nonce expired.
    assert reg.verify(msg, now=NOW + 31).reason == "stale"


def test_without_nonce_store_replays_pass() -> None:
    reg = _registry()
    msg = _msg()
    assert reg.verify(msg, now=NOW).valid
    assert reg.verify(msg, now=NOW).valid


def test_invalid_messages_do_not_burn_their_nonce() -> None:
    reg = _registry(nonces=MemoryNonceStore())
    msg = _msg(to="kernel")
    assert reg.verify(msg, now=NOW, expected_recipient="other").reason == "wrong_recipient"
    assert reg.verify(msg, now=NOW, expected_recipient="kernel").valid


def test_wrong_recipient() -> None:
    reg = _registry()
    msg = _msg(to="kernel")
    assert reg.verify(msg, now=NOW, expected_recipient="kernel").valid
    result = reg.verify(msg, now=NOW, expected_recipient="kernel-2")
    assert (result.valid, result.reason) == (False, "wrong_recipient")


def test_check_order_revoked_before_signature() -> None:
    reg = _registry()
    reg.revoke("agent-1", "x", now=NOW)
    impostor = AgentIdentity.from_seed("agent-1", b"\x09" * 32)
    assert reg.verify(_msg(impostor, now=0.0), now=NOW).reason == "revoked"


def test_agent_pins_kernel_key() -> None:
    agent_side = TrustRegistry(nonces=MemoryNonceStore())
    agent_side.pin(KERNEL.public())
    verdict = SignedMessage.create(KERNEL, "agent-1", {"decision": "allow"}, now=NOW)
    result = agent_side.verify(verdict.to_bytes(), now=NOW, expected_recipient="agent-1")
    assert result.valid and result.trust_level is TrustLevel.KERNEL
    # Someone who can publish on the reply subject but lacks the kernel key:
    forger = AgentIdentity.from_seed("kernel-1", b"\x0a" * 32)
    forged = SignedMessage.create(forger, "agent-1", {"decision": "allow"}, now=NOW)
    assert agent_side.verify(forged, now=NOW).reason == "bad_signature"
    # An agent the pinning side also knows cannot pass as a kernel.
    agent_side.register(AGENT, TrustLevel.HIGH)
    assert agent_side.verify(_msg(to="agent-1"), now=NOW).trust_level < TrustLevel.KERNEL


def test_register_kernel_level_explicitly() -> None:
    reg = TrustRegistry()
    reg.register(KERNEL, TrustLevel.KERNEL)
    assert reg.level("kernel-1") is TrustLevel.KERNEL


def test_result_truthiness() -> None:
    assert VerificationResult(True, "ok")
    assert not VerificationResult(False, "stale")


def test_bad_registry_settings() -> None:
    with pytest.raises(ValueError):
        TrustRegistry(max_age=0)
    with pytest.raises(ValueError):
        TrustRegistry(max_skew=-1)
