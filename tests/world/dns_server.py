"""A real DNS server on loopback, answering from a zone table written in tests.

It plays the part of the recursive resolver the product talks to: it answers
real DNS messages (built with dnspython) over UDP and TCP on one port of
127.0.0.1, chases CNAMEs inside its table as a recursive resolver would, and
can misbehave per name (SERVFAIL, REFUSED, silence, truncation, garbage,
delays). It runs its own asyncio loop in a background thread, so in-process
tests and CLI subprocesses can both use it.

    zone = Zone().mx("acme-mail.com", [(10, "mx1.acme-mail.com")])
    zone.a("mx1.acme-mail.com", "127.0.0.2")
    with DnsServer(zone) as server:
        ...  # point the product at server.nameserver
        assert server.count("acme-mail.com", "MX") == 1

Delays are scheduled on the loop, so a slow answer never holds up another
query; a table of thousands of domains each answered after 20 ms is fine.
Behaviours apply to the name asked, not to names reached through a CNAME.
"""

from __future__ import annotations

import asyncio
import functools
import os
import socket
import struct
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from types import TracebackType
from typing import Self, cast

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

TTL = 300
# RFC 1035 §4.2.1: a UDP answer without EDNS fits in 512 bytes.
CLASSIC_UDP_SIZE = 512
# RFC 1035 §4.2.2: a TCP message carries a 16-bit length.
MAX_TCP_SIZE = 65535
MAX_CHASE = 8
RECEIVE_BUFFER = 4 << 20
# What `respond` returns to close a TCP connection without replying.
HANG_UP = b""


class Behaviour(Enum):
    """How the server misbehaves for one name."""

    SERVFAIL = "servfail"
    REFUSED = "refused"
    SILENT = "silent"
    TRUNCATE = "truncate"
    GARBAGE = "garbage"
    HANG_UP = "hang_up"


RdataTexts = dict[dns.rdatatype.RdataType, list[str]]


def to_name(text: str) -> dns.name.Name:
    """A table key: absolute, so `acme.com` and `acme.com.` are one name."""
    return dns.name.from_text(text)


def name_text(name: dns.name.Name) -> str:
    """How queries are recorded: lower case, no final dot (`acme.com`)."""
    return name.to_text(omit_final_dot=True).lower()


def to_rdtype(rdtype: str | dns.rdatatype.RdataType) -> dns.rdatatype.RdataType:
    return dns.rdatatype.RdataType.make(rdtype)


@dataclass
class Zone:
    """The table the server answers from; every method returns the zone.

    Names may be given in U-label form; they are stored as A-labels
    (`münchen.de` becomes `xn--mnchen-3ya.de`), as DNS carries them.
    """

    records: dict[dns.name.Name, RdataTexts] = field(default_factory=dict)
    behaviours: dict[tuple[dns.name.Name, int | None], Behaviour] = field(
        default_factory=dict
    )
    delays: dict[dns.name.Name, float] = field(default_factory=dict)
    with_additional: set[dns.name.Name] = field(default_factory=set)

    def add(self, name: str, rdtype: str, *texts: str) -> Zone:
        """Add records of any type, in zone-file text (`"10 mx1.acme.com."`)."""
        node = self.records.setdefault(to_name(name), {})
        node.setdefault(to_rdtype(rdtype), []).extend(texts)
        return self

    def mx(
        self, name: str, hosts: Iterable[tuple[int, str]], additional: bool = False
    ) -> Zone:
        """MX records; `additional` also sends the hosts' A/AAAA records."""
        if additional:
            self.with_additional.add(to_name(name))
        texts = [f"{preference} {to_name(host)}" for preference, host in hosts]
        return self.add(name, "MX", *texts)

    def null_mx(self, name: str) -> Zone:
        """RFC 7505: the single record `0 .` says the domain takes no mail."""
        return self.add(name, "MX", "0 .")

    def a(self, name: str, *addresses: str) -> Zone:
        return self.add(name, "A", *addresses)

    def aaaa(self, name: str, *addresses: str) -> Zone:
        return self.add(name, "AAAA", *addresses)

    def cname(self, name: str, target: str) -> Zone:
        return self.add(name, "CNAME", str(to_name(target)))

    def txt(self, name: str, text: str = "v=spf1 -all") -> Zone:
        """A record of another type: the name exists, so MX/A get NODATA."""
        return self.add(name, "TXT", f'"{text}"')

    def servfail(self, name: str, rdtype: str | None = None) -> Zone:
        return self._behave(name, rdtype, Behaviour.SERVFAIL)

    def refused(self, name: str, rdtype: str | None = None) -> Zone:
        return self._behave(name, rdtype, Behaviour.REFUSED)

    def silent(self, name: str, rdtype: str | None = None) -> Zone:
        """Never answer queries for `name` (of `rdtype`, or of any type)."""
        return self._behave(name, rdtype, Behaviour.SILENT)

    def truncate(self, name: str, rdtype: str | None = None) -> Zone:
        """UDP answers set TC and carry no records; TCP answers in full."""
        return self._behave(name, rdtype, Behaviour.TRUNCATE)

    def garbage(self, name: str, rdtype: str | None = None) -> Zone:
        """Answer with bytes that are not a DNS message."""
        return self._behave(name, rdtype, Behaviour.GARBAGE)

    def hang_up(self, name: str, rdtype: str | None = None) -> Zone:
        """UDP answers set TC; TCP connections close without a reply."""
        return self._behave(name, rdtype, Behaviour.HANG_UP)

    def delay(self, name: str, seconds: float) -> Zone:
        self.delays[to_name(name)] = seconds
        return self

    def behaviour(self, name: dns.name.Name, rdtype: int) -> Behaviour | None:
        exact = self.behaviours.get((name, rdtype))
        return exact or self.behaviours.get((name, None))

    def _behave(self, name: str, rdtype: str | None, what: Behaviour) -> Zone:
        key_type = None if rdtype is None else int(to_rdtype(rdtype))
        self.behaviours[(to_name(name), key_type)] = what
        return self


