"""Loopback SMTP servers with one scripted behaviour each (DESIGN.md §10).

Every server of one `SmtpWorld.start` call listens on the same port, each on
its own loopback address (127.0.0.2, 127.0.0.3, ...), because the product
has a single `--smtp-port` for every mail host. The port is picked free and
picked again if any address collides.

The servers are aiosmtpd protocol instances driven by one event loop in a
background thread, so in-process tests and CLI subprocesses can both talk
to them. Each records what clients sent (commands per connection, current
and peak concurrent connections, recipients per session) so tests can
assert politeness. DATA is always answered 554 and recorded, so a test can
prove the product never sends it.

A `ServerSpec` describes a behaviour; the small functions below (`mailbox`,
`catch_all`, `greylisting`, ...) build the ones the test suite uses.
"""

from __future__ import annotations

import asyncio
import select
import socket
import ssl
import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

LOOPBACK_FIRST_HOST = 2  # 127.0.0.1 is left to everything else on the machine
TLS_DIR = Path(__file__).parent / "tls"
UNKNOWN_USER = "550 5.1.1 <{address}>: Recipient address rejected: user unknown"
GREYLISTED = "450 4.2.0 <{address}>: greylisted, try again later"
TOO_MANY = "452 4.5.3 Error: too many recipients"
TOO_BUSY = "421 4.7.0 Too many connections, closing transmission channel"
NEEDS_TLS = "530 5.7.0 Must issue a STARTTLS command first"
NO_DATA = "554 5.5.1 This test server never accepts DATA"
MULTILINE_UNKNOWN = (
    "550-5.1.1 The email account that you tried to reach does not exist.\r\n"
    "550-5.1.1 Please try double-checking the recipient's email address\r\n"
    "550 5.1.1 for typos or unnecessary spaces."
)
MULTILINE_OK = "250-2.1.5 Recipient ok\r\n250 2.1.5 (really)"


@dataclass(frozen=True)
class ServerSpec:
    """One server's behaviour; the defaults are a plain, polite mailbox."""

    users: frozenset[str] = frozenset()  # local parts that exist
    catch_all: bool = False
    greylist_attempts: int = 0  # first N RCPTs of a recipient get 450
    rcpt_reply: str | None = None  # fixed answer to every RCPT
    mail_reply: str | None = None  # fixed answer to MAIL FROM
    greeting_delay: float = 0.0  # tarpit: seconds before the banner
    greeting_reply: str | None = None  # a refusing banner, then close
    drop_after_rcpt: int = 0  # close without a reply on RCPT number N
    drop_connections: int = 1_000_000  # ... on the first K connections only
    max_concurrent: int | None = None  # greet 421 past N connections
    max_recipients: int | None = None  # 452 4.5.3 past N RCPTs a transaction
    ehlo_refused: bool = False  # EHLO gets 502, HELO works
    starttls: str | None = None  # None, "offer", "require" or "broken"
    smtputf8: bool = False
    multiline: bool = False  # multiline banner and RCPT replies
    unreachable: bool = False  # backlog-0 socket that never accepts


def mailbox(*users: str, **overrides: Any) -> ServerSpec:
    return ServerSpec(users=frozenset(u.lower() for u in users), **overrides)


def catch_all() -> ServerSpec:
    return ServerSpec(catch_all=True)


def greylisting(attempts: int, *users: str) -> ServerSpec:
    return mailbox(*users, greylist_attempts=attempts)


def sender_block() -> ServerSpec:
    return ServerSpec(mail_reply="550 5.7.1 Sender address rejected: blocked")


def policy_block() -> ServerSpec:
    reply = "550 5.7.1 Service unavailable; client host blocked using Spamhaus"
    return ServerSpec(rcpt_reply=reply)


def mailbox_full() -> ServerSpec:
    return ServerSpec(rcpt_reply="552 5.2.2 Mailbox full, over quota")


def disabled() -> ServerSpec:
    return ServerSpec(rcpt_reply="550 5.2.1 The email account is disabled")


def bare_user_unknown() -> ServerSpec:
    return ServerSpec(rcpt_reply="550 User unknown")


def tarpit(delay: float = 30.0) -> ServerSpec:
    return ServerSpec(greeting_delay=delay)


