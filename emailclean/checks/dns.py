"""DNS: can a domain receive mail, and at which hosts and addresses?

For each domain (already in ASCII, A-label form) the resolver decides:

1. Reserved names (RFC 2606, RFC 6761 and kin: `.test`, `.example`,
   `example.com`, `.local`, `.onion`, ...) never receive mail; they are
   rejected without a query.
2. Ask for MX records. NXDOMAIN means the domain does not exist. A single
   MX of `0 .` is a null MX (RFC 7505): the domain takes no mail. An empty
   answer (NODATA) means the domain itself is the mail host at preference 0
   (implicit MX, RFC 5321 §5.1), if it has an address.
3. Resolve every mail host to addresses: A records, and AAAA only when there
   is no A or IPv6 is wanted (DESIGN.md §6). Addresses the MX answer already
   carries in its additional section are used without asking again.
4. Judge the hosts: those with addresses are kept in preference order (ties
   by name); a host whose lookup failed is skipped. No host left means
   `no_mail_host` when every host is known to have no address, and
   `unknown` when any lookup failed: a failure is never evidence against
   the domain. Hosts with only non-public addresses make `private_mx`
   unless the user allows them.

Work is shared: concurrent askers for one domain await one lookup, domains
sharing a mail host share one address lookup (single flight), and results
stay in bounded LRU caches for the job, failures included, so every row of
a domain gets the same verdict.

We speak to the recursive resolver through dnspython's message layer
(`dns.asyncquery.udp_with_fallback`) rather than `dns.asyncresolver`,
because the verdict depends on exactly what came back: SERVFAIL, REFUSED,
NXDOMAIN, NODATA and silence each mean something different here, and the
resolver class folds several of them into one exception. Each query is sent
up to `attempts` times, to the configured nameservers in turn, each attempt
bounded by `timeout`; truncated UDP answers are asked again over TCP. We ask
with EDNS and a 1232-byte payload (the DNS Flag Day 2020 value), which
avoids most TCP fallbacks without risking IP fragmentation.

Limitations: a domain with more than `MAX_MAIL_HOSTS` MX records has only
its most preferred ones resolved; if none of those resolves, the verdict is
`unknown`, never invalid. CNAMEs are followed only as far as the recursive
resolver chased them in its answer, as stub resolvers do.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Generic, TypeVar

import dns.asyncbackend
import dns.asyncquery
import dns.exception
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.CNAME
import dns.rdtypes.ANY.MX
import dns.rdtypes.IN.A
import dns.rdtypes.IN.AAAA
import dns.resolver

from emailclean.checks.addresses import is_global_address
from emailclean.errors import UsageError
from emailclean.models import DomainOutcome, MailHost, Reason

__all__ = [
    "DomainResolver",
    "ResolverHealth",
    "ResolverSettings",
    "is_global_address",
    "parse_nameserver",
    "reserved_domain_outcome",
]

logger = logging.getLogger(__name__)

DNS_PORT = 53
# DNS Flag Day 2020: a payload that fits unfragmented on nearly every path.
EDNS_PAYLOAD = 1232
# Stub resolvers stop following CNAMEs after a few hops; loops end here.
MAX_CNAME_CHAIN = 8
MAX_MAIL_HOSTS = 20
# Queries in flight at once: bursts beyond this overflow the receive
# buffers of home routers and small resolvers, and lost queries cost timeouts.
MAX_QUERIES_IN_FLIGHT = 256
# DESIGN.md §8: the resolver is dead when this many lookups got no reply.
DEAD_AFTER = 8

# Names that never receive mail, with the document that sets them aside.
RESERVED_SUFFIXES: dict[str, str] = {
    "test": "RFC 2606",
    "example": "RFC 2606",
    "invalid": "RFC 2606",
    "localhost": "RFC 2606",
    "example.com": "RFC 2606",
    "example.net": "RFC 2606",
    "example.org": "RFC 2606",
    "local": "RFC 6762",
    "onion": "RFC 7686",
    "alt": "RFC 9476",
    "arpa": "RFC 3172",
}


@dataclass(frozen=True)
class ResolverSettings:
    """How to resolve; every field has a usable default."""

    nameservers: tuple[tuple[str, int], ...] = ()  # empty: the system's
    timeout: float = 5.0  # per query attempt, in seconds
    attempts: int = 2  # tries per query, across the nameservers in turn
    allow_private: bool = False  # --allow-private-mx
    use_ipv6: bool = False  # ask AAAA even when A exists
    cache_size: int = 100_000  # domains (and mail hosts) kept, LRU


@dataclass
class ResolverHealth:
    """Counts of domain lookups by how they ended, for the job summary."""

    answered: int = 0
    timed_out: int = 0
    errored: int = 0
    replied: bool = False  # any DNS server ever sent a readable reply

    @property
    def dead(self) -> bool:
        """No server has replied to anything and enough lookups timed out."""
        return not self.replied and self.timed_out >= DEAD_AFTER


def parse_nameserver(text: str) -> tuple[str, int]:
    """`1.2.3.4`, `1.2.3.4:5353`, `::1`, `[::1]:53` -> (address, port).

    Only IP addresses are accepted: naming the DNS server would need DNS.
    """
    spec = text.strip()
    host, port_text = _split_host_port(spec)
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise UsageError(
            f"--nameserver {text!r}: {host!r} is not an IP address; "
            "give the DNS server as 1.2.3.4, 1.2.3.4:5353 or [::1]:53"
        ) from None

    port = DNS_PORT if port_text is None else _parse_port(text, port_text)
    return str(address), port


def _split_host_port(spec: str) -> tuple[str, str | None]:
    if spec.startswith("["):
        host, bracket, rest = spec[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            return spec, None  # rejected as "not an IP address"
        return host, rest[1:] if rest else None
    if spec.count(":") == 1:
        host, _, port_text = spec.partition(":")
        return host, port_text
    return spec, None


def _parse_port(text: str, port_text: str) -> int:
    if port_text.isdigit() and 0 < int(port_text) < 65536:
        return int(port_text)
    raise UsageError(
        f"--nameserver {text!r}: port {port_text!r} must be a number from 1 to 65535"
    )


def reserved_domain_outcome(domain: str) -> DomainOutcome | None:
    """The verdict for a reserved name (RFC 2606, RFC 6761), else None."""
    for suffix, source in RESERVED_SUFFIXES.items():
        if domain == suffix or domain.endswith("." + suffix):
            return DomainOutcome(
                Reason.RESERVED_DOMAIN,
                f"{domain} is a reserved name ({source}): it never receives mail",
            )
    return None


class _Answer(Enum):
    """How one DNS query ended."""

    RECORDS = "records"
    NXDOMAIN = "nxdomain"
    NODATA = "nodata"
    FAILED = "failed"  # SERVFAIL, REFUSED, a malformed reply, a network error
    TIMEOUT = "timeout"


@dataclass(frozen=True)
class _Reply:
    """One query's result: its records, or what went wrong (`problem`)."""

    answer: _Answer
    records: tuple[dns.rdata.Rdata, ...] = ()
    response: dns.message.Message | None = None
    problem: str = ""

    @property
    def failed(self) -> bool:
        return self.answer in (_Answer.FAILED, _Answer.TIMEOUT)


