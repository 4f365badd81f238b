"""Ed25519 identities: a private ``AgentIdentity`` and its shareable ``PublicIdentity``.

Key files are JSON holding the 32-byte private seed in base64. They are
written with mode 0600 from the first byte (created with ``O_EXCL`` and mode
0600 in the target directory, then renamed into place) and refused on load if
group or world may read them, like ssh does with private keys.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import re
import secrets
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nacl.exceptions
import nacl.signing

from ._errors import KeyFileError, TrustError

# Ids go into message headers, registries and (elsewhere) bus subjects, so they
# are kept to a small, unambiguous alphabet.
_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}")

#: Prefix of every byte string signed for a ``SignedMessage``. Raw ``sign``
#: refuses data starting with it and raw ``verify`` rejects it, so a signature
#: can move neither into nor out of the message protocol.
MESSAGE_DOMAIN = b"agentos.v1.msg\x00"

_KEY_FILE_VERSION = 1
_MAX_KEY_FILE = 64 * 1024


def valid_id(value: object) -> bool:
    """Whether ``value`` is a usable agent or message id (1-128 chars of ``[A-Za-z0-9._:@-]``)."""
    return isinstance(value, str) and _ID_RE.fullmatch(value) is not None


def _check_id(agent_id: str) -> None:
    if not valid_id(agent_id):
        raise TrustError(
            f"invalid agent id {agent_id!r}: expected 1-128 characters of [A-Za-z0-9._:@-], "
            "starting with a letter or digit",
            code="invalid_identity",
        )


def _capabilities(capabilities: Iterable[str]) -> frozenset[str]:
    # A bare string is an Iterable[str] of its characters: almost always a mistake.
    if isinstance(capabilities, str | bytes):
        raise TypeError("capabilities must be an iterable of strings, not a single string")
    caps = frozenset(capabilities)
    for cap in caps:
        if not isinstance(cap, str) or not cap:
            raise TrustError(f"invalid capability {cap!r}", code="invalid_identity")
    return caps


def fingerprint(public_key: bytes) -> str:
    """Short hex fingerprint of a public key: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(public_key).hexdigest()[:16]