def drop_after_rcpt(*users: str, rcpt: int = 1, times: int = 1) -> ServerSpec:
    return mailbox(*users, drop_after_rcpt=rcpt, drop_connections=times)


def connection_limit(limit: int, *users: str) -> ServerSpec:
    return mailbox(*users, max_concurrent=limit)


def recipient_limit(limit: int, *users: str) -> ServerSpec:
    return mailbox(*users, max_recipients=limit)


def ehlo_refused(*users: str) -> ServerSpec:
    return mailbox(*users, ehlo_refused=True)


def starttls_required(*users: str) -> ServerSpec:
    return mailbox(*users, starttls="require")


def broken_tls(*users: str) -> ServerSpec:
    """Offers STARTTLS, says 220, then answers the handshake with junk."""
    return mailbox(*users, starttls="broken")


def tls_unavailable(*users: str) -> ServerSpec:
    """Offers STARTTLS but answers it 454 (RFC 3207 §4)."""
    return mailbox(*users, starttls="unavailable")


def multiline(*users: str) -> ServerSpec:
    return mailbox(*users, multiline=True)


def refusing_greeting(reply: str = "554 5.7.1 No SMTP service here") -> ServerSpec:
    return ServerSpec(greeting_reply=reply)


def gibberish() -> ServerSpec:
    return ServerSpec(rcpt_reply="hello, this is not SMTP at all")


def unreachable() -> ServerSpec:
    return ServerSpec(unreachable=True)


@dataclass
class ConnectionRecord:
    """What one client connection sent, in order, as (verb, argument)."""

    commands: list[tuple[str, str]] = field(default_factory=list)
    tls: bool = False
    refused: bool = False  # greeted 421 for being past the limit

    @property
    def verbs(self) -> list[str]:
        return [verb for verb, _ in self.commands]

    @property
    def recipients(self) -> list[str]:
        return [arg for verb, arg in self.commands if verb == "RCPT"]


@dataclass
class ServerRecord:
    """Everything a server saw, for politeness assertions."""

    connections: list[ConnectionRecord] = field(default_factory=list)
    current: int = 0
    max_concurrent: int = 0
    rcpt_attempts: Counter[str] = field(default_factory=Counter)

    @property
    def connections_total(self) -> int:
        return len(self.connections)

    @property
    def recipients_per_session(self) -> list[int]:
        return [len(c.recipients) for c in self.connections]

    @property
    def data_commands(self) -> int:
        return sum(c.verbs.count("DATA") for c in self.connections)

    @property
    def recipients(self) -> list[str]:
        return [r for c in self.connections for r in c.recipients]


@dataclass
class ConcurrencyRecord:
    """Connections open at once across every server of one world."""

    current: int = 0
    max_concurrent: int = 0

    def opened(self) -> None:
        self.current += 1
        self.max_concurrent = max(self.max_concurrent, self.current)


@dataclass
class SmtpTestServer:
    """One running server: where it is, how it behaves, what it saw."""

    key: str
    address: str
    port: int
    spec: ServerSpec
    world: ConcurrencyRecord
    record: ServerRecord = field(default_factory=ServerRecord)

    @property
    def mx_name(self) -> str:
        """The MX host name tests give this server (outside special-use TLDs)."""
        return f"{self.key}.mx.emailclean-world.net"


def _local_part(address: str) -> str:
    return address.rpartition("@")[0].strip("<>").lower()


class _Handler:
    """aiosmtpd hooks: the scripted answers to MAIL and RCPT."""

    def __init__(self, server: SmtpTestServer) -> None:
        self.server = server
        self.spec = server.spec

    async def handle_MAIL(
        self,
        smtp: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        options: list[str],
    ) -> str:
        if self.spec.starttls == "require" and session.ssl is None:
            return NEEDS_TLS
        if self.spec.mail_reply is not None:
            return self.spec.mail_reply
        envelope.mail_from = address
        envelope.rcpt_tos = []
        return "250 2.1.0 Ok"

    async def handle_RCPT(
        self,
        smtp: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        options: list[str],
    ) -> str:
        if self.spec.starttls == "require" and session.ssl is None:
            return NEEDS_TLS
        envelope.rcpt_tos.append(address)
        limit = self.spec.max_recipients
        if limit is not None and len(envelope.rcpt_tos) > limit:
            envelope.rcpt_tos.pop()
            return TOO_MANY
        return self._answer_recipient(address)

    def _answer_recipient(self, address: str) -> str:
        attempts = self.server.record.rcpt_attempts
        attempts[address.lower()] += 1
        if attempts[address.lower()] <= self.spec.greylist_attempts:
            return GREYLISTED.format(address=address)

        if self.spec.rcpt_reply is not None:
            return self.spec.rcpt_reply
        if self.spec.catch_all or _local_part(address) in self.spec.users:
            return MULTILINE_OK if self.spec.multiline else "250 2.1.5 Ok"
        if self.spec.multiline:
            return MULTILINE_UNKNOWN
        return UNKNOWN_USER.format(address=address)


