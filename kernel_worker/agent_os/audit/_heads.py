"""Signed chain heads: truncation and recomputation caught without ``--expect-head``.

Someone who can write to the audit store can cut the chain's tail, or change
a record and reseal every hash after it: the chain alone still verifies.
So the sink signs its chain head — ``(seq, hash)`` — with its own key every
few seconds and at shutdown, and appends it to a head log kept apart from
the store (another volume, other permissions). ``agent-os audit verify
--heads FILE --registry FILE`` then checks each head's signature against the
registry's auditor, kernel and admin keys, and that the chain still holds that record
with that hash: a cut chain lacks it, a resealed one has another hash.

The log is JSON lines; each line is one :class:`SignedHead`.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from agent_os.trust import AgentIdentity, MalformedMessage, TrustLevel, TrustRegistry, strict_loads

from ._errors import AuditError

HEAD_DOMAIN = b"agentos.v1.audit-head\x00"
# AUDITOR is the sink's own role (heads only); KERNEL and ADMIN keys signed heads before it.
_HEAD_LEVELS = (TrustLevel.AUDITOR, TrustLevel.KERNEL, TrustLevel.ADMIN)


@dataclass(frozen=True)
class SignedHead:
    """The chain's head at ``seq`` (with ``hash``) as ``signer`` saw it at ``ts``."""

    seq: int
    hash: str
    signer: str
    ts: float
    signature: str  # base64 Ed25519 over HEAD_DOMAIN + "<seq>:<hash>:<signer>:<ts>"

    def payload(self) -> bytes:
        return HEAD_DOMAIN + f"{self.seq}:{self.hash}:{self.signer}:{self.ts!r}".encode()

    @classmethod
    def sign(
        cls, signer: AgentIdentity, seq: int, digest: str, now: float | None = None
    ) -> SignedHead:
        """A head signed by ``signer``."""
        unsigned = cls(seq, digest, signer.agent_id, time.time() if now is None else now, "")
        sig = base64.b64encode(signer.sign(unsigned.payload())).decode("ascii")
        return cls(seq, digest, signer.agent_id, unsigned.ts, sig)

    def verified_by(self, registry: TrustRegistry) -> bool:
        """Whether an auditor, kernel or admin key of ``registry`` signed this head."""
        entry = registry.get(self.signer)
        if entry is None or entry.revoked or entry.level not in _HEAD_LEVELS:
            return False
        try:
            sig = base64.b64decode(self.signature, validate=True)
        except (binascii.Error, ValueError):
            return False
        return entry.identity.verify(self.payload(), sig)


class HeadLog:
    """An append-only file of signed heads."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def append(self, head: SignedHead) -> None:
        """Add ``head`` and make it durable before returning."""
        line = json.dumps(asdict(head), separators=(",", ":")).encode() + b"\n"
        with open(self.path, "ab") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())

    def read(self) -> list[SignedHead]:
        """Every head in the log; ``AuditError`` ("bad_head_log") if a line is not one."""
        try:
            raw = self.path.read_bytes()
        except OSError as exc:
            raise AuditError(
                f"cannot read head log {self.path}: {exc}", code="bad_head_log"
            ) from exc
        heads = []
        for n, line in enumerate(raw.splitlines(), 1):
            if not line.strip():
                continue
            try:
                data = strict_loads(line)
                heads.append(
                    SignedHead(
                        int(data["seq"]), str(data["hash"]), str(data["signer"]),
                        float(data["ts"]), str(data["signature"]),
                    )
                )  # fmt: skip
            except (MalformedMessage, KeyError, TypeError, ValueError) as exc:
                raise AuditError(
                    f"head log {self.path} line {n} is not a signed head: {exc}",
                    code="bad_head_log",
                ) from None
        return heads


def trusted_heads(
    heads: Sequence[SignedHead], registry: TrustRegistry
) -> tuple[list[tuple[int, str]], list[SignedHead]]:
    """The ``(seq, hash)`` of heads that verify, and the heads that do not."""
    good = [(h.seq, h.hash) for h in heads if h.verified_by(registry)]
    bad = [h for h in heads if not h.verified_by(registry)]
    return good, bad
