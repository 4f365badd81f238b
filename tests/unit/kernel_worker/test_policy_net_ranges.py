"""IP literal parsing, embedded addresses and URL readings (_policy_net)."""

from __future__ import annotations

import ipaddress

import pytest

from agent_os.policies.analysis._net import addresses_of, host_of, hosts_of

META = ipaddress.IPv4Address("169.254.169.254")


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/",
        "http://2852039166/",
        "http://0xa9fea9fe/",
        "http://0251.0376.0251.0376/",
        "http://0xa9.0xfe.0xa9.0xfe/",
        "http://169.254.43518/",
        "http://[::ffff:169.254.169.254]/",
        "http://[::ffff:a9fe:a9fe]/",
        "http://[64:ff9b::a9fe:a9fe]/",
        "http://[2002:a9fe:a9fe::1]/",
        "http://169.254.169.254.nip.io/",
        "http://app-169-254-169-254.sslip.io/",
        "http://a9fea9fe.sslip.io/",
        "http://user:pw@169.254.169.254:8080/",
    ],
)
def test_every_spelling_of_the_metadata_address(url: str) -> None:
    assert any(META in addresses_of(host) for host in hosts_of(url))


@pytest.mark.parametrize("url", ["http://1.2.3.999/", "http://0x7g.1/", "http://1.2.3.4.5/"])
def test_malformed_ipv4_is_not_a_host(url: str) -> None:
    with pytest.raises(ValueError):
        host_of(url)


def test_backslash_gives_both_readings() -> None:
    assert hosts_of("http://good.com\\@evil.com/") == ("good.com", "evil.com")
    assert hosts_of("http://good.com/x") == ("good.com",)


def test_tabs_and_newlines_are_dropped_like_browsers_do() -> None:
    assert host_of("http://ev\til.c\nom/") == "evil.com"


def test_names_have_no_addresses() -> None:
    assert addresses_of("example.com") == ()
    assert addresses_of("1.2.3.4.example.com") == ()