class _RecordingSMTP(SMTP):
    """An aiosmtpd session that records commands and plays its spec."""

    def __init__(self, server: SmtpTestServer, **kwargs: Any) -> None:
        super().__init__(_Handler(server), **kwargs)
        self._server = server
        self._connection: ConnectionRecord | None = None
        self._index = 0  # of this connection among the server's
        self._rcpt_count = 0  # in the current transaction

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._connection is None:
            self._open_record()
        else:
            self._connection.tls = True
        super().connection_made(transport)

    def _open_record(self) -> None:
        record = self._server.record
        self._connection = ConnectionRecord()
        self._index = len(record.connections)
        record.connections.append(self._connection)
        record.current += 1
        record.max_concurrent = max(record.max_concurrent, record.current)
        self._server.world.opened()
        limit = self._server.spec.max_concurrent
        self._connection.refused = limit is not None and record.current > limit

    def connection_lost(self, error: Exception | None) -> None:
        if self._connection is not None:
            self._server.record.current -= 1
            self._server.world.current -= 1
            self._connection = None
        super().connection_lost(error)

    async def _handle_client(self) -> None:
        spec = self._server.spec
        if spec.greeting_delay:
            await asyncio.sleep(spec.greeting_delay)
        if self._connection is not None and self._connection.refused:
            await self.push(TOO_BUSY)
            self._close()
            return
        if spec.greeting_reply is not None:
            await self.push(spec.greeting_reply)
            self._close()
            return
        if spec.multiline:
            await self.push(f"220-{self.hostname} multiline banner")
        await super()._handle_client()

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def _note(self, verb: str, arg: str | None) -> None:
        if self._connection is not None:
            self._connection.commands.append((verb, arg or ""))

    async def smtp_EHLO(self, hostname: str) -> None:
        self._note("EHLO", hostname)
        if self._server.spec.ehlo_refused:
            await self.push("502 5.5.2 Error: command not recognized")
            return
        await super().smtp_EHLO(hostname)

    async def smtp_HELO(self, hostname: str) -> None:
        self._note("HELO", hostname)
        await super().smtp_HELO(hostname)

    async def smtp_STARTTLS(self, arg: str) -> None:
        self._note("STARTTLS", arg)
        mode = self._server.spec.starttls
        if mode == "unavailable":
            await self.push("454 4.7.0 TLS not available due to temporary reason")
            return
        if mode == "broken":
            await self.push("220 2.0.0 Ready to start TLS")
            await self.push("this is not a TLS handshake")
            self._close()
            return
        await super().smtp_STARTTLS(arg)

    async def smtp_MAIL(self, arg: str | None) -> None:
        self._note("MAIL", arg)
        self._rcpt_count = 0
        await super().smtp_MAIL(arg)

    async def smtp_RCPT(self, arg: str | None) -> None:
        self._note("RCPT", arg)
        self._rcpt_count += 1
        if self._should_drop():
            self._close()
            return
        await super().smtp_RCPT(arg)

    def _should_drop(self) -> bool:
        spec = self._server.spec
        return (
            spec.drop_after_rcpt > 0
            and self._rcpt_count == spec.drop_after_rcpt
            and self._index < spec.drop_connections
        )

    async def smtp_RSET(self, arg: str) -> None:
        self._note("RSET", arg)
        await super().smtp_RSET(arg)

    async def smtp_NOOP(self, arg: str) -> None:
        self._note("NOOP", arg)
        await super().smtp_NOOP(arg)

    async def smtp_QUIT(self, arg: str) -> None:
        self._note("QUIT", arg)
        await super().smtp_QUIT(arg)

    async def smtp_DATA(self, arg: str) -> None:
        self._note("DATA", arg)
        await self.push(NO_DATA)