@dataclass(frozen=True)
class Query:
    """One query the server received: `Query("acme.com", "MX", "udp")`."""

    name: str
    rdtype: str
    transport: str


def answer(zone: Zone, query: dns.message.Message) -> dns.message.Message:
    """Build the full answer to `query` from the table, chasing CNAMEs."""
    response = dns.message.make_response(query)
    response.flags |= dns.flags.RA
    question = query.question[0]
    name, rdtype = question.name, question.rdtype

    for _ in range(MAX_CHASE):
        node = zone.records.get(name)
        if node is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
            response.authority.append(soa_for(name))
            return response

        cname = node.get(dns.rdatatype.CNAME)
        if cname and rdtype != dns.rdatatype.CNAME:
            response.answer.append(make_rrset(name, dns.rdatatype.CNAME, cname))
            name = dns.name.from_text(cname[0])
            continue

        texts = node.get(dns.rdatatype.RdataType(rdtype))
        if not texts:
            response.authority.append(soa_for(name))
            return response
        response.answer.append(make_rrset(name, rdtype, texts))
        if rdtype == dns.rdatatype.MX and name in zone.with_additional:
            add_mx_addresses(zone, response, texts)
        return response

    response.set_rcode(dns.rcode.SERVFAIL)
    return response


def make_rrset(name: dns.name.Name, rdtype: int, texts: list[str]) -> dns.rrset.RRset:
    return parsed_rrset(name, dns.rdatatype.RdataType(rdtype), tuple(texts))


@functools.lru_cache(maxsize=1 << 16)
def parsed_rrset(
    name: dns.name.Name, rdtype: dns.rdatatype.RdataType, texts: tuple[str, ...]
) -> dns.rrset.RRset:
    """Parsed once, shared by every answer (rendering does not change it)."""
    return dns.rrset.from_text_list(name, TTL, dns.rdataclass.IN, rdtype, texts)


def soa_for(name: dns.name.Name) -> dns.rrset.RRset:
    """An SOA for the authority section, owned by the name's last two labels."""
    apex = dns.name.Name(name.labels[-3:])
    text = f"ns1.{apex} hostmaster.{apex} 1 3600 600 86400 60"
    return make_rrset(apex, dns.rdatatype.SOA, [text])


def add_mx_addresses(
    zone: Zone, response: dns.message.Message, mx_texts: list[str]
) -> None:
    for text in mx_texts:
        host = dns.name.from_text(text.split()[1])
        node = zone.records.get(host, {})
        for rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
            if node.get(rdtype):
                response.additional.append(make_rrset(host, rdtype, node[rdtype]))


def truncated(query: dns.message.Message) -> dns.message.Message:
    response = dns.message.make_response(query)
    response.flags |= dns.flags.RA | dns.flags.TC
    return response


def udp_size(query: dns.message.Message) -> int:
    """RFC 6891 §6.2.5: EDNS raises the UDP limit to the client's payload."""
    if query.edns < 0:
        return CLASSIC_UDP_SIZE
    return max(query.payload, CLASSIC_UDP_SIZE)