@dataclass(frozen=True)
class _HostLookup:
    """A mail host's addresses, or why it has none."""

    addresses: tuple[str, ...]
    answer: _Answer
    problem: str = ""

    @property
    def failed(self) -> bool:
        return self.answer in (_Answer.FAILED, _Answer.TIMEOUT)


_Key = TypeVar("_Key", bound=Hashable)
_Value = TypeVar("_Value")


class _SingleFlight(Generic[_Key, _Value]):
    """A bounded LRU of results, plus the lookups still in flight.

    Concurrent askers for one key await the same task; a cancelled asker
    does not cancel the lookup others wait for.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = max(capacity, 1)
        self.done: OrderedDict[_Key, _Value] = OrderedDict()
        self.pending: dict[_Key, asyncio.Task[_Value]] = {}

    def get(self, key: _Key) -> _Value | None:
        value = self.done.get(key)
        if value is not None:
            self.done.move_to_end(key)
        return value

    def put(self, key: _Key, value: _Value) -> None:
        self.done[key] = value
        self.done.move_to_end(key)
        while len(self.done) > self.capacity:
            self.done.popitem(last=False)

    async def run(self, key: _Key, lookup: Callable[[], Awaitable[_Value]]) -> _Value:
        cached = self.get(key)
        if cached is not None:
            return cached

        task = self.pending.get(key)
        if task is None:
            task = asyncio.ensure_future(lookup())
            self.pending[key] = task
            task.add_done_callback(lambda done: self.finish(key, done))
        return await asyncio.shield(task)

    def finish(self, key: _Key, task: asyncio.Task[_Value]) -> None:
        if self.pending.get(key) is task:
            del self.pending[key]
        if not task.cancelled() and task.exception() is None:
            self.put(key, task.result())

    async def aclose(self) -> None:
        tasks = list(self.pending.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class DomainResolver:
    """Resolves domains to mail hosts for one job; see the module docstring."""

    def __init__(self, settings: ResolverSettings) -> None:
        self.settings = settings
        self._nameservers = settings.nameservers or _system_nameservers()
        self.queries_sent = 0
        self.health = ResolverHealth()
        self._domains: _SingleFlight[str, DomainOutcome] = _SingleFlight(
            settings.cache_size
        )
        self._hosts: _SingleFlight[dns.name.Name, _HostLookup] = _SingleFlight(
            settings.cache_size
        )
        self._backend = dns.asyncbackend.get_backend("asyncio")
        self._in_flight = asyncio.Semaphore(MAX_QUERIES_IN_FLIGHT)

    async def resolve_domain(self, ascii_domain: str) -> DomainOutcome:
        """What DNS says about mail for `ascii_domain`; never raises."""
        domain = ascii_domain.strip().rstrip(".").lower()
        reserved = reserved_domain_outcome(domain)
        if reserved is not None:
            return reserved

        cached = self._domains.get(domain)
        if cached is not None:
            return cached
        if self.health.dead:
            return self._dead_outcome(domain)

        try:
            return await self._domains.run(domain, lambda: self._lookup(domain))
        except Exception:  # a bug of ours: report unknown, never crash the job
            logger.exception("DNS lookup of %s failed unexpectedly", domain)
            message = f"DNS lookup of {domain} failed unexpectedly; see the log"
            return DomainOutcome(Reason.DNS_ERROR, message)

    def remember(self, domain: str, outcome: DomainOutcome) -> None:
        """Seed the cache, e.g. from a checkpoint; no query is sent."""
        self._domains.put(domain.rstrip(".").lower(), outcome)

    def known(self) -> Iterator[tuple[str, DomainOutcome]]:
        """Every domain outcome in the cache, failures included."""
        return iter(list(self._domains.done.items()))

    async def aclose(self) -> None:
        """Cancel lookups still in flight; their askers get CancelledError."""
        await self._domains.aclose()
        await self._hosts.aclose()

    def _dead_outcome(self, domain: str) -> DomainOutcome:
        return DomainOutcome(
            Reason.DNS_TIMEOUT,
            f"DNS lookup of {domain} skipped: no DNS server has answered any "
            f"of {self.health.timed_out} lookups; check the network or pass "
            "--nameserver",
        )

    async def _lookup(self, domain: str) -> DomainOutcome:
        outcome = await self._judge_domain(domain)
        self._count(outcome)

        if outcome.reason in (Reason.DNS_TIMEOUT, Reason.DNS_ERROR):
            logger.info("DNS lookup of %s gave no verdict: %s", domain, outcome.message)
        else:
            logger.debug("DNS %s: %s", domain, outcome.message)
        return outcome

    def _count(self, outcome: DomainOutcome) -> None:
        if outcome.reason is Reason.DNS_TIMEOUT:
            self.health.timed_out += 1
        elif outcome.reason is Reason.DNS_ERROR:
            self.health.errored += 1
        else:
            self.health.answered += 1

    async def _judge_domain(self, domain: str) -> DomainOutcome:
        name = _domain_name(domain)
        if isinstance(name, DomainOutcome):
            return name
        if not self._nameservers:
            return DomainOutcome(Reason.DNS_ERROR, _NO_NAMESERVER)

        reply = await self._query(name, dns.rdatatype.MX)
        if reply.answer is _Answer.NXDOMAIN:
            return _no_domain_outcome(domain, reply)
        if reply.failed:
            return _unknown_outcome(reply.answer, reply.problem)
        if reply.answer is _Answer.NODATA:
            return await self._judge_implicit_mx(domain, name)
        return await self._judge_mx(domain, reply)

    async def _judge_implicit_mx(
        self, domain: str, name: dns.name.Name
    ) -> DomainOutcome:
        """RFC 5321 §5.1: no MX records, so the domain is its own mail host."""
        lookup = await self._mail_host(name, None)
        if lookup.failed:
            return _unknown_outcome(lookup.answer, lookup.problem)
        if not lookup.addresses:
            return DomainOutcome(
                Reason.NO_MAIL_HOST,
                f"{domain} has no MX record and no address (A/AAAA): "
                "it cannot receive mail",
            )

        host = MailHost(domain, 0, lookup.addresses)
        kept = self._allowed_hosts([host])
        if not kept:
            return _private_outcome(domain, [host])
        message = (
            f"{domain} has no MX record; mail goes to the domain's own "
            "address (implicit MX, RFC 5321 §5.1)"
        )
        return DomainOutcome(None, message, kept)

    async def _judge_mx(self, domain: str, reply: _Reply) -> DomainOutcome:
        targets = _mx_targets(reply.records)
        if not targets:
            return DomainOutcome(
                Reason.NULL_MX,
                f"{domain} publishes a null MX (RFC 7505): it accepts no mail",
            )

        tried = targets[:MAX_MAIL_HOSTS]
        lookups = await asyncio.gather(
            *(self._mail_host(name, reply.response) for _, name in tried)
        )
        hosts = [
            MailHost(_host_text(name), preference, lookup.addresses)
            for (preference, name), lookup in zip(tried, lookups, strict=True)
            if lookup.addresses
        ]
        if not hosts:
            return _no_usable_host(domain, tried, lookups, len(targets))

        kept = self._allowed_hosts(hosts)
        if not kept:
            return _private_outcome(domain, hosts)
        message = _usable_message(domain, kept, skipped=len(tried) - len(kept))
        return DomainOutcome(None, message, kept)

    def _allowed_hosts(self, hosts: list[MailHost]) -> tuple[MailHost, ...]:
        """DESIGN.md §3: only public addresses, unless private ones are allowed.

        A host keeps its public addresses; a host with none is dropped.
        """
        if self.settings.allow_private:
            return tuple(hosts)
        public = (_public_part(host) for host in hosts)
        return tuple(host for host in public if host.addresses)

    async def _mail_host(
        self, name: dns.name.Name, mx_response: dns.message.Message | None
    ) -> _HostLookup:
        """A mail host's addresses: from the MX answer, the cache, or DNS."""
        carried = self._carried_addresses(name, mx_response)
        if carried is not None and self._hosts.get(name) is None:
            self._hosts.put(name, carried)
        return await self._hosts.run(name, lambda: self._lookup_addresses(name))

    def _carried_addresses(
        self, name: dns.name.Name, response: dns.message.Message | None
    ) -> _HostLookup | None:
        """Addresses in the MX answer's additional section, if complete."""
        if response is None:
            return None
        ipv4 = _additional_addresses(response, name, dns.rdatatype.A)
        ipv6 = _additional_addresses(response, name, dns.rdatatype.AAAA)
        if not ipv4 or (self.settings.use_ipv6 and not ipv6):
            return None
        addresses = ipv4 + ipv6 if self.settings.use_ipv6 else ipv4
        return _HostLookup(addresses, _Answer.RECORDS)

    async def _lookup_addresses(self, name: dns.name.Name) -> _HostLookup:
        """DESIGN.md §6: A records; AAAA when there is no A or IPv6 is on."""
        ipv4 = await self._query(name, dns.rdatatype.A)
        if ipv4.failed or ipv4.answer is _Answer.NXDOMAIN:
            return _HostLookup((), ipv4.answer, ipv4.problem)
        if ipv4.records and not self.settings.use_ipv6:
            return _HostLookup(_record_addresses(ipv4), _Answer.RECORDS)

        ipv6 = await self._query(name, dns.rdatatype.AAAA)
        addresses = _record_addresses(ipv4) + _record_addresses(ipv6)
        if addresses:
            return _HostLookup(addresses, _Answer.RECORDS)
        if ipv6.failed:
            return _HostLookup((), ipv6.answer, ipv6.problem)
        return _HostLookup((), _Answer.NODATA)

    async def _query(self, name: dns.name.Name, rdtype: int) -> _Reply:
        """Ask up to `attempts` times, the nameservers in turn."""
        last = _Reply(_Answer.TIMEOUT, problem=self._timeout_problem(name))
        for attempt in range(max(self.settings.attempts, 1)):
            server = self._nameservers[attempt % len(self._nameservers)]
            reply = await self._query_once(name, rdtype, server)
            if not reply.failed:
                return reply
            # Report an error reply rather than a later timeout: it says more.
            if reply.answer is _Answer.FAILED or last.answer is _Answer.TIMEOUT:
                last = reply
        return last

    async def _query_once(
        self, name: dns.name.Name, rdtype: int, server: tuple[str, int]
    ) -> _Reply:
        """One attempt, with every dnspython and socket error translated."""
        kind = dns.rdatatype.RdataType(rdtype)
        query = dns.message.make_query(name, kind, use_edns=0, payload=EDNS_PAYLOAD)
        host, port = server
        try:
            async with self._in_flight:
                self.queries_sent += 1
                response, used_tcp = await dns.asyncquery.udp_with_fallback(
                    query,
                    host,
                    timeout=self.settings.timeout,
                    port=port,
                    ignore_unexpected=True,
                    backend=self._backend,
                )
        except dns.exception.Timeout:
            return _Reply(_Answer.TIMEOUT, problem=self._timeout_problem(name))
        except (dns.exception.DNSException, OSError, EOFError) as error:
            return self._failed_reply(name, kind, server, error)

        self.queries_sent += used_tcp
        self.health.replied = True
        return _classify(response, name, kind)

    def _failed_reply(
        self,
        name: dns.name.Name,
        rdtype: dns.rdatatype.RdataType,
        server: tuple[str, int],
        error: Exception,
    ) -> _Reply:
        where = _format_server(server)
        logger.debug("DNS %s %s via %s failed: %r", name, rdtype.name, where, error)
        problem = _describe(error, f"DNS server {where}", _host_text(name))
        return _Reply(_Answer.FAILED, problem=problem)

    def _timeout_problem(self, name: dns.name.Name) -> str:
        return (
            f"DNS server did not answer within {self.settings.timeout:g}s "
            f"for {_host_text(name)}"
        )


