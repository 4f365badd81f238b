"""The registry file's document: entries, a monotonic serial and an optional admin signature.

    {"version": 1, "serial": 7, "agents": [...],
     "signature": {"by": "admin-1", "sig": "<base64 Ed25519>"}}

``serial`` grows by one with every write. A reader that has seen serial 7
refuses a file with serial 6: an older copy of the file coming back (a
restored backup, a stale ConfigMap, a copy by hand) cannot undo a revocation.
With a ``signer`` the writer signs ``REGISTRY_DOMAIN`` + the canonical JSON of
the other three fields; a reader given ``trusted_signers`` accepts only a
document signed by one of them, so write access to the file is not enough to
register an agent. Files of the older format (no serial) read as serial 0.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._errors import TrustError
from ._identity import AgentIdentity, PublicIdentity
from ._json import StrictJSONError, strict_loads

FILE_VERSION = 1
REGISTRY_DOMAIN = b"agentos.v1.registry\x00"
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
_TOP_KEYS = frozenset({"version", "serial", "agents", "signature"})


@dataclass(frozen=True)
class RegistryDocument:
    """What one registry file says."""

    agents: list[dict[str, Any]]
    serial: int
    signed_by: str | None = None


def _store_error(path: Path, what: str) -> TrustError:
    return TrustError(f"trust store {path}: {what}", code="store_error")


def _signed_part(serial: int, agents: list[Any]) -> bytes:
    body = {"version": FILE_VERSION, "serial": serial, "agents": agents}
    return REGISTRY_DOMAIN + _CANONICAL.encode(body).encode("utf-8")


def encode_document(
    agents: list[dict[str, Any]], serial: int, signer: AgentIdentity | None = None
) -> bytes:
    """The file's bytes for ``agents`` (entries as dicts) at ``serial``, signed if ``signer``."""
    document: dict[str, Any] = {"version": FILE_VERSION, "serial": serial, "agents": agents}
    if signer is not None:
        signature = signer.sign(_signed_part(serial, agents))
        document["signature"] = {
            "by": signer.agent_id,
            "sig": base64.b64encode(signature).decode("ascii"),
        }
    return json.dumps(document, indent=1).encode("utf-8")


def decode_document(
    raw: bytes, path: Path, trusted_signers: Mapping[str, PublicIdentity] | None = None
) -> RegistryDocument:
    """Parse and check a registry file's bytes; ``TrustError`` ("store_error") if unusable."""
    try:
        data = strict_loads(raw)
    except StrictJSONError as exc:
        raise _store_error(path, f"not strict JSON ({exc.code}): {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("agents"), list):
        raise _store_error(path, "no 'agents' list")
    if extra := data.keys() - _TOP_KEYS:
        raise _store_error(path, f"unknown fields {sorted(extra)}")
    serial = data.get("serial", 0)
    if type(serial) is not int or serial < 0:
        raise _store_error(path, f"'serial' must be a non-negative integer, not {serial!r}")
    signed_by = None
    if trusted_signers is not None:
        signed_by = _check_signature(data, serial, path, trusted_signers)
    if not all(isinstance(item, dict) for item in data["agents"]):
        raise _store_error(path, "bad entry")
    return RegistryDocument(data["agents"], serial, signed_by)


def _check_signature(
    data: Mapping[str, Any], serial: int, path: Path, trusted: Mapping[str, PublicIdentity]
) -> str:
    signature = data.get("signature")
    if not isinstance(signature, dict) or set(signature) != {"by", "sig"}:
        raise _store_error(path, "the registry is not signed, and a signer is required")
    signer = trusted.get(signature["by"]) if isinstance(signature["by"], str) else None
    if signer is None:
        raise _store_error(path, f"signed by {signature['by']!r}, not a trusted registry signer")
    try:
        sig = base64.b64decode(signature["sig"], validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise _store_error(path, "the signature is not base64") from None
    if not signer.verify(_signed_part(serial, data["agents"]), sig):
        raise _store_error(path, f"bad signature by {signer.agent_id!r}")
    return signer.agent_id
