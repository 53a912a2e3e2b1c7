"""Asking the recursive nameservers one question, every failure translated.

`NameserverClient.ask(name, rdtype)` returns a `Reply` saying how the
question ended: records, NXDOMAIN, NODATA, FAILED (SERVFAIL, REFUSED, a
malformed reply, a network error) or TIMEOUT. It never raises a dnspython
or socket error; `checks/dns.py` turns replies into verdicts.

We use dnspython's message layer (`dns.asyncquery.udp_with_fallback`)
rather than `dns.asyncresolver`, because a verdict depends on exactly what
came back: SERVFAIL, REFUSED, NXDOMAIN, NODATA and silence each mean
something different to us, and the resolver class folds several of them into
one exception and retries by a total lifetime rather than a count.

- Each question is sent up to `attempts` times, to the nameservers in turn
  (the first one first, as resolv.conf orders them), each attempt bounded by
  `timeout`. An error reply is reported over a later timeout: it says more.
- Truncated UDP answers are asked again over TCP (RFC 7766 §5).
- Queries carry EDNS with a 1232-byte payload (the DNS Flag Day 2020 value,
  RFC 6891 §6.2.5), which avoids most TCP fallbacks without risking IP
  fragmentation.
- At most `MAX_QUERIES_IN_FLIGHT` queries wait for answers at once.
- CNAMEs are followed as far as the recursive resolver chased them in its
  answer, as stub resolvers do; we do not chase further ourselves.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

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
import dns.rdtypes.IN.A
import dns.rdtypes.IN.AAAA
import dns.resolver
import dns.rrset

__all__ = [
    "Answer",
    "NameserverClient",
    "Reply",
    "alias_target",
    "find_rrset",
    "host_text",
    "record_addresses",
    "system_nameservers",
]

logger = logging.getLogger(__name__)

# DNS Flag Day 2020: a payload that fits unfragmented on nearly every path.
EDNS_PAYLOAD = 1232
# Stub resolvers stop following CNAMEs after a few hops; loops end here.
MAX_CNAME_CHAIN = 8
# Bursts beyond this overflow the receive buffers of home routers and small
# resolvers, and every lost query costs a timeout.
MAX_QUERIES_IN_FLIGHT = 256

Nameserver = tuple[str, int]


class Answer(Enum):
    """How one question ended."""

    RECORDS = "records"
    NXDOMAIN = "nxdomain"
    NODATA = "nodata"
    FAILED = "failed"  # SERVFAIL, REFUSED, a malformed reply, a network error
    TIMEOUT = "timeout"

    @property
    def failed(self) -> bool:
        """True when the question got no usable answer: says nothing."""
        return self in (Answer.FAILED, Answer.TIMEOUT)


@dataclass(frozen=True)
class Reply:
    """One question's result: its records, or what went wrong (`problem`)."""

    answer: Answer
    records: tuple[dns.rdata.Rdata, ...] = ()
    response: dns.message.Message | None = None
    problem: str = ""

    @property
    def failed(self) -> bool:
        return self.answer.failed


class NameserverClient:
    """Asks the configured nameservers; counts queries and replies."""

    def __init__(
        self, nameservers: tuple[Nameserver, ...], timeout: float, attempts: int
    ) -> None:
        self.nameservers = nameservers
        self.timeout = timeout
        self.attempts = max(attempts, 1)
        self.queries_sent = 0
        self.replied = False  # any server ever sent a readable reply
        self._backend = dns.asyncbackend.get_backend("asyncio")
        self._in_flight = asyncio.Semaphore(MAX_QUERIES_IN_FLIGHT)

    async def ask(self, name: dns.name.Name, rdtype: int) -> Reply:
        """Ask up to `attempts` times, the nameservers in turn."""
        last = Reply(Answer.TIMEOUT, problem=self._timeout_problem(name))
        for attempt in range(self.attempts):
            server = self.nameservers[attempt % len(self.nameservers)]
            reply = await self._ask_once(name, rdtype, server)
            if not reply.failed:
                return reply
            # Report an error reply rather than a later timeout: it says more.
            if reply.answer is Answer.FAILED or last.answer is Answer.TIMEOUT:
                last = reply
        return last

    async def _ask_once(
        self, name: dns.name.Name, rdtype: int, server: Nameserver
    ) -> Reply:
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
                    timeout=self.timeout,
                    port=port,
                    ignore_unexpected=True,
                    backend=self._backend,
                )
        except dns.exception.Timeout:
            return Reply(Answer.TIMEOUT, problem=self._timeout_problem(name))
        except (dns.exception.DNSException, OSError, EOFError) as error:
            return _failed_reply(name, kind, server, error)

        self.queries_sent += used_tcp
        self.replied = True
        return _classify(response, name, kind)

    def _timeout_problem(self, name: dns.name.Name) -> str:
        return (
            f"DNS server did not answer within {self.timeout:g}s for {host_text(name)}"
        )