_NO_NAMESERVER = "no DNS server is configured on this system; pass --nameserver 1.2.3.4"


def _domain_name(domain: str) -> dns.name.Name | DomainOutcome:
    """The DNS name to ask about, or why there is none (RFC 1035 §2.3.4)."""
    if not domain:
        return DomainOutcome(Reason.BAD_SYNTAX, "the domain is empty")
    try:
        return dns.name.from_text(domain)
    except dns.exception.DNSException as error:
        message = f"{domain} is not a valid domain name ({error})"
        return DomainOutcome(Reason.BAD_SYNTAX, message)


def _no_domain_outcome(domain: str, reply: _Reply) -> DomainOutcome:
    """NXDOMAIN; RFC 6604 §3: through a CNAME it is the alias's target's."""
    alias = None
    if reply.response is not None:
        name = dns.name.from_text(domain)
        alias = _find_rrset(reply.response, name, dns.rdatatype.CNAME)
    if alias and isinstance(alias[0], dns.rdtypes.ANY.CNAME.CNAME):
        target = _host_text(alias[0].target)
        message = f"{domain} is an alias of {target}, which does not exist"
        return DomainOutcome(Reason.NO_DOMAIN, message + " (NXDOMAIN)")
    return DomainOutcome(Reason.NO_DOMAIN, f"{domain} does not exist (NXDOMAIN)")


