"""The DNS layer against a real DNS server on loopback (no mocks)."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emailclean.checks import dns as dns_layer
from emailclean.checks.dns import (
    DomainResolver,
    ResolverSettings,
    is_global_address,
    parse_nameserver,
)
from emailclean.errors import UsageError
from emailclean.models import DomainOutcome, MailHost, Reason, Status
from tests.world.dns_server import DnsServer, Zone, free_udp_port

T = TypeVar("T")

PUBLIC_1 = "93.184.216.34"
PUBLIC_2 = "151.101.1.69"
PUBLIC_V6 = "2a04:4e42::81"


def settings_for(*servers: DnsServer, **options: Any) -> ResolverSettings:
    options.setdefault("timeout", 1.0)
    nameservers = tuple((server.host, server.port) for server in servers)
    return ResolverSettings(nameservers=nameservers, **options)


def with_resolver(
    settings: ResolverSettings, use: Callable[[DomainResolver], Awaitable[T]]
) -> T:
    async def run() -> T:
        resolver = DomainResolver(settings)
        try:
            return await use(resolver)
        finally:
            await resolver.aclose()

    return asyncio.run(run())


def resolve(server: DnsServer, domain: str, **options: Any) -> DomainOutcome:
    settings = settings_for(server, **options)
    return with_resolver(settings, lambda resolver: resolver.resolve_domain(domain))


def host_names(outcome: DomainOutcome) -> list[str]:
    return [host.name for host in outcome.mail_hosts]


# --- mail hosts found ------------------------------------------------------


def test_resolve_domain_mx_hosts_in_preference_then_name_order(
    dns_server: DnsServer,
) -> None:
    dns_server.set_zone(
        Zone()
        .mx(
            "acme-mail.com",
            [
                (20, "mx-b.acme-mail.com"),
                (10, "mx-z.acme-mail.com"),
                (20, "mx-a.acme-mail.com"),
            ],
        )
        .a("mx-a.acme-mail.com", PUBLIC_1)
        .a("mx-b.acme-mail.com", PUBLIC_2)
        .a("mx-z.acme-mail.com", PUBLIC_1, PUBLIC_2)
    )

    outcome = resolve(dns_server, "acme-mail.com")

    assert outcome.reason is None
    first = outcome.mail_hosts[0]
    assert (first.name, first.preference) == ("mx-z.acme-mail.com", 10)
    assert sorted(first.addresses) == sorted((PUBLIC_1, PUBLIC_2))
    assert outcome.mail_hosts[1:] == (
        MailHost("mx-a.acme-mail.com", 20, (PUBLIC_1,)),
        MailHost("mx-b.acme-mail.com", 20, (PUBLIC_2,)),
    )
    assert outcome.message == (
        "acme-mail.com has 3 mail hosts: mx-z.acme-mail.com (10), "
        "mx-a.acme-mail.com (20), mx-b.acme-mail.com (20)"
    )


def test_resolve_domain_no_mx_but_address_is_implicit_mx(
    dns_server: DnsServer,
) -> None:
    dns_server.set_zone(Zone().a("plainhost-corp.net", PUBLIC_1))

    outcome = resolve(dns_server, "plainhost-corp.net")

    assert outcome.reason is None
    assert outcome.mail_hosts == (MailHost("plainhost-corp.net", 0, (PUBLIC_1,)),)
    assert "implicit MX, RFC 5321 §5.1" in outcome.message


def test_resolve_domain_implicit_mx_with_only_aaaa_uses_ipv6(
    dns_server: DnsServer,
) -> None:
    dns_server.set_zone(Zone().aaaa("v6only-corp.net", PUBLIC_V6))

    outcome = resolve(dns_server, "v6only-corp.net")

    assert outcome.mail_hosts == (MailHost("v6only-corp.net", 0, (PUBLIC_V6,)),)


def test_resolve_domain_a_present_does_not_ask_aaaa(dns_server: DnsServer) -> None:
    dns_server.set_zone(
        Zone()
        .mx("dual-mail.com", [(10, "mx.dual-mail.com")])
        .a("mx.dual-mail.com", PUBLIC_1)
        .aaaa("mx.dual-mail.com", PUBLIC_V6)
    )

    outcome = resolve(dns_server, "dual-mail.com")

    assert outcome.mail_hosts[0].addresses == (PUBLIC_1,)
    assert dns_server.count("mx.dual-mail.com", "AAAA") == 0


def test_resolve_domain_use_ipv6_adds_aaaa(dns_server: DnsServer) -> None:
    dns_server.set_zone(
        Zone()
        .mx("dual-mail.com", [(10, "mx.dual-mail.com")])
        .a("mx.dual-mail.com", PUBLIC_1)
        .aaaa("mx.dual-mail.com", PUBLIC_V6)
    )

    outcome = resolve(dns_server, "dual-mail.com", use_ipv6=True)

    assert outcome.mail_hosts[0].addresses == (PUBLIC_1, PUBLIC_V6)


def test_resolve_domain_additional_section_saves_address_query(
    dns_server: DnsServer,
) -> None:
    dns_server.set_zone(
        Zone()
        .mx("glue-mail.com", [(10, "mx.glue-mail.com")], additional=True)
        .a("mx.glue-mail.com", PUBLIC_1)
    )

    outcome = resolve(dns_server, "glue-mail.com")

    assert outcome.mail_hosts == (MailHost("mx.glue-mail.com", 10, (PUBLIC_1,)),)
    assert dns_server.count("mx.glue-mail.com") == 0


def test_resolve_domain_cname_chain_is_followed(dns_server: DnsServer) -> None:
    dns_server.set_zone(
        Zone()
        .cname("alias-mail.com", "real-mail.com")
        .mx("real-mail.com", [(10, "mx-alias.real-mail.com")])
        .cname("mx-alias.real-mail.com", "mx.real-mail.com")
        .a("mx.real-mail.com", PUBLIC_1)
    )

    outcome = resolve(dns_server, "alias-mail.com")

    assert outcome.mail_hosts == (MailHost("mx-alias.real-mail.com", 10, (PUBLIC_1,)),)


def test_resolve_domain_truncated_udp_retries_over_tcp(
    dns_server: DnsServer,
) -> None:
    dns_server.set_zone(
        Zone()
        .mx("big-answers.net", [(10, "mx.big-answers.net")])
        .truncate("big-answers.net")
        .a("mx.big-answers.net", PUBLIC_1)
    )

    outcome = resolve(dns_server, "big-answers.net")

    assert host_names(outcome) == ["mx.big-answers.net"]
    transports = [q.transport for q in dns_server.queries if q.rdtype == "MX"]
    assert transports == ["udp", "tcp"]


def test_resolve_domain_large_mx_set_resolves_most_preferred(
    dns_server: DnsServer,
) -> None:
    zone = Zone().mx(
        "bulk-mail.com", [(n, f"mx{n:02}.bulk-mail.com") for n in range(60)]
    )
    for n in range(60):
        zone.a(f"mx{n:02}.bulk-mail.com", PUBLIC_1)
    dns_server.set_zone(zone)

    outcome = resolve(dns_server, "bulk-mail.com")

    assert host_names(outcome) == [f"mx{n:02}.bulk-mail.com" for n in range(20)]
    assert dns_server.count("mx59.bulk-mail.com") == 0


def test_resolve_domain_idn_in_a_label_form_resolves(dns_server: DnsServer) -> None:
    dns_server.set_zone(
        Zone()
        .mx("münchen.de", [(10, "mx.xn--mnchen-3ya.de")])
        .a("mx.xn--mnchen-3ya.de", PUBLIC_1)
    )

    outcome = resolve(dns_server, "xn--mnchen-3ya.de")

    assert host_names(outcome) == ["mx.xn--mnchen-3ya.de"]


def test_resolve_domain_mx_host_timeout_skips_to_next_mx(
    dns_server: DnsServer,
) -> None:
    dns_server.set_zone(
        Zone()
        .mx("flaky-mail.com", [(10, "mx1.flaky-mail.com"), (20, "mx2.flaky-mail.com")])
        .silent("mx1.flaky-mail.com")
        .a("mx2.flaky-mail.com", PUBLIC_1)
    )

    outcome = resolve(dns_server, "flaky-mail.com", timeout=0.3)

    assert outcome.reason is None
    assert host_names(outcome) == ["mx2.flaky-mail.com"]
    assert outcome.message == (
        "flaky-mail.com has 1 mail host: mx2.flaky-mail.com (20); "
        "1 more skipped: no usable address"
    )


def test_resolve_domain_null_mx_beside_real_host_uses_real_host(
    dns_server: DnsServer,
) -> None:
    dns_server.set_zone(
        Zone()
        .null_mx("half-corp.com")
        .mx("half-corp.com", [(10, "mx.half-corp.com")])
        .a("mx.half-corp.com", PUBLIC_1)
    )

    outcome = resolve(dns_server, "half-corp.com")

    assert host_names(outcome) == ["mx.half-corp.com"]


def test_resolve_domain_ipv6_loopback_nameserver_answers(
    start_dns_server: Callable[..., DnsServer],
) -> None:
    try:
        server = start_dns_server(Zone().a("plainhost-corp.net", PUBLIC_1), host="::1")
    except (OSError, RuntimeError):
        pytest.skip("no IPv6 loopback here")
    settings = ResolverSettings(
        nameservers=(parse_nameserver(server.nameserver),), timeout=1.0
    )

    outcome = with_resolver(settings, lambda r: r.resolve_domain("plainhost-corp.net"))

    assert host_names(outcome) == ["plainhost-corp.net"]


# --- proven undeliverable ---------------------------------------------------


def test_resolve_domain_dangling_alias_is_no_domain(dns_server: DnsServer) -> None:
    dns_server.set_zone(Zone().cname("dangling-corp.com", "gone-target.net"))

    outcome = resolve(dns_server, "dangling-corp.com")

    assert outcome == DomainOutcome(
        Reason.NO_DOMAIN,
        "dangling-corp.com is an alias of gone-target.net, which does not exist "
        "(NXDOMAIN)",
    )


def test_resolve_domain_null_mx_is_invalid(dns_server: DnsServer) -> None:
    dns_server.set_zone(
        Zone().null_mx("nomail-corp.com").a("nomail-corp.com", PUBLIC_1)
    )

    outcome = resolve(dns_server, "nomail-corp.com")

    assert outcome.reason is Reason.NULL_MX
    assert outcome.reason.status is Status.INVALID
    assert outcome.message == (
        "nomail-corp.com publishes a null MX (RFC 7505): it accepts no mail"
    )


def test_resolve_domain_nxdomain_is_no_domain(dns_server: DnsServer) -> None:
    dns_server.set_zone(Zone())

    outcome = resolve(dns_server, "no-such-corp.net")

    assert outcome == DomainOutcome(
        Reason.NO_DOMAIN, "no-such-corp.net does not exist (NXDOMAIN)"
    )


def test_resolve_domain_no_mx_no_address_is_no_mail_host(
    dns_server: DnsServer,
) -> None:
    dns_server.set_zone(Zone().txt("parked-corp.net"))

    outcome = resolve(dns_server, "parked-corp.net")

    assert outcome == DomainOutcome(
        Reason.NO_MAIL_HOST,
        "parked-corp.net has no MX record and no address (A/AAAA): "
        "it cannot receive mail",
    )


def test_resolve_domain_every_mx_nxdomain_is_no_mail_host(
    dns_server: DnsServer,
) -> None:
    dns_server.set_zone(
        Zone()
        .mx("ghost-mail.com", [(10, "mx1.ghost-mail.com"), (20, "mx2.ghost-mail.com")])
        .txt("mx2.ghost-mail.com")
    )

    outcome = resolve(dns_server, "ghost-mail.com")

    assert outcome == DomainOutcome(
        Reason.NO_MAIL_HOST,
        "ghost-mail.com's mail hosts (mx1.ghost-mail.com, mx2.ghost-mail.com) "
        "do not exist or have no address: it cannot receive mail",
    )


@pytest.mark.parametrize(
    "domain",
    [
        pytest.param("shop.test", id="dot-test"),
        pytest.param("corp.invalid", id="dot-invalid"),
        pytest.param("localhost", id="localhost"),
        pytest.param("printer.local", id="dot-local"),
        pytest.param("hidden.onion", id="dot-onion"),
        pytest.param("1.0.0.127.in-addr.arpa", id="dot-arpa"),
        pytest.param("docs.example", id="dot-example"),
        pytest.param("example.com", id="example-com"),
        pytest.param("mail.example.org", id="example-org-sub"),
    ],
)
def test_resolve_domain_reserved_name_is_rejected_without_query(
    dns_server: DnsServer, domain: str
) -> None:
    dns_server.set_zone(Zone().mx(domain, [(10, "mx.acme-mail.com")]))

    outcome = resolve(dns_server, domain)

    assert outcome.reason is Reason.RESERVED_DOMAIN
    assert outcome.message.startswith(f"{domain} is a reserved name (RFC ")
    assert dns_server.queries == []


def test_resolve_domain_overlong_label_is_bad_syntax_without_query(
    dns_server: DnsServer,
) -> None:
    outcome = resolve(dns_server, "a" * 64 + ".com")

    assert outcome.reason is Reason.BAD_SYNTAX
    assert dns_server.queries == []


# --- could not tell -------------------------------------------------------


@pytest.mark.parametrize(
    ("behave", "message"),
    [
        pytest.param(
            Zone.servfail,
            "DNS server answered SERVFAIL for broken-dns.org: its authoritative "
            "servers failed or are unreachable; try again later",
            id="servfail",
        ),
        pytest.param(
            Zone.refused,
            "DNS server refused to answer for broken-dns.org (REFUSED); "
            "check --nameserver",
            id="refused",
        ),
    ],
)
def test_resolve_domain_server_failure_is_dns_error(
    dns_server: DnsServer, behave: Callable[[Zone, str], Zone], message: str
) -> None:
    dns_server.set_zone(behave(Zone(), "broken-dns.org"))

    outcome = resolve(dns_server, "broken-dns.org")

    assert outcome == DomainOutcome(Reason.DNS_ERROR, message)
    assert outcome.reason is not None
    assert outcome.reason.status is Status.UNKNOWN


def test_resolve_domain_silence_is_dns_timeout(dns_server: DnsServer) -> None:
    dns_server.set_zone(Zone().silent("quiet-dns.org"))

    outcome = resolve(dns_server, "quiet-dns.org", timeout=0.3)

    assert outcome == DomainOutcome(
        Reason.DNS_TIMEOUT, "DNS server did not answer within 0.3s for quiet-dns.org"
    )
    assert dns_server.count("quiet-dns.org", "MX") == 2


def test_resolve_domain_every_mx_host_failing_is_unknown(
    dns_server: DnsServer,
) -> None:
    dns_server.set_zone(
        Zone()
        .mx("flaky-mail.com", [(10, "mx1.flaky-mail.com"), (20, "mx2.flaky-mail.com")])
        .servfail("mx1.flaky-mail.com")
        .silent("mx2.flaky-mail.com")
    )

    outcome = resolve(dns_server, "flaky-mail.com", timeout=0.3)

    assert outcome.reason is Reason.DNS_ERROR
    assert outcome.message.startswith(
        "no mail host of flaky-mail.com resolved: DNS server answered SERVFAIL "
        "for mx1.flaky-mail.com"
    )


def test_resolve_domain_garbage_reply_is_dns_error_not_exception(
    dns_server: DnsServer,
) -> None:
    dns_server.set_zone(Zone().garbage("noisy-dns.org"))

    outcome = resolve(dns_server, "noisy-dns.org", timeout=0.3)

    assert outcome == DomainOutcome(
        Reason.DNS_ERROR,
        f"DNS server {dns_server.nameserver} sent a malformed reply about "
        "noisy-dns.org",
    )


def test_resolve_domain_tcp_hang_up_is_dns_error_not_exception(
    dns_server: DnsServer,
) -> None:
    dns_server.set_zone(Zone().hang_up("big-answers.net"))

    outcome = resolve(dns_server, "big-answers.net")

    assert outcome == DomainOutcome(
        Reason.DNS_ERROR,
        f"DNS server {dns_server.nameserver} closed the connection before "
        "replying about big-answers.net",
    )


def test_resolve_domain_closed_port_is_unknown_not_exception() -> None:
    port = free_udp_port()
    settings = ResolverSettings(nameservers=(("127.0.0.1", port),), timeout=0.2)

    outcome = with_resolver(settings, lambda r: r.resolve_domain("acme-mail.com"))

    assert outcome.reason in (Reason.DNS_ERROR, Reason.DNS_TIMEOUT)


def test_resolve_domain_second_nameserver_answers_when_first_is_silent(
    start_dns_server: Callable[..., DnsServer],
) -> None:
    silent = start_dns_server(Zone().silent("acme-mail.com").silent("mx.acme-mail.com"))
    working = start_dns_server(
        Zone()
        .mx("acme-mail.com", [(10, "mx.acme-mail.com")])
        .a("mx.acme-mail.com", PUBLIC_1)
    )
    settings = settings_for(silent, working, timeout=0.3)

    outcome = with_resolver(settings, lambda r: r.resolve_domain("acme-mail.com"))

    assert host_names(outcome) == ["mx.acme-mail.com"]


def test_resolver_health_dead_after_eight_silent_lookups(
    dns_server: DnsServer,
) -> None:
    zone = Zone()
    for n in range(9):
        zone.silent(f"shop{n}-mail.com")
    dns_server.set_zone(zone)
    settings = settings_for(dns_server, timeout=0.2, attempts=1)

    async def use(resolver: DomainResolver) -> list[DomainOutcome]:
        names = [f"shop{n}-mail.com" for n in range(8)]
        await asyncio.gather(*(resolver.resolve_domain(name) for name in names))
        assert resolver.health.dead
        return [await resolver.resolve_domain("shop8-mail.com")]

    (after,) = with_resolver(settings, use)

    assert after.reason is Reason.DNS_TIMEOUT
    assert after.message.startswith("DNS lookup of shop8-mail.com skipped")
    assert dns_server.count("shop8-mail.com") == 0


def test_resolver_health_counts_by_ending(dns_server: DnsServer) -> None:
    dns_server.set_zone(
        Zone().servfail("broken-dns.org").a("plainhost-corp.net", PUBLIC_1)
    )

    async def use(resolver: DomainResolver) -> tuple[int, int, int, bool]:
        for name in ("broken-dns.org", "plainhost-corp.net", "no-such-corp.net"):
            await resolver.resolve_domain(name)
        health = resolver.health
        return health.answered, health.errored, health.timed_out, health.dead

    assert with_resolver(settings_for(dns_server), use) == (2, 1, 0, False)


# --- private addresses -----------------------------------------------------

PRIVATE_ZONE = (
    Zone()
    .mx("intranet-corp.com", [(10, "mx.intranet-corp.com")])
    .a("mx.intranet-corp.com", "10.1.2.3")
    .mx("mixed-corp.com", [(10, "mx.mixed-corp.com")])
    .a("mx.mixed-corp.com", "192.168.0.9", PUBLIC_1)
    .mx("mapped-corp.com", [(10, "mx.mapped-corp.com")])
    .aaaa("mx.mapped-corp.com", "::ffff:10.0.0.1")
)


@pytest.mark.parametrize(
    "domain",
    [
        pytest.param("intranet-corp.com", id="rfc1918"),
        pytest.param("mapped-corp.com", id="ipv4-mapped-private"),
    ],
)
def test_resolve_domain_private_mx_is_unknown(
    dns_server: DnsServer, domain: str
) -> None:
    dns_server.set_zone(PRIVATE_ZONE)

    outcome = resolve(dns_server, domain)

    assert outcome.reason is Reason.PRIVATE_MX
    assert outcome.message.endswith("pass --allow-private-mx to probe them")
    assert outcome.mail_hosts == ()


def test_resolve_domain_private_mx_allowed_keeps_hosts(
    dns_server: DnsServer,
) -> None:
    dns_server.set_zone(PRIVATE_ZONE)

    outcome = resolve(dns_server, "intranet-corp.com", allow_private=True)

    assert outcome.reason is None
    assert outcome.mail_hosts == (MailHost("mx.intranet-corp.com", 10, ("10.1.2.3",)),)


def test_resolve_domain_mixed_addresses_drop_private_ones(
    dns_server: DnsServer,
) -> None:
    dns_server.set_zone(PRIVATE_ZONE)

    outcome = resolve(dns_server, "mixed-corp.com")

    assert outcome.mail_hosts == (MailHost("mx.mixed-corp.com", 10, (PUBLIC_1,)),)


# --- sharing work ---------------------------------------------------------


def test_resolve_domain_concurrent_askers_share_one_mx_query(
    start_dns_server: Callable[..., DnsServer],
) -> None:
    zone = Zone().mx("acme-mail.com", [(10, "mx.acme-mail.com")])
    server = start_dns_server(zone.a("mx.acme-mail.com", PUBLIC_1), delay=0.05)

    async def use(resolver: DomainResolver) -> list[DomainOutcome]:
        asks = [resolver.resolve_domain("acme-mail.com") for _ in range(20)]
        return list(await asyncio.gather(*asks))

    outcomes = with_resolver(settings_for(server), use)

    assert len(set(outcomes)) == 1
    assert server.count("acme-mail.com", "MX") == 1


def test_resolve_domain_shared_mx_host_is_resolved_once(
    start_dns_server: Callable[..., DnsServer],
) -> None:
    zone = (
        Zone()
        .mx("brand-one.com", [(10, "mx.hosting-mail.net")])
        .mx("brand-two.com", [(10, "mx.hosting-mail.net")])
        .a("mx.hosting-mail.net", PUBLIC_1)
    )
    server = start_dns_server(zone, delay=0.05)

    async def use(resolver: DomainResolver) -> int:
        await asyncio.gather(
            resolver.resolve_domain("brand-one.com"),
            resolver.resolve_domain("brand-two.com"),
        )
        return resolver.queries_sent

    queries_sent = with_resolver(settings_for(server), use)

    assert server.count("mx.hosting-mail.net", "A") == 1
    assert queries_sent == 3


def test_resolve_domain_cached_answer_sends_no_query(dns_server: DnsServer) -> None:
    dns_server.set_zone(Zone().a("plainhost-corp.net", PUBLIC_1))

    async def use(resolver: DomainResolver) -> int:
        await resolver.resolve_domain("plainhost-corp.net")
        before = resolver.queries_sent
        await resolver.resolve_domain("PlainHost-Corp.net.")
        return resolver.queries_sent - before

    assert with_resolver(settings_for(dns_server), use) == 0


def test_resolver_remember_seeds_known_and_skips_query(
    dns_server: DnsServer,
) -> None:
    seeded = DomainOutcome(Reason.NO_DOMAIN, "gone-corp.net does not exist")

    async def use(resolver: DomainResolver) -> DomainOutcome:
        resolver.remember("gone-corp.net", seeded)
        assert list(resolver.known()) == [("gone-corp.net", seeded)]
        return await resolver.resolve_domain("gone-corp.net")

    assert with_resolver(settings_for(dns_server), use) is seeded
    assert dns_server.queries == []


def test_resolver_known_leaves_out_failures(dns_server: DnsServer) -> None:
    dns_server.set_zone(Zone().servfail("broken-dns.org").a("one-corp.net", PUBLIC_1))

    async def use(resolver: DomainResolver) -> list[str]:
        await resolver.resolve_domain("broken-dns.org")
        await resolver.resolve_domain("one-corp.net")
        return [domain for domain, _ in resolver.known()]

    assert with_resolver(settings_for(dns_server), use) == ["one-corp.net"]


def test_resolve_domain_failure_expires_and_is_asked_again(
    dns_server: DnsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dns_layer, "FAILURE_TTL", -1.0)
    dns_server.set_zone(Zone().servfail("broken-dns.org"))

    async def use(resolver: DomainResolver) -> None:
        await resolver.resolve_domain("broken-dns.org")
        await resolver.resolve_domain("broken-dns.org")

    with_resolver(settings_for(dns_server, attempts=1), use)

    assert dns_server.count("broken-dns.org", "MX") == 2


def test_resolver_cache_keeps_at_most_cache_size_domains(
    dns_server: DnsServer,
) -> None:
    dns_server.set_zone(Zone().a("one-corp.net", PUBLIC_1).a("two-corp.net", PUBLIC_1))
    settings = settings_for(dns_server, cache_size=1)

    async def use(resolver: DomainResolver) -> list[str]:
        await resolver.resolve_domain("one-corp.net")
        await resolver.resolve_domain("two-corp.net")
        return [domain for domain, _ in resolver.known()]

    assert with_resolver(settings, use) == ["two-corp.net"]


def test_resolve_domain_cancelled_asker_does_not_cancel_others(
    start_dns_server: Callable[..., DnsServer],
) -> None:
    server = start_dns_server(Zone().a("slow-corp.net", PUBLIC_1), delay=0.2)

    async def use(resolver: DomainResolver) -> DomainOutcome:
        first = asyncio.ensure_future(resolver.resolve_domain("slow-corp.net"))
        second = asyncio.ensure_future(resolver.resolve_domain("slow-corp.net"))
        await asyncio.sleep(0.05)
        first.cancel()
        return await second

    outcome = with_resolver(settings_for(server), use)

    assert host_names(outcome) == ["slow-corp.net"]
    assert server.count("slow-corp.net", "MX") == 1


def test_resolver_aclose_cancels_lookups_in_flight(
    start_dns_server: Callable[..., DnsServer],
) -> None:
    server = start_dns_server(Zone().silent("quiet-dns.org"))

    async def use(resolver: DomainResolver) -> bool:
        asking = asyncio.ensure_future(resolver.resolve_domain("quiet-dns.org"))
        await asyncio.sleep(0.05)
        await resolver.aclose()
        await asyncio.wait([asking], timeout=1)
        return asking.cancelled()

    assert with_resolver(settings_for(server, timeout=5.0), use)


# --- parse_nameserver and is_global_address ------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("1.2.3.4", ("1.2.3.4", 53), id="ipv4"),
        pytest.param("1.2.3.4:5353", ("1.2.3.4", 5353), id="ipv4-port"),
        pytest.param(" 9.9.9.9 ", ("9.9.9.9", 53), id="whitespace"),
        pytest.param("::1", ("::1", 53), id="ipv6-bare"),
        pytest.param("[::1]:53", ("::1", 53), id="ipv6-bracket-port"),
        pytest.param("[2001:4860::8888]", ("2001:4860::8888", 53), id="ipv6-bracket"),
        pytest.param("2001:4860:0:0::8888", ("2001:4860::8888", 53), id="ipv6-long"),
    ],
)
def test_parse_nameserver_accepts_ip_and_port(
    text: str, expected: tuple[str, int]
) -> None:
    assert parse_nameserver(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "dns.acme-mail.com",
            "--nameserver 'dns.acme-mail.com': 'dns.acme-mail.com' is not an IP "
            "address; give the DNS server as 1.2.3.4, 1.2.3.4:5353 or [::1]:53",
            id="hostname",
        ),
        pytest.param(
            "1.2.3.4:0",
            "--nameserver '1.2.3.4:0': port '0' must be a number from 1 to 65535",
            id="port-zero",
        ),
        pytest.param(
            "1.2.3.4:dns",
            "--nameserver '1.2.3.4:dns': port 'dns' must be a number from 1 to 65535",
            id="port-word",
        ),
        pytest.param(
            "[::1]:70000",
            "--nameserver '[::1]:70000': port '70000' must be a number from 1 to 65535",
            id="port-too-big",
        ),
        pytest.param(
            "",
            "--nameserver '': '' is not an IP address; give the DNS server as "
            "1.2.3.4, 1.2.3.4:5353 or [::1]:53",
            id="empty",
        ),
        pytest.param(
            "[::1",
            "--nameserver '[::1': '[::1' is not an IP address; give the DNS "
            "server as 1.2.3.4, 1.2.3.4:5353 or [::1]:53",
            id="unclosed-bracket",
        ),
        pytest.param(
            "1.2.3.999",
            "--nameserver '1.2.3.999': '1.2.3.999' is not an IP address; give "
            "the DNS server as 1.2.3.4, 1.2.3.4:5353 or [::1]:53",
            id="bad-octet",
        ),
    ],
)
def test_parse_nameserver_garbage_is_usage_error(text: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_nameserver(text)

    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("ip", "is_global"),
    [
        pytest.param(PUBLIC_1, True, id="public-v4"),
        pytest.param(PUBLIC_V6, True, id="public-v6"),
        pytest.param("127.0.0.2", False, id="loopback"),
        pytest.param("10.0.0.1", False, id="rfc1918-10"),
        pytest.param("172.16.5.4", False, id="rfc1918-172"),
        pytest.param("192.168.1.1", False, id="rfc1918-192"),
        pytest.param("169.254.169.254", False, id="link-local-metadata"),
        pytest.param("100.64.0.1", False, id="cgnat"),
        pytest.param("0.0.0.0", False, id="unspecified-v4"),
        pytest.param("224.0.0.1", False, id="multicast-v4"),
        pytest.param("240.0.0.1", False, id="reserved-v4"),
        pytest.param("255.255.255.255", False, id="broadcast"),
        pytest.param("192.0.2.10", False, id="documentation-v4"),
        pytest.param("198.18.0.1", False, id="benchmarking"),
        pytest.param("::1", False, id="loopback-v6"),
        pytest.param("::", False, id="unspecified-v6"),
        pytest.param("fd00::1", False, id="ula"),
        pytest.param("fe80::1", False, id="link-local-v6"),
        pytest.param("ff02::1", False, id="multicast-v6"),
        pytest.param("2001:db8::1", False, id="documentation-v6"),
        pytest.param("::ffff:10.0.0.1", False, id="mapped-private"),
        pytest.param("::ffff:127.0.0.1", False, id="mapped-loopback"),
        pytest.param(f"::ffff:{PUBLIC_1}", True, id="mapped-public"),
        pytest.param("::10.0.0.1", False, id="compatible-private"),
        pytest.param("64:ff9b::a00:1", False, id="nat64-private"),
        pytest.param("2002:a00:1::1", False, id="6to4-private"),
        pytest.param("not-an-ip", False, id="garbage"),
    ],
)
def test_is_global_address_table(ip: str, is_global: bool) -> None:
    assert is_global_address(ip) is is_global


@given(st.text(max_size=60))
def test_parse_nameserver_any_text_gives_address_or_usage_error(text: str) -> None:
    try:
        host, port = parse_nameserver(text)
    except UsageError:
        return

    assert ipaddress.ip_address(host)
    assert 0 < port < 65536


@given(st.ip_addresses())
def test_is_global_address_never_says_python_private_is_global(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    if not address.is_global:
        assert not is_global_address(str(address))