def _server_tls_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(TLS_DIR / "cert.pem", TLS_DIR / "key.pem")
    return context


def _bind(address: str, port: int, backlog: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return sock


def _fill_backlog(address: str, port: int) -> list[socket.socket]:
    """Connect to a never-accepting listener until a handshake hangs.

    Linux keeps backlog + 1 finished handshakes waiting for accept(); once
    that queue is full it drops every further SYN, so later connects hang
    until the client gives up. The fillers stay open for the server's life.
    """
    fillers: list[socket.socket] = []
    for _ in range(16):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        fillers.append(sock)
        sock.connect_ex((address, port))
        _, writable, _ = select.select([], [sock], [], 0.2)
        if not writable:
            return fillers
    raise RuntimeError(f"could not fill the backlog of {address}:{port}")


class SmtpWorld:
    """A background event loop holding a set of scripted SMTP servers."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="smtp-world", daemon=True
        )
        self._thread.start()
        self._listeners: list[socket.socket] = []
        self._fillers: list[socket.socket] = []
        self._servers: list[asyncio.Server] = []
        self._protocols: list[_RecordingSMTP] = []

    def start(self, specs: Mapping[str, ServerSpec]) -> RunningServers:
        """Start one server per spec, all on one free port; return them."""
        for _ in range(50):
            bound = self._bind_all(specs)
            if bound is not None:
                port, sockets = bound
                return self._serve(specs, port, sockets)
        raise RuntimeError("no free port shared by every loopback address")

    def _bind_all(
        self, specs: Mapping[str, ServerSpec]
    ) -> tuple[int, list[socket.socket]] | None:
        sockets: list[socket.socket] = []
        port = 0
        try:
            for index, spec in enumerate(specs.values()):
                address = f"127.0.0.{LOOPBACK_FIRST_HOST + index}"
                backlog = 0 if spec.unreachable else 128
                sockets.append(_bind(address, port, backlog))
                port = sockets[0].getsockname()[1]
        except OSError:
            for sock in sockets:
                sock.close()
            return None
        return port, sockets

    def _serve(
        self,
        specs: Mapping[str, ServerSpec],
        port: int,
        sockets: list[socket.socket],
    ) -> RunningServers:
        servers: dict[str, SmtpTestServer] = {}
        world = ConcurrencyRecord()
        for (key, spec), sock in zip(specs.items(), sockets, strict=True):
            address = sock.getsockname()[0]
            server = SmtpTestServer(key, address, port, spec, world)
            servers[key] = server
            self._listeners.append(sock)
            if spec.unreachable:
                self._fillers.extend(_fill_backlog(address, port))
            else:
                self._run(self._start_server(server, sock))
        return RunningServers(port, servers, world)

    async def _start_server(self, server: SmtpTestServer, sock: socket.socket) -> None:
        tls = _server_tls_context() if server.spec.starttls else None

        def factory() -> _RecordingSMTP:
            protocol = _RecordingSMTP(
                server,
                hostname=server.mx_name,
                tls_context=tls,
                enable_SMTPUTF8=server.spec.smtputf8,
                loop=self.loop,
            )
            self._protocols.append(protocol)
            return protocol

        self._servers.append(await self.loop.create_server(factory, sock=sock))

    def _run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(10)

    def stop(self) -> None:
        """Close every server and connection, then the loop and its thread."""
        self._run(self._close_all())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()
        for sock in self._fillers + self._listeners:
            sock.close()

    async def _close_all(self) -> None:
        for server in self._servers:
            server.close()
        for protocol in self._protocols:
            if protocol.transport is not None:
                protocol.transport.close()
        for server in self._servers:
            await server.wait_closed()
        await self._cancel_leftover_tasks()

    async def _cancel_leftover_tasks(self) -> None:
        await asyncio.sleep(0)
        current = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@dataclass
class RunningServers:
    """The servers of one `SmtpWorld.start`, by key; all share `port`."""

    port: int
    servers: dict[str, SmtpTestServer]
    concurrency: ConcurrencyRecord

    def __getitem__(self, key: str) -> SmtpTestServer:
        return self.servers[key]

    def __iter__(self) -> Iterator[SmtpTestServer]:
        return iter(self.servers.values())
