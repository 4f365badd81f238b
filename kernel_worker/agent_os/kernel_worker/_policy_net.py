"""Network rules: URL host extraction and label-wise domain matching.

A domain rule ``example.com`` covers ``example.com`` and every subdomain
(``api.example.com``), never ``evilexample.com`` or ``example.com.evil.io``:
hosts are compared label by label, not by raw suffix. The host is what a
browser would connect to: ``http://good.com@evil.com`` goes to ``evil.com``,
``http://evil.com\\@good.com`` too (WHATWG treats ``\\`` as ``/``).
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import unquote, urlsplit

__all__ = ["domain_matches", "host_of", "normalise_domain"]

# NFKC maps the full-width dot; these other dots also separate IDNA labels.
_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})
_HOSTNAME = re.compile(
    r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)*"
)
_IPV6 = re.compile(r"[0-9a-f:.]+(?:%[0-9a-z._~-]+)?")


def _canonical_host(host: str) -> str:
    """Lower-case ASCII (punycode) form of ``host``; raises ``ValueError`` if it is not one."""
    if "%" in host:
        host = unquote(host, errors="strict")
    if not host.isascii():
        host = unicodedata.normalize("NFKC", host).translate(_DOTS)
    host = host.casefold().rstrip(".")
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise ValueError(f"invalid international host name: {exc}") from None
    if host.startswith("[") and host.endswith("]") and _IPV6.fullmatch(host[1:-1]):
        return host
    if not host or len(host) > 253 or not _HOSTNAME.fullmatch(host):
        raise ValueError(f"invalid host {host!r}")
    return host


def host_of(value: str) -> str:
    """The host a URL (or bare ``host[:port][/path]``) points at, canonicalised.

    Raises ``ValueError`` when there is no host or it is not a valid host name.
    """
    value = value.strip().replace("\\", "/")
    if "://" not in value and not value.startswith("//"):
        value = "//" + value
    parts = urlsplit(value)
    netloc = parts.netloc.rpartition("@")[2]
    if netloc.startswith("["):
        host = netloc[: netloc.find("]") + 1] if "]" in netloc else netloc
    else:
        host = netloc.partition(":")[0]
    if not host:
        raise ValueError(f"no host in {value!r}")
    return _canonical_host(host)


def normalise_domain(domain: str) -> str:
    """Canonical form of a policy's domain entry (``*.`` / ``.`` prefixes dropped)."""
    domain = domain.strip()
    for prefix in ("*.", "."):
        if domain.startswith(prefix):
            domain = domain[len(prefix) :]
    if any(ch in domain for ch in "/:@?# "):
        raise ValueError(f"not a bare domain name: {domain!r}")
    return _canonical_host(domain)


def domain_matches(host: str, domains: tuple[str, ...]) -> str | None:
    """The first entry of ``domains`` that ``host`` is, or is a subdomain of."""
    for domain in domains:
        if host == domain or (host.endswith(domain) and host[-len(domain) - 1] == "."):
            return domain
    return None
