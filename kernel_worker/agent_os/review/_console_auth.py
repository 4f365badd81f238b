"""Who is using the console: login tokens or a trusted proxy header, sessions, CSRF.

Two ways to log in, exactly one configured:

* a token file, one ``REVIEWER_ID TOKEN`` per line (``#`` comments); the
  reviewer logs in with their token on the login page (a session cookie
  follows) or sends ``Authorization: Bearer TOKEN``;
* a header set by a reverse proxy that authenticated the user (for example
  ``X-Forwarded-User`` from oauth2-proxy). The console then believes that
  header, so it must only be reachable through that proxy.

Either way the reviewer must be a ``REVIEWER`` in the trust registry. The
session cookie is ``reviewer|expiry|HMAC`` under a key derived from the
console's private key (Ed25519 signatures are deterministic), so sessions
survive a console restart and cannot be forged without that key. Every form
carries a CSRF token: the HMAC of a random cookie value, checked on each POST.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path

from agent_os.trust import AgentIdentity

__all__ = ["Sessions", "load_tokens"]

SESSION_COOKIE = "aos_session"
CSRF_COOKIE = "aos_csrf"
SESSION_SECONDS = 12 * 3600


def load_tokens(path: str | os.PathLike[str]) -> dict[str, str]:
    """``{token: reviewer_id}`` from a token file; refuses short tokens and a file others read."""
    file = Path(path)
    if file.stat().st_mode & 0o077:
        raise ValueError(f"{file} is readable by group or others; chmod 600 it")
    tokens: dict[str, str] = {}
    for number, raw in enumerate(file.read_text("utf-8").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 2:
            raise ValueError(f"{file}:{number}: expected 'REVIEWER_ID TOKEN'")
        reviewer, token = parts
        if len(token) < 16:
            raise ValueError(f"{file}:{number}: token shorter than 16 characters")
        tokens[token] = reviewer
    if not tokens:
        raise ValueError(f"{file} holds no tokens")
    return tokens


class Sessions:
    """Signs and checks session cookies and CSRF tokens with the console's derived key."""

    def __init__(self, identity: AgentIdentity) -> None:
        # Deterministic: the same console key gives the same secret after a restart.
        seed = identity.sign(b"agent-os console session key v1")
        self._key = hashlib.sha256(seed).digest()

    def _mac(self, text: str) -> str:
        return hmac.new(self._key, text.encode(), hashlib.sha256).hexdigest()

    def issue(self, reviewer: str, now: float | None = None) -> str:
        expiry = int((time.time() if now is None else now) + SESSION_SECONDS)
        body = f"{reviewer}|{expiry}"
        return f"{body}|{self._mac('session:' + body)}"

    def reviewer(self, cookie: str | None, now: float | None = None) -> str | None:
        """The reviewer a session cookie names, or ``None`` if it is forged or stale."""
        if not cookie or cookie.count("|") != 2:
            return None
        reviewer, expiry, mac = cookie.split("|")
        if not hmac.compare_digest(mac, self._mac(f"session:{reviewer}|{expiry}")):
            return None
        if not expiry.isdigit() or int(expiry) < (time.time() if now is None else now):
            return None
        return reviewer

    @staticmethod
    def new_nonce() -> str:
        return secrets.token_urlsafe(24)

    def csrf_token(self, nonce: str) -> str:
        return self._mac("csrf:" + nonce)

    def csrf_ok(self, nonce: str | None, token: str | None) -> bool:
        if not nonce or not token:
            return False
        return hmac.compare_digest(token, self.csrf_token(nonce))
