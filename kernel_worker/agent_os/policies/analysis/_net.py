"""Network rules: URL host extraction and label-wise domain matching.

A domain rule ``example.com`` covers ``example.com`` and every subdomain
(``api.example.com``), never ``evilexample.com`` or ``example.com.evil.io``:
hosts are compared label by label, not by raw suffix. The host is what a
browser would connect to: ``http://good.com@evil.com`` goes to ``evil.com``,
``http://evil.com\\@good.com`` too (WHATWG treats ``\\`` as ``/``). Where URL
parsers disagree (a non-WHATWG client reads ``a.com\\@b.com`` as host
``b.com``), :func:`hosts_of` returns every reading and the engine judges all.

IPv4 literals are parsed the WHATWG way (``2130706433``, ``0x7f.1``,
``0177.0.0.1`` are all ``127.0.0.1``; a malformed one is not a host), and
:func:`addresses_of` also finds the IPv4 address inside an IPv6 one
(``[::ffff:127.0.0.1]``, 6to4, NAT64, Teredo) and inside wildcard-DNS names
(``127.0.0.1.nip.io``, ``7f000001.sslip.io``), so a range rule
(:data:`NAMED_NETWORKS`: ``metadata``, ``link-local``, ``loopback``,
``private``, ``unspecified``) sees through the spelling.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from urllib.parse import unquote, urlsplit

__all__ = [
    "NAMED_HOSTS",
    "NAMED_NETWORKS",
    "addresses_of",
    "domain_matches",
    "embedded_urls",
    "host_of",
    "hosts_of",
    "normalise_domain",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Address ranges a ``blocked_networks`` entry may name.
NAMED_NETWORKS: dict[str, tuple[str, ...]] = {
    # AWS / GCP / Azure / OCI IMDS, ECS task metadata, Alibaba, AWS IPv6 IMDS.
    "metadata": (
        "169.254.169.254/32",
        "169.254.170.2/32",
        "169.254.170.23/32",
        "100.100.100.200/32",
        "fd00:ec2::254/128",
        "fd00:ec2::23/128",
        "192.0.0.192/32",  # Oracle Cloud's legacy metadata address
    ),
    "link-local": ("169.254.0.0/16", "fe80::/10"),
    "loopback": ("127.0.0.0/8", "::1/128"),
    "private": ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7"),
    "unspecified": ("0.0.0.0/8", "::/128"),
}
#: Host names (and their subdomains) that always point into a named range.
NAMED_HOSTS: dict[str, tuple[str, ...]] = {
    "metadata": ("metadata.google.internal", "metadata", "instance-data", "metadata.goog"),
    "loopback": ("localhost", "localtest.me", "lvh.me"),
    # Names that only resolve inside a private network: Kubernetes service DNS
    # (kubernetes.default.svc, *.svc.cluster.local), the reserved .internal TLD,
    # RFC 8375 home.arpa, mDNS .local, and the conventional localdomain.
    "private": ("svc", "cluster.local", "internal", "home.arpa", "local", "localdomain"),
}
# Wildcard DNS services that resolve a name to the address written in it.
_IP_DNS = ("nip.io", "sslip.io", "xip.io", "traefik.me", "nip.direct")
_IP_DNS_DOTTED = tuple("." + suffix for suffix in _IP_DNS)
_HEX = re.compile(r"0x[0-9a-f]*")
_NIP_DASHED = re.compile(r"(?:^|-)(\d{1,3})-(\d{1,3})-(\d{1,3})-(\d{1,3})$")
_NIP_HEX = re.compile(r"(?:^|-)([0-9a-f]{8})$")
_STRIP = str.maketrans("", "", "\t\n\r")

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
        try:
            address = ipaddress.IPv6Address(host[1:-1].partition("%")[0])
        except ValueError:
            raise ValueError(f"invalid IPv6 address {host!r}") from None
        return f"[{address.compressed}]"
    if not host or len(host) > 253 or not _HOSTNAME.fullmatch(host):
        raise ValueError(f"invalid host {host!r}")
    ipv4 = _parse_ipv4(host)
    return host if ipv4 is None else str(ipv4)


def _ipv4_part(label: str) -> int | None:
    if _HEX.fullmatch(label):
        return int(label[2:] or "0", 16)
    if not label.isdigit() or not label.isascii():
        return None
    if len(label) > 1 and label.startswith("0"):
        return int(label, 8) if all(c in "01234567" for c in label) else None
    return int(label)


def _parse_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """WHATWG IPv4 parsing: ``None`` if ``host`` is a name; ``ValueError`` if malformed."""
    labels = host.split(".")
    last = labels[-1]
    if not ((last.isdigit() and last.isascii()) or _HEX.fullmatch(last)):
        return None  # does not end in a number: a domain name
    parts = [_ipv4_part(label) for label in labels]
    if len(parts) > 4 or any(p is None for p in parts):
        raise ValueError(f"invalid IPv4 address {host!r}")
    numbers = [p for p in parts if p is not None]
    if any(n > 255 for n in numbers[:-1]) or numbers[-1] >= 256 ** (5 - len(numbers)):
        raise ValueError(f"IPv4 address out of range: {host!r}")
    value = numbers[-1]
    for index, number in enumerate(numbers[:-1]):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def addresses_of(host: str) -> tuple[IPAddress, ...]:
    """IP addresses a canonical host denotes without DNS: literals, embedded IPv4, nip.io."""
    if host.startswith("["):
        v6 = ipaddress.IPv6Address(host[1:-1])
        out: list[IPAddress] = [v6]
        value = int(v6)
        if v6.ipv4_mapped is not None:
            out.append(v6.ipv4_mapped)
        if v6.sixtofour is not None:
            out.append(v6.sixtofour)
        if v6.teredo is not None:
            out.append(v6.teredo[1])
        if value >> 32 == 0x64FF9B << 64 or (value >> 32 == 0 and value > 1):
            out.append(ipaddress.IPv4Address(value & 0xFFFFFFFF))  # NAT64, IPv4-compatible
        return tuple(out)
    # Dotted-quad text ends in a digit; a name would only raise (costly) below.
    if host[-1:].isdigit():
        try:
            return (ipaddress.IPv4Address(host),)
        except ValueError:
            pass
    if host.endswith(_IP_DNS_DOTTED):
        for suffix in _IP_DNS_DOTTED:
            if host.endswith(suffix):
                return _nip(host[: -len(suffix)])
    return ()


def _nip(prefix: str) -> tuple[IPAddress, ...]:
    labels = prefix.split(".")
    if len(labels) >= 4:
        try:
            return (ipaddress.IPv4Address(".".join(labels[-4:])),)
        except ValueError:
            pass
    dashed = _NIP_DASHED.search(labels[-1])
    if dashed:
        try:
            return (ipaddress.IPv4Address(".".join(dashed.groups())),)
        except ValueError:
            return ()
    hexed = _NIP_HEX.search(labels[-1])
    if hexed:
        return (ipaddress.IPv4Address(int(hexed.group(1), 16)),)
    return ()


def host_of(value: str) -> str:
    """The host a URL (or bare ``host[:port][/path]``) points at, canonicalised.

    Raises ``ValueError`` when there is no host or it is not a valid host name.
    """
    value = value.strip().translate(_STRIP).replace("\\", "/")
    return _host(value)


def hosts_of(value: str) -> tuple[str, ...]:
    """Every host a URL may reach under the URL parsers in use (WHATWG first).

    Raises ``ValueError`` when the WHATWG reading has no valid host.
    """
    first = host_of(value)
    if "\\" not in value:
        return (first,)
    try:
        other = _host(value.strip().translate(_STRIP))
    except ValueError:
        return (first,)
    return (first,) if other == first else (first, other)


_EMBEDDED = re.compile(r"(?i)(?:https?|ftp|wss?|gopher|dict|file)://[^\s&#'\"<>]+")


def embedded_urls(value: str) -> list[str]:
    """URLs inside ``value``'s query or fragment, percent-decoded (an open redirect's
    target: ``https://redirector.example/to?url=http://169.254.169.254/``); at most 4."""
    start = value.find("://")
    rest = value[start + 3 :] if start >= 0 else value
    if "?" not in rest and "#" not in rest:
        return []
    tail = rest[min(i for i in (rest.find("?"), rest.find("#")) if i >= 0) :]
    for _ in range(3):  # %253A: encoded twice
        if "%" not in tail:
            break
        tail = unquote(tail)
    if "://" not in tail:
        return []
    return [found.group(0) for _, found in zip(range(4), _EMBEDDED.finditer(tail), strict=False)]


def _host(value: str) -> str:
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
