"""Network rules over URLs: the domain and address-range half of the structural rules.

A mixin of ``_struct.Structural`` (which holds the compiled rules): URL
fields and the URLs a shell command names are checked here, host by host,
in every reading a URL parser may give (``_net.hosts_of``), address ranges
first ("cloud metadata" says more than "not allowed"). A URL in a URL's
query or fragment (an open redirect's target) meets the address ranges and
blocked domains too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agent_os.policies.analysis._net import addresses_of, domain_matches, embedded_urls, hosts_of

from ._types import Signal

__all__ = ["NetworkChecks"]

Offer = Callable[[int, Signal, str, str, str | None], None]


class NetworkChecks:
    """``check_urls`` for a class holding ``_allowed``, ``_blocked_domains`` and ``_net_rules``."""

    __slots__ = ()

    _allowed: tuple[str, ...] | None
    _blocked_domains: tuple[str, ...]
    _net_rules: tuple[tuple[Any, Any, Any], ...]

    def check_urls(
        self,
        kind: str,
        urls: list[str] | None,
        offer: Offer,
        order: int,
        *,
        lenient: bool = False,
    ) -> None:
        """Domain and address-range rules over ``urls``.

        ``lenient`` (URLs found in shell text) skips strings that are not URLs
        instead of denying them, and never requires a URL.
        """
        allowed = self._allowed
        if not urls:
            if kind == "http_request" and allowed is not None:
                reason = "http_request has no URL"
                offer(order, Signal.SIGKILL, "net:domain-not-allowed", reason, None)
            return
        for url in urls:
            if not url.strip():
                continue
            try:
                hosts = hosts_of(url)
            except ValueError:
                if not lenient:
                    offer(order, Signal.SIGKILL, "net:invalid-url", "URL has no valid host", None)
                continue
            for host in hosts:
                self._check_host(host, offer, order)
            for inner in embedded_urls(url):
                # An open redirect's target is fetched too: the address ranges and blocked
                # domains apply to it (not allowed_domains: a link in a query is not a fetch).
                try:
                    inner_hosts = hosts_of(inner)
                except ValueError:
                    continue
                for host in inner_hosts:
                    self._check_host(host, offer, order, redirected=True)

    def _check_host(self, host: str, offer: Offer, order: int, redirected: bool = False) -> None:
        # Address ranges first: "cloud metadata" says more than "not allowed".
        if self._net_rules:
            addresses = addresses_of(host)
            for rule, ranges, hosts in self._net_rules:
                if (hosts and domain_matches(host, hosts)) or any(
                    address in network
                    for address in addresses
                    for network in ranges
                    if address.version == network.version
                ):
                    offer(order, rule.signal, rule.rule_id, rule.reason, host)
        if self._blocked_domains and domain_matches(host, self._blocked_domains):
            offer(order, Signal.SIGKILL, "net:domain-blocked", "domain is blocked", host)
        if (
            not redirected
            and self._allowed is not None
            and domain_matches(host, self._allowed) is None
        ):
            offer(
                order,
                Signal.SIGKILL,
                "net:domain-not-allowed",
                "domain is not in allowed_domains",
                host,
            )