def _system_nameservers() -> tuple[tuple[str, int], ...]:
    """The system's resolvers (/etc/resolv.conf, or the registry on Windows)."""
    try:
        system = dns.resolver.Resolver(configure=True)
    except dns.exception.DNSException as error:
        logger.warning("cannot read the system's DNS configuration: %s", error)
        return ()
    return tuple((str(server), system.port) for server in system.nameservers)


def _classify(
    response: dns.message.Message,
    name: dns.name.Name,
    rdtype: dns.rdatatype.RdataType,
) -> _Reply:
    """Sort a response by rcode, then follow CNAMEs to the records asked for.

    RFC 6604 §3: the rcode of an answer with a CNAME chain describes the
    last name in the chain, so a dangling alias reads as NXDOMAIN.
    """
    rcode = response.rcode()
    if rcode == dns.rcode.NXDOMAIN:
        return _Reply(_Answer.NXDOMAIN, response=response)
    if rcode != dns.rcode.NOERROR:
        return _Reply(
            _Answer.FAILED, response=response, problem=_rcode_problem(rcode, name)
        )

    records = _chased_records(response, name, rdtype)
    answer = _Answer.RECORDS if records else _Answer.NODATA
    return _Reply(answer, records, response)


def _chased_records(
    response: dns.message.Message,
    name: dns.name.Name,
    rdtype: dns.rdatatype.RdataType,
) -> tuple[dns.rdata.Rdata, ...]:
    """The records of `rdtype` at the end of `name`'s CNAME chain."""
    owner = name
    for _ in range(MAX_CNAME_CHAIN):
        found = _find_rrset(response, owner, rdtype)
        if found:
            return found
        alias = _find_rrset(response, owner, dns.rdatatype.CNAME)
        if not alias:
            return ()
        if not isinstance(alias[0], dns.rdtypes.ANY.CNAME.CNAME):
            return ()
        owner = alias[0].target
    return ()