@dataclass(frozen=True)
class PublicIdentity:
    """The public half of an agent identity: what a trust registry stores."""

    agent_id: str
    name: str
    capabilities: frozenset[str]
    public_key: bytes
    _verify_key: nacl.signing.VerifyKey = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        _check_id(self.agent_id)
        if not isinstance(self.name, str):
            raise TrustError("identity name must be a string", code="invalid_identity")
        if not isinstance(self.public_key, bytes) or len(self.public_key) != 32:
            raise TrustError(
                f"public key of {self.agent_id!r} must be 32 raw bytes", code="invalid_identity"
            )
        object.__setattr__(self, "capabilities", _capabilities(self.capabilities))
        object.__setattr__(self, "_verify_key", nacl.signing.VerifyKey(self.public_key))

    @property
    def fingerprint(self) -> str:
        """Short hex fingerprint of the public key."""
        return fingerprint(self.public_key)

    def verify(self, data: bytes, signature: bytes) -> bool:
        """Check a detached signature made by ``AgentIdentity.sign``; never raises."""
        if not isinstance(data, bytes) or data.startswith(MESSAGE_DOMAIN):
            return False
        return self._verify_raw(data, signature)

    def _verify_raw(self, data: bytes, signature: bytes) -> bool:
        if not isinstance(signature, bytes) or len(signature) != 64:
            return False
        try:
            self._verify_key.verify(data, signature)
        except nacl.exceptions.BadSignatureError:
            return False
        return True

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; the public key is base64."""
        return {
            "agent_id": self.agent_id,
            "name": self.name,
            "capabilities": sorted(self.capabilities),
            "public_key": base64.b64encode(self.public_key).decode("ascii"),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PublicIdentity:
        """Inverse of ``to_dict``; raises ``TrustError`` (code "invalid_identity")."""
        try:
            caps = data.get("capabilities", [])
            if not isinstance(caps, list):
                raise TypeError("capabilities must be a list")
            key = base64.b64decode(data["public_key"], validate=True)
            return cls(
                agent_id=data["agent_id"],
                name=data.get("name", ""),
                capabilities=frozenset(caps),
                public_key=key,
            )
        except TrustError:
            raise
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            raise TrustError(f"invalid identity record: {exc!r}", code="invalid_identity") from exc


class AgentIdentity:
    """An agent's private Ed25519 identity. Never put it on the wire: share ``public()``."""

    __slots__ = ("_public", "_signing_key")

    def __init__(
        self,
        agent_id: str,
        signing_key: nacl.signing.SigningKey,
        name: str = "",
        capabilities: Iterable[str] = (),
    ) -> None:
        self._signing_key = signing_key
        self._public = PublicIdentity(
            agent_id=agent_id,
            name=name,
            capabilities=_capabilities(capabilities),
            public_key=bytes(signing_key.verify_key),
        )

    @classmethod
    def create(
        cls, agent_id: str, name: str = "", capabilities: Iterable[str] = ()
    ) -> AgentIdentity:
        """A new identity with a fresh random key."""
        return cls(agent_id, nacl.signing.SigningKey.generate(), name, capabilities)

    @classmethod
    def from_seed(
        cls, agent_id: str, seed: bytes, name: str = "", capabilities: Iterable[str] = ()
    ) -> AgentIdentity:
        """A deterministic identity from a 32-byte seed (tests, keys from a secret store)."""
        if not isinstance(seed, bytes) or len(seed) != 32:
            raise TrustError("seed must be 32 bytes", code="invalid_identity")
        return cls(agent_id, nacl.signing.SigningKey(seed), name, capabilities)

    @property
    def agent_id(self) -> str:
        return self._public.agent_id

    @property
    def name(self) -> str:
        return self._public.name

    @property
    def capabilities(self) -> frozenset[str]:
        return self._public.capabilities

    @property
    def public_key(self) -> bytes:
        """The 32 raw bytes of the Ed25519 public key."""
        return self._public.public_key

    @property
    def fingerprint(self) -> str:
        return self._public.fingerprint

    def public(self) -> PublicIdentity:
        """The shareable public half."""
        return self._public

    def sign(self, data: bytes) -> bytes:
        """A 64-byte detached Ed25519 signature over ``data``.

        Data starting with the message-signing prefix is refused (code
        "reserved_domain") so a raw signature can never pass as a message.
        """
        if data.startswith(MESSAGE_DOMAIN):
            raise TrustError(
                "refusing to sign data in the reserved message domain", code="reserved_domain"
            )
        return self._sign_raw(data)

    def _sign_raw(self, data: bytes) -> bytes:
        return bytes(self._signing_key.sign(data).signature)

    def __repr__(self) -> str:
        return f"AgentIdentity(agent_id={self.agent_id!r}, fingerprint={self.fingerprint!r})"

    # -- key files ---------------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> None:
        """Write a JSON key file with mode 0600, atomically.

        The file is created under a temporary name with ``O_EXCL`` and mode
        0600 before any secret is written, then renamed into place, so the seed
        is never readable by others even for a moment. An existing file is
        refused unless ``overwrite`` is true.
        """
        target = Path(path)
        body = json.dumps(
            {
                "version": _KEY_FILE_VERSION,
                "agent_id": self.agent_id,
                "name": self.name,
                "capabilities": sorted(self.capabilities),
                "public_key": base64.b64encode(self.public_key).decode("ascii"),
                "seed": base64.b64encode(bytes(self._signing_key)).decode("ascii"),
            },
            indent=2,
        ).encode("utf-8")
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(8)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except OSError as exc:
            raise KeyFileError(f"cannot create key file next to {target}: {exc}") from exc
        try:
            with os.fdopen(fd, "wb") as f:
                os.fchmod(f.fileno(), 0o600)  # the umask may only clear bits; be explicit
                f.write(body)
                f.flush()
                os.fsync(f.fileno())
            if overwrite:
                os.replace(tmp, target)
            else:
                # link() fails if the target exists: no check-then-write race.
                os.link(tmp, target)
        except FileExistsError as exc:
            raise KeyFileError(f"key file {target} already exists (pass overwrite=True)") from exc
        except OSError as exc:
            raise KeyFileError(f"cannot write key file {target}: {exc}") from exc
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> AgentIdentity:
        """Read a key file written by ``save``.

        Raises ``KeyFileError`` naming the path if it is not a regular file,
        if its mode lets group or others read or write it (``mode & 0o077``),
        or if its content is not a valid key file.
        """
        target = Path(path)
        try:
            # O_NONBLOCK so a FIFO planted at the path cannot hang us before the check.
            fd = os.open(target, os.O_RDONLY | os.O_NONBLOCK)
        except OSError as exc:
            raise KeyFileError(f"cannot open key file {target}: {exc.strerror}") from exc
        try:
            st = os.fstat(fd)  # checks the file we actually opened, not the path
            if not stat.S_ISREG(st.st_mode):
                raise KeyFileError(f"key file {target} is not a regular file")
            mode = stat.S_IMODE(st.st_mode)
            if mode & 0o077:
                raise KeyFileError(
                    f"key file {target} has mode {mode:04o}: group/other must have no access "
                    f"(chmod 600 {target})"
                )
            if st.st_size > _MAX_KEY_FILE:
                raise KeyFileError(f"key file {target} is too large ({st.st_size} bytes)")
            raw = os.read(fd, _MAX_KEY_FILE + 1)
        except OSError as exc:
            raise KeyFileError(f"cannot read key file {target}: {exc.strerror}") from exc
        finally:
            os.close(fd)
        return cls._from_key_file(target, raw)

    @classmethod
    def _from_key_file(cls, target: Path, raw: bytes) -> AgentIdentity:
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise KeyFileError(f"key file {target} is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise KeyFileError(f"key file {target} must hold a JSON object")
        missing = [k for k in ("agent_id", "seed") if k not in data]
        if missing:
            raise KeyFileError(f"key file {target} lacks field(s): {', '.join(missing)}")
        if data.get("version", _KEY_FILE_VERSION) != _KEY_FILE_VERSION:
            raise KeyFileError(f"key file {target} has unsupported version {data['version']!r}")
        try:
            seed = base64.b64decode(data["seed"], validate=True)
        except (TypeError, ValueError, binascii.Error) as exc:
            raise KeyFileError(f"key file {target}: seed is not base64") from exc
        caps = data.get("capabilities", [])
        if not isinstance(caps, list):
            raise KeyFileError(f"key file {target}: capabilities must be a list")
        try:
            identity = cls.from_seed(data["agent_id"], seed, data.get("name", ""), caps)
        except (TrustError, TypeError) as exc:
            raise KeyFileError(f"key file {target}: {exc}") from exc
        recorded = data.get("public_key")
        if recorded is not None and recorded != base64.b64encode(identity.public_key).decode():
            raise KeyFileError(f"key file {target}: public_key does not match the seed")
        return identity
