"""DNS: can a domain receive mail, and at which hosts and addresses?

For each domain (already in ASCII, A-label form) the resolver decides:

1. Reserved names (RFC 2606, RFC 6761 and kin: `.test`, `.example`,
   `example.com`, `.local`, `.onion`, ...) never receive mail; they are
   rejected without a query.
2. Ask for MX records. NXDOMAIN means the domain does not exist. A single
   MX of `0 .` is a null MX (RFC 7505): the domain takes no mail. An empty
   answer (NODATA) means the domain itself is the mail host at preference 0
   (implicit MX, RFC 5321 §5.1), if it has an address.
3. Resolve the mail hosts to addresses, all at once: A records, and AAAA
   only when there is no A or IPv6 is wanted (DESIGN.md §6). Addresses the
   MX answer already carries in its additional section are used as they are.
4. Judge the hosts: those with addresses are kept in preference order (ties
   by name); a host whose lookup failed is skipped. No host left means
   `no_mail_host` when every host is known to have no address, and
   `unknown` when any lookup failed: a failure is never evidence against
   the domain. Non-public addresses are dropped, and hosts left with none
   make `private_mx`, unless the user allows them (DESIGN.md §3).

Work is shared: concurrent askers for one domain await one lookup, domains
sharing a mail host share one address lookup (single flight), and answers
stay in bounded LRU caches for the job, so every row of a domain gets the
same verdict. Failures (timeouts, SERVFAIL) are kept only `FAILURE_TTL`
seconds: long enough to spare a struggling server, short enough that one
bad minute does not make a big domain unknown for a whole night's job.

The resolver is "dead" when no DNS server has sent a single reply and
`DEAD_AFTER` lookups timed out; from then on new domains are answered
`unknown/dns_timeout` at once instead of each costing its timeouts, the way
DESIGN.md §6 treats a blocked port 25. How questions are sent (attempts,
timeouts, TCP fallback) is `checks/nameserver.py`'s business.

Limitations: a domain with more than `MAX_MAIL_HOSTS` MX records has only
its most preferred ones resolved; if none of those resolves, the verdict is
`unknown`, never invalid.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

import dns.exception
import dns.message
import dns.name
import dns.rdata
import dns.rdatatype
import dns.rdtypes.ANY.MX

from emailclean.checks.addresses import is_global_address, parse_nameserver
from emailclean.checks.nameserver import (
    Answer,
    NameserverClient,
    Reply,
    alias_target,
    find_rrset,
    host_text,
    record_addresses,
    system_nameservers,
)
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

MAX_MAIL_HOSTS = 20
# RFC 2308 §7: a resolution failure is cached for at most five minutes.
FAILURE_TTL = 300.0
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

NO_NAMESERVER = "no DNS server is configured on this system; pass --nameserver 1.2.3.4"


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


def reserved_domain_outcome(domain: str) -> DomainOutcome | None:
    """The verdict for a reserved name (RFC 2606, RFC 6761), else None."""
    for suffix, source in RESERVED_SUFFIXES.items():
        if domain == suffix or domain.endswith("." + suffix):
            return DomainOutcome(
                Reason.RESERVED_DOMAIN,
                f"{domain} is a reserved name ({source}): it never receives mail",
            )
    return None


@dataclass(frozen=True)
class _HostLookup:
    """A mail host's addresses, or why it has none."""

    addresses: tuple[str, ...]
    answer: Answer
    problem: str = ""

    @property
    def failed(self) -> bool:
        return self.answer.failed


_Key = TypeVar("_Key", bound=Hashable)
_Value = TypeVar("_Value")