def _find_rrset(
    response: dns.message.Message,
    owner: dns.name.Name,
    rdtype: dns.rdatatype.RdataType,
) -> tuple[dns.rdata.Rdata, ...]:
    rrset = response.get_rrset(response.answer, owner, dns.rdataclass.IN, rdtype)
    return tuple(rrset) if rrset is not None else ()


def _rcode_problem(rcode: dns.rcode.Rcode, name: dns.name.Name) -> str:
    host = _host_text(name)
    if rcode == dns.rcode.SERVFAIL:
        return (
            f"DNS server answered SERVFAIL for {host}: its authoritative "
            "servers failed or are unreachable; try again later"
        )
    if rcode == dns.rcode.REFUSED:
        return f"DNS server refused to answer for {host} (REFUSED); check --nameserver"
    return f"DNS server answered {dns.rcode.to_text(rcode)} for {host}"


def _mx_targets(
    records: Iterable[dns.rdata.Rdata],
) -> list[tuple[int, dns.name.Name]]:
    """Mail hosts by preference, ties by name, each once (RFC 5321 §5.1).

    A target of `.` names no host: alone it is RFC 7505's null MX; beside
    real hosts (which RFC 7505 §3 forbids) we leave it out and use the rest.
    """
    best: dict[dns.name.Name, int] = {}
    for record in records:
        if not isinstance(record, dns.rdtypes.ANY.MX.MX):
            continue
        target = record.exchange
        if target == dns.name.root:
            continue
        best[target] = min(record.preference, best.get(target, record.preference))
    return sorted(
        ((preference, name) for name, preference in best.items()),
        key=lambda pair: (pair[0], _host_text(pair[1])),
    )


