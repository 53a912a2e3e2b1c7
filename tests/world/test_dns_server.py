"""The loopback DNS server answers real DNS messages as the tests expect."""

from __future__ import annotations

import asyncio
import time

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from tests.world.dns_server import DnsServer, Query, Zone

ZONE = (
    Zone()
    .mx("acme-mail.com", [(10, "mx1.acme-mail.com"), (20, "mx2.acme-mail.com")])
    .a("mx1.acme-mail.com", "127.0.0.2")
    .cname("www.acme-mail.com", "mx1.acme-mail.com")
    .txt("quiet-corp.net")
    .servfail("broken-dns.org")
    .refused("refusing-dns.org")
    .truncate("big-answers.net")
    .mx("big-answers.net", [(10, "mx.big-answers.net")])
)


def ask_udp(server: DnsServer, name: str, rdtype: str) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype)
    return dns.query.udp(query, server.host, timeout=2, port=server.port)


def ask_tcp(server: DnsServer, name: str, rdtype: str) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype)
    return dns.query.tcp(query, server.host, timeout=2, port=server.port)


def test_dns_server_mx_over_udp_answers_records(dns_server: DnsServer) -> None:
    dns_server.set_zone(ZONE)

    response = ask_udp(dns_server, "acme-mail.com", "MX")

    assert response.rcode() == dns.rcode.NOERROR
    assert sorted(str(r) for r in response.answer[0]) == [
        "10 mx1.acme-mail.com.",
        "20 mx2.acme-mail.com.",
    ]


def test_dns_server_same_port_over_tcp_answers(dns_server: DnsServer) -> None:
    dns_server.set_zone(ZONE)

    response = ask_tcp(dns_server, "mx1.acme-mail.com", "A")

    assert [str(r) for r in response.answer[0]] == ["127.0.0.2"]
    assert dns_server.queries[-1].transport == "tcp"


@pytest.mark.parametrize(
    ("name", "rdtype", "rcode", "has_answer"),
    [
        pytest.param("nxdomain-corp.net", "MX", "NXDOMAIN", False, id="nxdomain"),
        pytest.param("quiet-corp.net", "MX", "NOERROR", False, id="nodata"),
        pytest.param("broken-dns.org", "MX", "SERVFAIL", False, id="servfail"),
        pytest.param("refusing-dns.org", "A", "REFUSED", False, id="refused"),
        pytest.param("www.acme-mail.com", "A", "NOERROR", True, id="cname"),
    ],
)
def test_dns_server_rcodes_match_table(
    dns_server: DnsServer, name: str, rdtype: str, rcode: str, has_answer: bool
) -> None:
    dns_server.set_zone(ZONE)

    response = ask_udp(dns_server, name, rdtype)

    assert dns.rcode.to_text(response.rcode()) == rcode
    assert bool(response.answer) is has_answer


def test_dns_server_nodata_carries_soa(dns_server: DnsServer) -> None:
    dns_server.set_zone(ZONE)

    response = ask_udp(dns_server, "quiet-corp.net", "MX")

    assert response.authority[0].rdtype == dns.rdatatype.SOA


def test_dns_server_cname_is_chased_within_table(dns_server: DnsServer) -> None:
    dns_server.set_zone(ZONE)

    response = ask_udp(dns_server, "www.acme-mail.com", "A")

    assert [rrset.rdtype for rrset in response.answer] == [
        dns.rdatatype.CNAME,
        dns.rdatatype.A,
    ]


def test_dns_server_truncate_sets_tc_on_udp_only(dns_server: DnsServer) -> None:
    dns_server.set_zone(ZONE)

    over_udp = ask_udp(dns_server, "big-answers.net", "MX")
    over_tcp = ask_tcp(dns_server, "big-answers.net", "MX")

    assert over_udp.flags & dns.flags.TC and not over_udp.answer
    assert not over_tcp.flags & dns.flags.TC and over_tcp.answer


def test_dns_server_large_answer_truncates_without_edns(
    dns_server: DnsServer,
) -> None:
    hosts = [(10, f"mx{n}.many-hosts-mail.com") for n in range(60)]
    dns_server.set_zone(Zone().mx("many-hosts-mail.com", hosts))

    response = ask_udp(dns_server, "many-hosts-mail.com", "MX")

    assert response.flags & dns.flags.TC


def test_dns_server_silent_name_never_answers(dns_server: DnsServer) -> None:
    dns_server.set_zone(Zone().silent("quiet-dns.org"))

    with pytest.raises(dns.exception.Timeout):
        query = dns.message.make_query("quiet-dns.org", "MX")
        dns.query.udp(query, dns_server.host, timeout=0.2, port=dns_server.port)


def test_dns_server_count_tracks_name_and_type(dns_server: DnsServer) -> None:
    dns_server.set_zone(ZONE)

    ask_udp(dns_server, "acme-mail.com", "MX")
    ask_udp(dns_server, "ACME-mail.com.", "MX")
    ask_udp(dns_server, "acme-mail.com", "A")

    assert dns_server.count("acme-mail.com") == 3
    assert dns_server.count("acme-mail.com", "MX") == 2
    assert dns_server.count("mx1.acme-mail.com") == 0
    assert dns_server.queries[0] == Query("acme-mail.com", "MX", "udp")


def test_dns_server_idn_zone_answers_a_label(dns_server: DnsServer) -> None:
    dns_server.set_zone(Zone().mx("münchen.de", [(10, "mx.xn--mnchen-3ya.de")]))

    response = ask_udp(dns_server, "xn--mnchen-3ya.de", "MX")

    assert response.answer


def test_dns_server_delays_do_not_block_each_other() -> None:
    zone = Zone()
    for n in range(200):
        zone.mx(f"shop{n}-mail.com", [(10, f"mx.shop{n}-mail.com")])

    with DnsServer(zone, delay=0.2) as server:
        started = time.monotonic()
        asyncio.run(ask_many(server, 200))
        elapsed = time.monotonic() - started

    assert elapsed < 1.5


async def ask_many(server: DnsServer, count: int) -> None:
    async def ask(n: int) -> None:
        query = dns.message.make_query(f"shop{n}-mail.com", "MX")
        response = await dns.asyncquery.udp(
            query, server.host, timeout=3, port=server.port
        )
        assert response.answer

    await asyncio.gather(*(ask(n) for n in range(count)))