class _SingleFlight(Generic[_Key, _Value]):
    """A bounded LRU of results, plus the lookups still in flight.

    Concurrent askers for one key await the same task; a cancelled asker
    does not cancel the lookup others wait for. `lifetime` says how many
    seconds a result stays (None: for the whole job).
    """

    def __init__(
        self, capacity: int, lifetime: Callable[[_Value], float | None]
    ) -> None:
        self.capacity = max(capacity, 1)
        self.lifetime = lifetime
        self.done: OrderedDict[_Key, tuple[_Value, float]] = OrderedDict()
        self.pending: dict[_Key, asyncio.Task[_Value]] = {}

    def get(self, key: _Key) -> _Value | None:
        entry = self.done.get(key)
        if entry is None:
            return None
        value, expires = entry
        if expires < time.monotonic():
            del self.done[key]
            return None
        self.done.move_to_end(key)
        return value

    def put(self, key: _Key, value: _Value) -> None:
        seconds = self.lifetime(value)
        expires = math.inf if seconds is None else time.monotonic() + seconds
        self.done[key] = (value, expires)
        self.done.move_to_end(key)
        while len(self.done) > self.capacity:
            self.done.popitem(last=False)

    def lasting(self) -> list[tuple[_Key, _Value]]:
        """The results kept for the whole job."""
        return [
            (key, value)
            for key, (value, expires) in self.done.items()
            if expires == math.inf
        ]

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
        self.health = ResolverHealth()
        nameservers = settings.nameservers or system_nameservers()
        self._client = NameserverClient(
            nameservers, settings.timeout, settings.attempts
        )
        self._domains: _SingleFlight[str, DomainOutcome] = _SingleFlight(
            settings.cache_size, _domain_lifetime
        )
        self._hosts: _SingleFlight[dns.name.Name, _HostLookup] = _SingleFlight(
            settings.cache_size, _host_lifetime
        )

    @property
    def queries_sent(self) -> int:
        """DNS queries sent so far (a TCP retry counts as one more)."""
        return self._client.queries_sent

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
        """The domain outcomes kept for the job: failures are left out."""
        return iter(self._domains.lasting())

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
        self.health.replied = self._client.replied
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
        if not self._client.nameservers:
            return DomainOutcome(Reason.DNS_ERROR, NO_NAMESERVER)

        reply = await self._client.ask(name, dns.rdatatype.MX)
        if reply.answer is Answer.NXDOMAIN:
            return _no_domain_outcome(domain, name, reply)
        if reply.failed:
            return _unknown_outcome(reply.answer, reply.problem)
        if reply.answer is Answer.NODATA:
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

    async def _judge_mx(self, domain: str, reply: Reply) -> DomainOutcome:
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
            MailHost(host_text(name), preference, lookup.addresses)
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
        return _HostLookup(addresses, Answer.RECORDS)

    async def _lookup_addresses(self, name: dns.name.Name) -> _HostLookup:
        """DESIGN.md §6: A records; AAAA when there is no A or IPv6 is on."""
        ipv4 = await self._client.ask(name, dns.rdatatype.A)
        if ipv4.failed or ipv4.answer is Answer.NXDOMAIN:
            return _HostLookup((), ipv4.answer, ipv4.problem)
        if ipv4.records and not self.settings.use_ipv6:
            return _HostLookup(record_addresses(ipv4.records), Answer.RECORDS)

        ipv6 = await self._client.ask(name, dns.rdatatype.AAAA)
        addresses = record_addresses(ipv4.records) + record_addresses(ipv6.records)
        if addresses:
            return _HostLookup(addresses, Answer.RECORDS)
        if ipv6.failed:
            return _HostLookup((), ipv6.answer, ipv6.problem)
        return _HostLookup((), Answer.NODATA)


def _domain_lifetime(outcome: DomainOutcome) -> float | None:
    if outcome.reason in (Reason.DNS_TIMEOUT, Reason.DNS_ERROR):
        return FAILURE_TTL
    return None


def _host_lifetime(lookup: _HostLookup) -> float | None:
    return FAILURE_TTL if lookup.failed else None


def _domain_name(domain: str) -> dns.name.Name | DomainOutcome:
    """The DNS name to ask about, or why there is none (RFC 1035 §2.3.4)."""
    if not domain:
        return DomainOutcome(Reason.BAD_SYNTAX, "the domain is empty")
    try:
        return dns.name.from_text(domain)
    except dns.exception.DNSException as error:
        message = f"{domain} is not a valid domain name ({error})"
        return DomainOutcome(Reason.BAD_SYNTAX, message)


def _no_domain_outcome(domain: str, name: dns.name.Name, reply: Reply) -> DomainOutcome:
    """NXDOMAIN; RFC 6604 §3: through a CNAME it is the alias's target's."""
    target = alias_target(reply.response, name) if reply.response else None
    if target is None:
        return DomainOutcome(Reason.NO_DOMAIN, f"{domain} does not exist (NXDOMAIN)")
    return DomainOutcome(
        Reason.NO_DOMAIN,
        f"{domain} is an alias of {host_text(target)}, which does not exist (NXDOMAIN)",
    )


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
        key=lambda pair: (pair[0], host_text(pair[1])),
    )


def _additional_addresses(
    response: dns.message.Message,
    name: dns.name.Name,
    rdtype: dns.rdatatype.RdataType,
) -> tuple[str, ...]:
    return record_addresses(find_rrset(response.additional, name, rdtype))


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

    names = ", ".join(host_text(name) for _, name in tried[:3])
    return DomainOutcome(
        Reason.NO_MAIL_HOST,
        f"{domain}'s mail hosts ({names}) do not exist or have no address: "
        "it cannot receive mail",
    )


def _unknown_outcome(answer: Answer, problem: str) -> DomainOutcome:
    reason = Reason.DNS_TIMEOUT if answer is Answer.TIMEOUT else Reason.DNS_ERROR
    return DomainOutcome(reason, problem)