class DnsServer:
    """The loopback server: UDP and TCP on one port, in its own thread."""

    def __init__(
        self, zone: Zone | None = None, delay: float = 0.0, host: str = "127.0.0.1"
    ) -> None:
        self.zone = zone or Zone()
        self.delay = delay
        self.host = host
        self.port = 0
        self.queries: list[Query] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._closers: list[asyncio.BaseTransport | asyncio.Server] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._failure: OSError | None = None

    @property
    def nameserver(self) -> str:
        """What `--nameserver` takes: `127.0.0.1:PORT` or `[::1]:PORT`."""
        if ":" in self.host:
            return f"[{self.host}]:{self.port}"
        return f"{self.host}:{self.port}"

    def set_zone(self, zone: Zone) -> None:
        self.zone = zone

    def count(self, name: str, rdtype: str | None = None) -> int:
        """How many queries asked for `name` (of `rdtype`, or of any type)."""
        wanted = name_text(to_name(name))
        return sum(
            1
            for query in list(self.queries)
            if query.name == wanted and rdtype in (None, query.rdtype)
        )

    def clear(self) -> None:
        self.queries.clear()

    def start(self) -> Self:
        self._thread = threading.Thread(
            target=self._run, name=f"dns-server-{id(self)}", daemon=True
        )
        self._thread.start()
        self._ready.wait(timeout=10)
        if self._failure is not None:
            raise RuntimeError("DNS test server did not start") from self._failure
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        self._loop = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._listen())
        except OSError as error:  # start() raises it in the test thread
            self._failure = error
            self._ready.set()
            loop.close()
            return

        self._ready.set()
        loop.run_forever()
        loop.run_until_complete(self._shut_down())
        loop.close()

    async def _listen(self) -> None:
        """Bind UDP to a free port, then TCP to the same port (retrying)."""
        loop = asyncio.get_running_loop()
        for _ in range(20):
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _UdpProtocol(self), local_addr=(self.host, 0)
            )
            port = transport.get_extra_info("sockname")[1]
            # Room for a burst of queries (the OS may cap it lower).
            udp = transport.get_extra_info("socket")
            udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
            try:
                server = await asyncio.start_server(
                    self._serve_tcp, self.host, port, reuse_address=True
                )
            except OSError:
                transport.close()
                continue
            self.port = port
            self._closers += [transport, server]
            return
        raise OSError("no port free for both UDP and TCP")

    async def _shut_down(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for closer in self._closers:
            closer.close()
        for closer in self._closers:
            if isinstance(closer, asyncio.Server):
                await closer.wait_closed()
        await asyncio.sleep(0)

    def spawn(self, coroutine: object) -> None:
        assert asyncio.iscoroutine(coroutine)
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def respond(self, wire: bytes, transport: str) -> bytes | None:
        """The bytes to send back for one query, or None to stay silent."""
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None
        if not query.question:
            return None
        question = query.question[0]
        self.queries.append(
            Query(
                name_text(question.name),
                dns.rdatatype.to_text(question.rdtype),
                transport,
            )
        )

        zone = self.zone
        delay = zone.delays.get(question.name, self.delay)
        if delay:
            await asyncio.sleep(delay)
        return self._reply(zone, query, transport)

    def _reply(
        self, zone: Zone, query: dns.message.Message, transport: str
    ) -> bytes | None:
        question = query.question[0]
        behaviour = zone.behaviour(question.name, question.rdtype)
        if behaviour is Behaviour.SILENT:
            return None
        if behaviour is Behaviour.GARBAGE:
            return os.urandom(7)
        if behaviour in (Behaviour.SERVFAIL, Behaviour.REFUSED):
            response = dns.message.make_response(query)
            rcode = dns.rcode.Rcode[behaviour.name]
            response.set_rcode(rcode)
            return response.to_wire()

        if behaviour is Behaviour.HANG_UP:
            return truncated(query).to_wire() if transport == "udp" else HANG_UP
        if behaviour is Behaviour.TRUNCATE and transport == "udp":
            return truncated(query).to_wire()
        response = answer(zone, query)
        if transport == "tcp":
            return response.to_wire(max_size=MAX_TCP_SIZE)
        try:
            return response.to_wire(max_size=udp_size(query))
        except dns.exception.TooBig:
            return truncated(query).to_wire()

    async def _serve_tcp(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """RFC 1035 §4.2.2: each message is preceded by its 2-byte length."""
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            while True:
                (length,) = struct.unpack("!H", await reader.readexactly(2))
                reply = await self.respond(await reader.readexactly(length), "tcp")
                if reply is None:
                    continue
                if reply == HANG_UP:
                    break
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            if task is not None:
                self._tasks.discard(task)


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.server.spawn(self._answer(data, addr))

    async def _answer(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = await self.server.respond(data, "udp")
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)


def free_udp_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on (for 'closed port' tests); may race, rarely."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
    return port