def _additional_addresses(
    response: dns.message.Message,
    name: dns.name.Name,
    rdtype: dns.rdatatype.RdataType,
) -> tuple[str, ...]:
    rrset = response.get_rrset(response.additional, name, dns.rdataclass.IN, rdtype)
    return _addresses_of(rrset or ())


def _record_addresses(reply: _Reply) -> tuple[str, ...]:
    return _addresses_of(reply.records)


def _addresses_of(records: Iterable[dns.rdata.Rdata]) -> tuple[str, ...]:
    return tuple(
        str(record.address)
        for record in records
        if isinstance(record, dns.rdtypes.IN.A.A | dns.rdtypes.IN.AAAA.AAAA)
    )


def _public_part(host: MailHost) -> MailHost:
    addresses = tuple(ip for ip in host.addresses if is_global_address(ip))
    return MailHost(host.name, host.preference, addresses)


def _private_outcome(domain: str, hosts: list[MailHost]) -> DomainOutcome:
    first = hosts[0]
    return DomainOutcome(
        Reason.PRIVATE_MX,
        f"{domain}'s mail hosts have only non-public addresses "
        f"({first.name}: {first.addresses[0]}); pass --allow-private-mx "
        "to probe them",
    )


def _usable_message(domain: str, hosts: tuple[MailHost, ...], skipped: int) -> str:
    shown = ", ".join(f"{host.name} ({host.preference})" for host in hosts[:3])
    more = f" and {len(hosts) - 3} more" if len(hosts) > 3 else ""
    noun = "mail host" if len(hosts) == 1 else "mail hosts"
    message = f"{domain} has {len(hosts)} {noun}: {shown}{more}"
    if skipped:
        message += f"; {skipped} more skipped: no usable address"
    return message