def system_nameservers() -> tuple[Nameserver, ...]:
    """The system's resolvers (/etc/resolv.conf, or the registry on Windows)."""
    try:
        system = dns.resolver.Resolver(configure=True)
    except dns.exception.DNSException as error:
        logger.warning("cannot read the system's DNS configuration: %s", error)
        return ()
    return tuple((str(server), system.port) for server in system.nameservers)


def host_text(name: dns.name.Name) -> str:
    """`Mx1.Acme.com.` -> `mx1.acme.com`, as we show and compare names."""
    return name.to_text(omit_final_dot=True).lower()


def record_addresses(records: Iterable[dns.rdata.Rdata]) -> tuple[str, ...]:
    """The addresses among A and AAAA records, in the order received."""
    return tuple(
        str(record.address)
        for record in records
        if isinstance(record, dns.rdtypes.IN.A.A | dns.rdtypes.IN.AAAA.AAAA)
    )


def alias_target(
    response: dns.message.Message, name: dns.name.Name
) -> dns.name.Name | None:
    """Where `name`'s CNAME in the answer section points, if it has one."""
    alias = find_rrset(response.answer, name, dns.rdatatype.CNAME)
    if alias and isinstance(alias[0], dns.rdtypes.ANY.CNAME.CNAME):
        return alias[0].target
    return None


def find_rrset(
    section: list[dns.rrset.RRset],
    owner: dns.name.Name,
    rdtype: dns.rdatatype.RdataType,
) -> tuple[dns.rdata.Rdata, ...]:
    for rrset in section:
        if rrset.match(owner, dns.rdataclass.IN, rdtype, dns.rdatatype.NONE):
            return tuple(rrset)
    return ()


def _classify(
    response: dns.message.Message,
    name: dns.name.Name,
    rdtype: dns.rdatatype.RdataType,
) -> Reply:
    """Sort a response by rcode, then follow CNAMEs to the records asked for.

    RFC 6604 §3: the rcode of an answer with a CNAME chain describes the
    last name in the chain, so a dangling alias reads as NXDOMAIN.
    """
    rcode = response.rcode()
    if rcode == dns.rcode.NXDOMAIN:
        return Reply(Answer.NXDOMAIN, response=response)
    if rcode != dns.rcode.NOERROR:
        problem = _rcode_problem(rcode, name)
        return Reply(Answer.FAILED, response=response, problem=problem)

    records = _chased_records(response, name, rdtype)
    answer = Answer.RECORDS if records else Answer.NODATA
    return Reply(answer, records, response)


def _chased_records(
    response: dns.message.Message,
    name: dns.name.Name,
    rdtype: dns.rdatatype.RdataType,
) -> tuple[dns.rdata.Rdata, ...]:
    """The records of `rdtype` at the end of `name`'s CNAME chain."""
    owner: dns.name.Name | None = name
    for _ in range(MAX_CNAME_CHAIN):
        if owner is None:
            return ()
        found = find_rrset(response.answer, owner, rdtype)
        if found:
            return found
        owner = alias_target(response, owner)
    return ()


def _rcode_problem(rcode: dns.rcode.Rcode, name: dns.name.Name) -> str:
    host = host_text(name)
    if rcode == dns.rcode.SERVFAIL:
        return (
            f"DNS server answered SERVFAIL for {host}: its authoritative "
            "servers failed or are unreachable; try again later"
        )
    if rcode == dns.rcode.REFUSED:
        return f"DNS server refused to answer for {host} (REFUSED); check --nameserver"
    return f"DNS server answered {dns.rcode.to_text(rcode)} for {host}"


def _failed_reply(
    name: dns.name.Name,
    rdtype: dns.rdatatype.RdataType,
    server: Nameserver,
    error: Exception,
) -> Reply:
    where = _format_server(server)
    logger.debug("DNS %s %s via %s failed: %r", name, rdtype.name, where, error)
    problem = _describe(error, f"DNS server {where}", host_text(name))
    return Reply(Answer.FAILED, problem=problem)


def _format_server(server: Nameserver) -> str:
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
