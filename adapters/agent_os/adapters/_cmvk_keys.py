"""The other verifier keys a pool worker trusts for cached results (``--trust-cache-key``).

A shared Redis cache serves an entry only when a key the worker pins signed it
(:class:`~agent_os.verifier.RedisResultCache`): its own, and the public
identities named here. Like the kernel keys an agent pins, they are public
keys given to the worker, not looked up in the agents' registry. Each file holds one public
identity as JSON, the way ``agent-os keygen`` prints it
(``{"agent_id": ..., "public_key": {...}}``) or as the identity alone
(``{"agent_id", "name", "capabilities", "public_key": base64}``).

Everything is checked before the worker starts, and a mistake refuses the
start naming the file (:class:`StartupRefused`, code ``cache_key``): an
unreadable file, one that is no public identity, a private key file (the
other workers' private keys never leave them), one id bound to two keys, an
id or key the agents' registry knows (an agent's, kernel's or reviewer's key
trusted for results would let it write answers the pool serves as its own),
and trusted keys with no shared cache to read.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from agent_os.kernel_worker._startup import StartupRefused
from agent_os.trust import AgentIdentity, PublicIdentity, TrustError, TrustLevel, TrustRegistry

__all__ = ["read_public_identity", "trusted_cache_keys"]

#: Largest public identity file read.
_MAX_FILE = 64 * 1024


def _refuse(path: Path, why: str) -> StartupRefused:
    return StartupRefused("cache_key", f"--trust-cache-key {path}: {why}")


def read_public_identity(path: Path) -> PublicIdentity:
    """The public identity in ``path``; :class:`StartupRefused` saying why not."""
    try:
        with path.open("rb") as file:
            raw = file.read(_MAX_FILE + 1)
    except OSError as exc:
        raise _refuse(path, f"cannot read it ({exc.strerror})") from exc
    if len(raw) > _MAX_FILE:
        raise _refuse(path, "too large for a public identity")
    try:
        data: Any = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise _refuse(path, f"not JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise _refuse(path, "not a public identity (a JSON object)")
    if "seed" in data:
        raise _refuse(
            path,
            "this is a private key file; give the public identity (`agent-os keygen` prints it)",
        )
    inner = data.get("public_key")
    if isinstance(inner, dict):  # agent-os keygen's output
        if data.get("agent_id", inner.get("agent_id")) != inner.get("agent_id"):
            raise _refuse(path, "its two agent ids differ")
        data = inner
    try:
        return PublicIdentity.from_dict(data)
    except (TrustError, KeyError, TypeError, ValueError) as exc:
        raise _refuse(path, f"not a public identity ({exc})") from exc


def trusted_cache_keys(
    paths: Iterable[Path], own: AgentIdentity, registry: TrustRegistry, *, shared: bool
) -> list[PublicIdentity]:
    """The verifier keys in ``paths``, checked (see the module docstring); ``shared`` tells
    whether the worker's cache is one the pool shares."""
    paths = list(paths)
    if not paths:
        return []
    if not shared:
        raise StartupRefused(
            "cache_key",
            "--trust-cache-key trusts other workers' entries in a shared cache: "
            "give --cache redis://... (AGENT_OS_CMVK_CACHE)",
        )
    mine = own.public()
    keys: dict[str, PublicIdentity] = {mine.agent_id: mine}
    known = {e.agent_id: e for e in registry.store.all()}
    known_keys = {e.identity.public_key: e for e in known.values()}
    for path in paths:
        key = read_public_identity(path)
        entry = known.get(key.agent_id) or known_keys.get(key.public_key)
        if entry is not None:
            level = "revoked" if entry.revoked else f"level {TrustLevel(entry.level).name}"
            raise _refuse(
                path,
                f"{key.agent_id!r} (fingerprint {key.fingerprint}) is {entry.agent_id!r} in the "
                f"registry ({level}): a verifier key must be its own, not a registered key",
            )
        seen = keys.get(key.agent_id)
        if seen is not None and seen.public_key != key.public_key:
            raise _refuse(path, f"id {key.agent_id!r} is already bound to another key")
        keys[key.agent_id] = key
    return [key for key in keys.values() if key.agent_id != mine.agent_id]
