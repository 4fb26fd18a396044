"""Where a webhook may be sent: public addresses only, unless the operator allows more
(server-side request forgery; equipment.domain.notifications.destination_allowed)."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from equipment.domain.notifications import (
    NO_PRIVATE,
    Allowance,
    allowance,
    destination_allowed,
    public_address,
)

REFUSED = [
    "127.0.0.1",
    "127.8.9.10",
    "0.0.0.0",
    "10.0.0.5",
    "172.16.3.4",
    "192.168.1.1",
    "169.254.169.254",  # the cloud metadata service
    "100.100.100.200",  # Alibaba Cloud's metadata service (shared address space)
    "100.64.0.1",
    "224.0.0.1",  # multicast
    "255.255.255.255",
    "198.18.0.1",  # benchmarking
    "192.0.2.1",  # documentation
    "::1",
    "::",
    "fe80::1%eth0",  # link-local with a zone
    "fd00:ec2::254",  # AWS's IPv6 metadata service (unique local)
    "::ffff:127.0.0.1",  # loopback mapped into IPv6
    "::ffff:10.0.0.1",
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "ff02::1",
]
PUBLIC = ["8.8.8.8", "223.5.5.5", "114.114.114.114", "2400:3200::1", "::ffff:8.8.8.8"]


@pytest.mark.parametrize("address", REFUSED)
def test_non_public_addresses_are_refused_by_default(address):
    assert not public_address(address)
    assert not destination_allowed("hooks.example.cn", address, NO_PRIVATE)


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address):
    assert public_address(address)
    assert destination_allowed("hooks.example.cn", address, NO_PRIVATE)


def test_the_allowance_names_networks_hosts_or_everything():
    allow = allowance([" 10.8.0.0/16", "SMS-GW.bureau.internal.", "", "127.0.0.1"])
    assert allow == Allowance(
        False,
        (ipaddress.ip_network("10.8.0.0/16"), ipaddress.ip_network("127.0.0.1/32")),
        frozenset({"sms-gw.bureau.internal"}),
    )
    assert destination_allowed("a.example", "10.8.3.4", allow)
    assert not destination_allowed("a.example", "10.9.3.4", allow)
    assert destination_allowed("a.example", "127.0.0.1", allow)
    assert destination_allowed("a.example", "::ffff:127.0.0.1", allow)  # the same address
    assert not destination_allowed("a.example", "127.0.0.2", allow)
    assert not destination_allowed("a.example", "169.254.169.254", allow)
    # A named host is allowed whatever it resolves to; only that host.
    assert destination_allowed("sms-gw.bureau.internal", "192.168.5.5", allow)
    assert destination_allowed("SMS-GW.Bureau.Internal.", "192.168.5.5", allow)
    assert not destination_allowed("other.bureau.internal", "192.168.5.5", allow)
    for word in ("*", "all", "1", "true"):
        assert destination_allowed("x", "169.254.169.254", allowance([word]))


@given(st.ip_addresses())
def test_the_default_allows_exactly_the_global_unicast_addresses(ip):
    unmapped = ip.ipv4_mapped if ip.version == 6 and ip.ipv4_mapped else ip
    expected = unmapped.is_global and not unmapped.is_multicast
    if ip.version == 6 and (ip.sixtofour or ip.teredo):
        inner = ip.sixtofour or ip.teredo[1]
        expected = inner.is_global and not inner.is_multicast
    assert destination_allowed("h.example", str(ip), NO_PRIVATE) is expected
    # Allowing everything allows every address.
    assert destination_allowed("h.example", str(ip), allowance(["*"]))
