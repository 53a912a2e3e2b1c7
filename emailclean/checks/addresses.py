"""IP addresses: which are public, and how a user names a DNS server.

Only public addresses are probed, so that probes never reach private networks.

A mail host's address comes from whoever controls the domain's DNS. Probing
it blindly would let a list entry point our SMTP client at the user's own
network (loopback, the office LAN, a cloud metadata service), so only
globally routable addresses are probed unless the user says otherwise
(`--allow-private-mx`, DESIGN.md §3).

We check an explicit table drawn from the IANA special-purpose address
registries (RFC 6890 and its updates) and, as a second opinion, Python's
`is_global`, whose table differs between Python releases. IPv6 forms that
embed an IPv4 address (mapped, compatible, NAT64, 6to4) are judged by the
IPv4 address they carry, so `::ffff:10.0.0.1` is as private as `10.0.0.1`.
"""

from __future__ import annotations

import ipaddress

from emailclean.errors import UsageError

__all__ = ["is_global_address", "parse_nameserver"]

DNS_PORT = 53  # RFC 1035 §4.2

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

NON_GLOBAL_IPV4 = tuple(
    ipaddress.IPv4Network(network)
    for network in (
        "0.0.0.0/8",  # "this network", RFC 791 §3.2
        "10.0.0.0/8",  # private, RFC 1918
        "100.64.0.0/10",  # carrier-grade NAT, RFC 6598
        "127.0.0.0/8",  # loopback, RFC 1122 §3.2.1.3
        "169.254.0.0/16",  # link-local, RFC 3927
        "172.16.0.0/12",  # private, RFC 1918
        "192.0.0.0/24",  # IETF protocol assignments, RFC 6890
        "192.0.2.0/24",  # documentation, RFC 5737
        "192.88.99.0/24",  # 6to4 relay anycast, deprecated by RFC 7526
        "192.168.0.0/16",  # private, RFC 1918
        "198.18.0.0/15",  # benchmarking, RFC 2544
        "198.51.100.0/24",  # documentation, RFC 5737
        "203.0.113.0/24",  # documentation, RFC 5737
        "224.0.0.0/4",  # multicast, RFC 5771
        "240.0.0.0/4",  # reserved and broadcast, RFC 1112 §4
    )
)

NON_GLOBAL_IPV6 = tuple(
    ipaddress.IPv6Network(network)
    for network in (
        "::/128",  # unspecified, RFC 4291 §2.5.2
        "::1/128",  # loopback, RFC 4291 §2.5.3
        "64:ff9b:1::/48",  # local-use NAT64, RFC 8215
        "100::/64",  # discard-only, RFC 6666
        "2001::/23",  # IETF protocol assignments, RFC 2928
        "2001:db8::/32",  # documentation, RFC 3849
        "3fff::/20",  # documentation, RFC 9637
        "fc00::/7",  # unique local, RFC 4193
        "fe80::/10",  # link-local, RFC 4291 §2.5.6
        "fec0::/10",  # site-local, deprecated by RFC 3879
        "ff00::/8",  # multicast, RFC 4291 §2.7
    )
)

# RFC 6052 §2.1: the well-known NAT64 prefix carries an IPv4 address.
NAT64_PREFIX = ipaddress.IPv6Network("64:ff9b::/96")
# RFC 4291 §2.5.5.1: deprecated "IPv4-compatible" addresses, ::a.b.c.d.
COMPATIBLE_PREFIX = ipaddress.IPv6Network("::/96")


def is_global_address(ip: str) -> bool:
    """True when `ip` is a publicly routable unicast address.

    False for loopback, private (RFC 1918), link-local, CGNAT, ULA,
    unspecified, multicast, reserved and documentation ranges, for the IPv6
    forms that embed such an IPv4 address, and for text that is no address.
    """
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return False

    address = embedded_ipv4(address) or address
    if isinstance(address, ipaddress.IPv4Address):
        table: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
        table = NON_GLOBAL_IPV4
    else:
        table = NON_GLOBAL_IPV6
    if any(address in network for network in table):
        return False
    return address.is_global and not address.is_multicast


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 transition form carries, if any."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:  # ::ffff:a.b.c.d, RFC 4291 §2.5.5.2
        return address.ipv4_mapped
    if address.sixtofour is not None:  # 2002:aabb:ccdd::/48, RFC 3056
        return address.sixtofour

    low_bits = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in NAT64_PREFIX:
        return low_bits
    if address in COMPATIBLE_PREFIX and int(address) > 1:
        return low_bits
    return None


def parse_nameserver(text: str) -> tuple[str, int]:
    """`1.2.3.4`, `1.2.3.4:5353`, `::1`, `[::1]:53` -> (address, port).

    Only IP addresses are accepted: naming the DNS server would need DNS.
    """
    host, port_text = split_host_port(text.strip())
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise UsageError(
            f"--nameserver {text!r}: {host!r} is not an IP address; "
            "give the DNS server as 1.2.3.4, 1.2.3.4:5353 or [::1]:53"
        ) from None

    port = DNS_PORT if port_text is None else parse_port(text, port_text)
    return str(address), port


def split_host_port(spec: str) -> tuple[str, str | None]:
    """Split off a port: `[v6]:port`, `v4:port`; a bare IPv6 has no port."""
    if spec.startswith("["):
        host, bracket, rest = spec[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            return spec, None  # rejected as "not an IP address"
        return host, rest[1:] if rest else None
    if spec.count(":") == 1:
        host, _, port_text = spec.partition(":")
        return host, port_text
    return spec, None


def parse_port(text: str, port_text: str) -> int:
    if port_text.isdigit() and 0 < int(port_text) < 65536:
        return int(port_text)
    raise UsageError(
        f"--nameserver {text!r}: port {port_text!r} must be a number from 1 to 65535"
    )