def _no_usable_host(
    domain: str,
    tried: list[tuple[int, dns.name.Name]],
    lookups: list[_HostLookup],
    total: int,
) -> DomainOutcome:
    """No MX target resolved: invalid only when every one is known empty."""
    failures = [lookup for lookup in lookups if lookup.failed]
    if failures:
        first = failures[0]
        return _unknown_outcome(
            first.answer, f"no mail host of {domain} resolved: {first.problem}"
        )
    if total > len(tried):
        return DomainOutcome(
            Reason.DNS_ERROR,
            f"none of the first {len(tried)} of {domain}'s {total} mail hosts "
            "has an address; the rest were not tried",
        )

    names = ", ".join(_host_text(name) for _, name in tried[:3])
    return DomainOutcome(
        Reason.NO_MAIL_HOST,
        f"{domain}'s mail hosts ({names}) do not exist or have no address: "
        "it cannot receive mail",
    )


def _unknown_outcome(answer: _Answer, problem: str) -> DomainOutcome:
    reason = Reason.DNS_TIMEOUT if answer is _Answer.TIMEOUT else Reason.DNS_ERROR
    return DomainOutcome(reason, problem)


def _host_text(name: dns.name.Name) -> str:
    return name.to_text(omit_final_dot=True).lower()


def _format_server(server: tuple[str, int]) -> str:
    host, port = server
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _describe(error: Exception, server: str, host: str) -> str:
    if isinstance(error, ConnectionRefusedError):
        return f"{server} refused the connection when asked about {host}"
    if isinstance(error, EOFError):
        return f"{server} closed the connection before replying about {host}"
    if isinstance(error, dns.exception.FormError):
        return f"{server} sent a malformed reply about {host}"
    detail = str(error) or type(error).__name__
    return f"{server} could not be asked about {host} ({detail})"
