"""The mailbox prober: polite, shared SMTP sessions for many concurrent rows.

`MailboxProber.probe` is awaited by hundreds of pipeline rows at once. It
does not open a connection per row. Each row becomes a request queued on
its first usable MX host (RFC 5321 §5.1: lowest preference first); each
host runs at most `per_host` sessions (and all hosts `max_connections`).
A session takes up to `recipients_per_session` queued requests and asks
about them in one transaction: one MAIL FROM, one RCPT TO each, RSET.
It never sends DATA. While work keeps arriving it takes more; once idle
for a moment, or once it has sent its share of RCPTs, it says QUIT.

What the pool does with each reply comes from `replies.classify_reply`:

- a verdict finishes the request;
- 452 4.5.3 (too many recipients) puts the rest back at the head of the
  queue for a new transaction, with no verdict;
- 4yz (greylisting, RFC 6647) schedules the request again after a delay
  that doubles, on a timer: no worker or connection waits for it. When
  `greylist_wait` has passed, the request ends `greylisted` (or
  `temporary_failure`);
- 421 closes the session and backs the host off with doubling delays;
  a request that meets it three times ends `rate_limited`.

Failures are never evidence against an address. A host that refuses or
resets the connection hands its requests to the next MX; the last one
ends `smtp_unreachable`. A host that times out twice in a row is written
off for the rest of the job, so later rows fail fast with `smtp_timeout`.
If the first connects to three distinct addresses all time out at the
TCP handshake and nothing has ever connected, outbound port 25 is taken to
be blocked: one WARNING, and every row from then on is `port25_blocked`.
A dropped connection puts its unanswered requests back on the queue, at
most three times each.

Catch-all: once a recipient of a domain has been accepted, the session
asks, in a transaction of its own after RSET, about a random local part
nobody was ever given. The answer is kept for the job, and concurrent
askers share one probe (single flight). A domain whose real recipients
were all refused is never probed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import math
import re
import secrets
import string
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from emailclean.models import MailboxOutcome, MailHost, Reason
from emailclean.smtp.client import (
    ServerAnswer,
    SmtpConnectionError,
    SmtpRefusedError,
    SmtpSession,
    SmtpTimeoutError,
    opportunistic_tls_context,
)
from emailclean.smtp.outcomes import (
    accepted_outcome,
    reply_outcome,
    simple_outcome,
)
from emailclean.smtp.replies import Action, Classification, Stage, classify_reply
from emailclean.smtp.settings import SmtpSettings

__all__ = ["MailboxProber", "ProberStats", "SmtpSettings", "is_probe_allowed"]

logger = logging.getLogger(__name__)

GREYLIST_GROWTH = 2  # each greylist retry waits twice as long as the last
RATE_LIMIT_STRIKES = 3  # 421s a request may meet before `rate_limited`
DROP_ATTEMPTS = 3  # dropped connections a request may meet
WRITE_OFF_TIMEOUTS = 2  # timeouts in a row that write a host off for the job
PORT25_HOSTS = 3  # distinct addresses timing out at connect: port 25 blocked
IDLE_LINGER = 1.0  # seconds an idle session waits for more work
CATCH_ALL_LOCAL_LENGTH = 24
CATCH_ALL_ALPHABET = string.ascii_lowercase + string.digits
# RFC 5321 §4.1.2 forbids CR and LF in a path; other controls never belong.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def is_probe_allowed(address: str) -> bool:
    """True for a globally routable address, IPv4-mapped IPv6 included."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global


@dataclass
class ProberStats:
    """Counters for the summary and for politeness tests."""

    connections_opened: int = 0
    sessions: int = 0
    recipients_sent: int = 0
    catch_all_probes: int = 0
    max_concurrent_per_host: int = 0


@dataclass(eq=False)
class _Host:
    """One MX host name: its queue of requests and its manners."""

    name: str
    addresses: tuple[str, ...]
    pending: deque[_Request] = field(default_factory=deque)
    work: asyncio.Event = field(default_factory=asyncio.Event)
    session_limit: int = 1  # per_host, lowered if the host says 421 to more
    sessions: int = 0  # session tasks, connected or waiting for a slot
    connected: int = 0
    backoff_until: float = 0.0
    backoff_strikes: int = 0
    timeouts_in_row: int = 0
    written_off: bool = False


@dataclass(eq=False)
class _Request:
    """One probe call on its way through the hosts of its domain."""

    recipient: str
    domain: str
    smtputf8: bool
    hosts: list[_Host]
    future: asyncio.Future[MailboxOutcome]
    host_index: int = 0
    failure: MailboxOutcome | None = None  # why earlier MX hosts failed
    greylist_started: float | None = None
    greylist_delay: float = 0.0
    rate_limit_strikes: int = 0
    drops: int = 0

    @property
    def host(self) -> _Host:
        return self.hosts[self.host_index]


@dataclass(eq=False)
class _Transaction:
    """The requests of one MAIL transaction not yet settled either way."""

    unsettled: list[_Request]
    accepted: list[tuple[_Request, ServerAnswer]] = field(default_factory=list)
    sent: int = 0  # RCPT commands, catch-all probe included


class MailboxProber:
    """Ask mail servers about recipients, politely and in shared sessions."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self.stats = ProberStats()
        self.port25_blocked = False
        self._hosts: dict[str, _Host] = {}
        self._slots = asyncio.Semaphore(settings.max_connections)
        self._tls_context = opportunistic_tls_context()
        self._tasks: set[asyncio.Task[None]] = set()
        self._timers: set[asyncio.TimerHandle] = set()
        self._catch_all: dict[str, bool | None] = {}
        self._catch_all_flights: dict[str, asyncio.Future[bool | None]] = {}
        self._connect_timeouts: set[str] = set()
        self._ever_connected = False
        self._closing = False
        self._live: set[_Request] = set()

    # -- public interface -------------------------------------------------

    async def probe(
        self,
        recipient: str,
        domain: str,
        mail_hosts: tuple[MailHost, ...],
        smtputf8: bool = False,
    ) -> MailboxOutcome:
        """Ask the domain's mail hosts whether `recipient` exists."""
        refusal = self._refusal(recipient, mail_hosts)
        if refusal is not None:
            return refusal

        hosts = self._usable_hosts(mail_hosts)
        if not hosts:
            return _no_usable_host_outcome(mail_hosts)

        future: asyncio.Future[MailboxOutcome]
        future = asyncio.get_running_loop().create_future()
        utf8 = smtputf8 or not recipient.isascii()
        request = _Request(recipient, domain.lower(), utf8, hosts, future)
        self._live.add(request)
        try:
            self._dispatch(request)
            return await future
        finally:
            self._live.discard(request)

    def remember_catch_all(self, domain: str, value: bool | None) -> None:
        """Seed what an earlier run learnt (from a checkpoint)."""
        self._catch_all[domain.lower()] = value

    def known_catch_all(self) -> Iterable[tuple[str, bool | None]]:
        """Every domain's catch-all answer so far, for the checkpoint."""
        return list(self._catch_all.items())

    async def aclose(self) -> None:
        """Stop timers, QUIT idle sessions, wait for busy ones (bounded)."""
        self._closing = True
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
        for host in self._hosts.values():
            host.work.set()
        await self._wait_for_sessions()
        for request in list(self._live):
            self._finish(request, _closed_outcome())

    # -- admission ----------------------------------------------------------

    def _refusal(
        self, recipient: str, mail_hosts: tuple[MailHost, ...]
    ) -> MailboxOutcome | None:
        if _CONTROL.search(recipient):
            message = (
                "refused to probe: the address holds a control character "
                "(CR, LF or another), which must never reach an SMTP command"
            )
            return simple_outcome(Reason.TEMPORARY_FAILURE, message, "unsafe-recipient")
        if self.port25_blocked:
            return _port25_outcome()
        if not mail_hosts:
            message = "no mail host to ask"
            return simple_outcome(Reason.SMTP_UNREACHABLE, message, "no-mail-host")
        return None

    def _usable_hosts(self, mail_hosts: tuple[MailHost, ...]) -> list[_Host]:
        hosts = []
        for mail_host in sorted(mail_hosts, key=lambda h: h.preference):
            host = self._host(mail_host)
            if host is not None:
                hosts.append(host)
        return hosts

    def _host(self, mail_host: MailHost) -> _Host | None:
        name = mail_host.name.lower().rstrip(".")
        if name in self._hosts:
            return self._hosts[name]

        allowed = tuple(
            a
            for a in mail_host.addresses
            if self.settings.allow_private or is_probe_allowed(a)
        )
        if not allowed:
            return None
        host = _Host(name, allowed, session_limit=self.settings.per_host)
        self._hosts[name] = host
        return host

    # -- queueing -----------------------------------------------------------

    def _dispatch(self, request: _Request) -> None:
        """Queue `request` on its first MX host still worth asking."""
        if self.port25_blocked or self._closing:
            outcome = _port25_outcome() if self.port25_blocked else _closed_outcome()
            self._finish(request, outcome)
            return

        while request.host_index < len(request.hosts):
            host = request.host
            if not host.written_off:
                host.pending.append(request)
                self._wake(host)
                return
            request.failure = _prefer_timeout(
                request.failure, _written_off_outcome(host)
            )
            request.host_index += 1
        self._finish(request, request.failure or _unreachable_outcome())

    def _requeue_front(self, host: _Host, requests: list[_Request]) -> None:
        """Put requests back at the head of `host`'s queue, in order."""
        for request in reversed(requests):
            if host.written_off:
                self._dispatch(request)
            else:
                host.pending.appendleft(request)
        self._wake(host)

    def _wake(self, host: _Host) -> None:
        """Let idle sessions see new work; start sessions the queue needs."""
        host.work.set()
        if self._closing or not host.pending:
            return

        loop = asyncio.get_running_loop()
        if loop.time() < host.backoff_until:
            return
        batches = math.ceil(len(host.pending) / self.settings.recipients_per_session)
        while host.sessions < min(host.session_limit, batches):
            host.sessions += 1
            task = loop.create_task(self._run_session(host))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _take(self, host: _Host, budget: int) -> list[_Request]:
        """Pop up to `budget` live requests, leaving room for catch-all probes."""
        batch: list[_Request] = []
        probes: set[str] = set()
        while host.pending:
            request = host.pending[0]
            if request.future.done():
                host.pending.popleft()
                continue
            new_probe = self._needs_catch_all_probe(request.domain, probes)
            if len(batch) + len(probes) + 1 + new_probe > budget:
                break
            host.pending.popleft()
            batch.append(request)
            if new_probe:
                probes.add(request.domain)
        return batch

    def _needs_catch_all_probe(self, domain: str, planned: set[str]) -> bool:
        return domain not in self._catch_all and domain not in planned

    def _finish(self, request: _Request, outcome: MailboxOutcome) -> None:
        if not request.future.done():
            request.future.set_result(outcome)

    def _pop(self, host: _Host, count: int) -> list[_Request]:
        """Pop up to `count` live requests, no room kept for anything."""
        popped: list[_Request] = []
        while host.pending and len(popped) < count:
            request = host.pending.popleft()
            if not request.future.done():
                popped.append(request)
        return popped

    # -- sessions -----------------------------------------------------------

    async def _run_session(self, host: _Host) -> None:
        try:
            async with self._slots:
                await self._connect_and_serve(host)
        except Exception:
            # A bug must not leave rows waiting forever; say so loudly.
            logger.exception("SMTP session with %s failed unexpectedly", host.name)
        finally:
            host.sessions -= 1
            self._wake(host)

    async def _connect_and_serve(self, host: _Host) -> None:
        if not host.pending or self._closing:
            return

        session = await self._connect(host)
        if session is None:
            return

        host.connected += 1
        self.stats.max_concurrent_per_host = max(
            self.stats.max_concurrent_per_host, host.connected
        )
        try:
            await self._serve(host, session)
        finally:
            host.connected -= 1
            await session.quit()

    async def _connect(self, host: _Host) -> SmtpSession | None:
        """Open a session on the first address that answers, else fail over."""
        failure: Exception | None = None
        for address in host.addresses:
            session = SmtpSession(host.name, address, self.settings, self._tls_context)
            self.stats.connections_opened += 1
            try:
                await session.open()
            except (SmtpTimeoutError, SmtpConnectionError) as exc:
                failure = exc
                self._note_connect_failure(host, address, exc)
                continue
            except SmtpRefusedError as exc:
                session.abort()
                self._on_session_refused(host, exc)
                return None
            self._note_connected(host)
            return session

        if failure is not None:
            self._on_host_unreachable(host, failure)
        return None

    def _note_connected(self, host: _Host) -> None:
        self._ever_connected = True
        host.timeouts_in_row = 0
        self.stats.sessions += 1

    def _note_connect_failure(self, host: _Host, address: str, exc: Exception) -> None:
        logger.debug("%s [%s]: %s", host.name, address, exc)
        if isinstance(exc, SmtpTimeoutError) and not exc.at_connect:
            self._ever_connected = True  # the TCP handshake did finish
        if not isinstance(exc, SmtpTimeoutError) or not exc.at_connect:
            return

        self._connect_timeouts.add(address)
        blocked = len(self._connect_timeouts) >= PORT25_HOSTS
        if blocked and not self._ever_connected and not self.port25_blocked:
            self._declare_port25_blocked()

    def _declare_port25_blocked(self) -> None:
        self.port25_blocked = True
        logger.warning(
            "Outbound SMTP (port %d) looks blocked: connections to %d mail "
            "servers all timed out and none ever connected; SMTP checks of "
            "the remaining addresses are skipped (unknown/port25_blocked). "
            "Run from a network that allows outbound port %d.",
            self.settings.port,
            len(self._connect_timeouts),
            self.settings.port,
        )
        for request in list(self._live):
            self._finish(request, _port25_outcome())
        for host in self._hosts.values():
            host.pending.clear()

    def _on_host_unreachable(self, host: _Host, exc: Exception) -> None:
        """Every address failed: hand a batch (or all, if written off) on."""
        if isinstance(exc, SmtpTimeoutError):
            self._note_timeout(host)
            outcome = simple_outcome(
                Reason.SMTP_TIMEOUT, str(exc), "timeout", host.name
            )
        else:
            outcome = simple_outcome(
                Reason.SMTP_UNREACHABLE, str(exc), "unreachable", host.name
            )

        for request in self._pop(host, self.settings.recipients_per_session):
            self._fail_over(request, outcome)
        if host.written_off:
            for request in self._pop(host, len(host.pending)):
                self._dispatch(request)  # moves on past the written-off host

    def _note_timeout(self, host: _Host) -> None:
        host.timeouts_in_row += 1
        if host.timeouts_in_row >= WRITE_OFF_TIMEOUTS and not host.written_off:
            host.written_off = True
            logger.info(
                "%s keeps timing out; skipping it for the rest of the job", host.name
            )

    def _fail_over(self, request: _Request, outcome: MailboxOutcome) -> None:
        request.failure = _prefer_timeout(request.failure, outcome)
        request.host_index += 1
        self._dispatch(request)

    def _on_session_refused(self, host: _Host, exc: SmtpRefusedError) -> None:
        """The greeting or hello was refused: back off, fail over, or give up."""
        answer = exc.answer
        classification = classify_reply(answer.reply, answer.stage, answer.text)
        logger.debug("%s refused the session: %s", host.name, answer.text)
        batch = self._pop(host, self.settings.recipients_per_session)
        if classification.action is Action.BACK_OFF and host.connected > 0:
            self._lower_session_limit(host, batch)
            return
        if classification.action is Action.BACK_OFF:
            self._back_off(host, batch, answer, classification)
            return

        outcome = reply_outcome(host.name, answer, classification)
        for request in batch:
            last_host = request.host_index + 1 >= len(request.hosts)
            if classification.action is Action.RETRY_LATER and last_host:
                self._retry_later(request, answer, classification)
            else:
                self._fail_over(request, outcome)

    def _lower_session_limit(self, host: _Host, batch: list[_Request]) -> None:
        """421 to an extra connection while others work: stay at what works."""
        if host.connected < host.session_limit:
            host.session_limit = host.connected
            logger.info(
                "%s refuses more than %d connection(s) at once; keeping to that",
                host.name,
                host.connected,
            )
        self._requeue_front(host, batch)

    async def _serve(self, host: _Host, session: SmtpSession) -> None:
        """Run transactions while work and the RCPT budget last."""
        budget = self.settings.recipients_per_session
        while budget > 0 and not self._closing:
            batch = self._next_batch(host, budget)
            if batch is None:
                return
            if not batch:
                if not await self._wait_for_work(host):
                    return
                continue

            transaction = _Transaction(batch)
            alive = await self._run_guarded(host, session, transaction)
            budget -= max(transaction.sent, 1)
            if not alive:
                return

    def _next_batch(self, host: _Host, budget: int) -> list[_Request] | None:
        """The next transaction's requests: [] when idle, None to end the session."""
        batch = self._take(host, budget)
        if batch or not host.pending:
            return batch
        if budget < self.settings.recipients_per_session:
            return None  # too little budget left; a fresh session follows

        # Not even a fresh session has room for a request and its catch-all
        # probe (recipients_per_session is 1): the probe goes one over the
        # limit rather than the request never being asked at all.
        return self._pop(host, 1)

    async def _wait_for_work(self, host: _Host) -> bool:
        """Linger for more work, unless another host waits for our slot."""
        if self._slots.locked():
            return False
        host.work.clear()
        try:
            await asyncio.wait_for(host.work.wait(), IDLE_LINGER)
        except TimeoutError:
            return False
        return not self._closing

    async def _run_guarded(
        self, host: _Host, session: SmtpSession, transaction: _Transaction
    ) -> bool:
        """Run one transaction; on a broken connection requeue what is open."""
        try:
            return await self._run_transaction(host, session, transaction)
        except (SmtpTimeoutError, SmtpConnectionError, SmtpRefusedError) as exc:
            session.abort()
            self._on_session_broken(host, transaction, exc)
        return False

    def _on_session_broken(
        self, host: _Host, transaction: _Transaction, exc: Exception
    ) -> None:
        logger.debug("%s: session broke, requeueing: %s", host.name, exc)
        if isinstance(exc, SmtpTimeoutError):
            self._note_timeout(host)

        reason = (
            Reason.SMTP_TIMEOUT
            if isinstance(exc, SmtpTimeoutError)
            else Reason.SMTP_UNREACHABLE
        )
        open_requests = transaction.unsettled + [r for r, _ in transaction.accepted]
        retry = []
        for request in open_requests:
            request.drops += 1
            if request.drops >= DROP_ATTEMPTS:
                message = f"{exc} ({request.drops} times; giving up on this address)"
                self._finish(
                    request, simple_outcome(reason, message, "dropped", host.name)
                )
            else:
                retry.append(request)
        self._requeue_front(host, retry)

    # -- one transaction ----------------------------------------------------

    async def _run_transaction(
        self, host: _Host, session: SmtpSession, transaction: _Transaction
    ) -> bool:
        """MAIL, RCPT each, RSET, then the catch-all probe if it is needed."""
        self._refuse_smtputf8(host, session, transaction)
        if not transaction.unsettled:
            return True

        utf8 = any(r.smtputf8 for r in transaction.unsettled)
        answer = await session.mail(smtputf8=utf8)
        if not answer.accepted:
            return self._on_mail_refused(host, transaction, answer)

        alive = await self._send_recipients(host, session, transaction)
        if not alive:
            return False

        await session.reset()
        await self._settle_accepted(host, session, transaction)
        return True

    def _refuse_smtputf8(
        self, host: _Host, session: SmtpSession, transaction: _Transaction
    ) -> None:
        """RFC 6531 §3.4: a UTF-8 address only to a server offering SMTPUTF8."""
        if session.supports_smtputf8:
            return
        message = (
            f"{host.name} does not offer SMTPUTF8, so an address with "
            "non-ASCII characters cannot be asked about"
        )
        outcome = simple_outcome(
            Reason.TEMPORARY_FAILURE, message, "smtputf8-unsupported", host.name
        )
        for request in [r for r in transaction.unsettled if r.smtputf8]:
            transaction.unsettled.remove(request)
            self._finish(request, outcome)

    def _on_mail_refused(
        self, host: _Host, transaction: _Transaction, answer: ServerAnswer
    ) -> bool:
        classification = classify_reply(answer.reply, Stage.MAIL, answer.text)
        requests, transaction.unsettled = transaction.unsettled, []
        self._apply_to_all(host, requests, answer, classification)
        return classification.action is not Action.BACK_OFF

    def _apply_to_all(
        self,
        host: _Host,
        requests: list[_Request],
        answer: ServerAnswer,
        classification: Classification,
    ) -> None:
        if classification.action is Action.BACK_OFF:
            self._back_off(host, requests, answer, classification)
            return
        for request in requests:
            if classification.action is Action.RETRY_LATER:
                self._retry_later(request, answer, classification)
            else:
                self._finish(request, reply_outcome(host.name, answer, classification))

    async def _send_recipients(
        self, host: _Host, session: SmtpSession, transaction: _Transaction
    ) -> bool:
        """RCPT TO each request; False once the server closed the session."""
        while transaction.unsettled:
            request = transaction.unsettled[0]
            answer = await session.rcpt(request.recipient)
            transaction.sent += 1
            self.stats.recipients_sent += 1
            classification = classify_reply(answer.reply, Stage.RCPT, answer.text)
            if classification.action is Action.NEW_TRANSACTION:
                # RFC 5321 §4.5.3.1.10: the rest go into a new transaction.
                rest, transaction.unsettled = transaction.unsettled, []
                self._requeue_front(host, rest)
                return True
            if classification.action is Action.BACK_OFF:
                rest, transaction.unsettled = transaction.unsettled, []
                accepted = [r for r, _ in transaction.accepted]
                transaction.accepted = []
                self._back_off(host, accepted + rest, answer, classification)
                return False

            transaction.unsettled.pop(0)
            self._settle_reply(host, transaction, request, answer, classification)
        return True

    def _settle_reply(
        self,
        host: _Host,
        transaction: _Transaction,
        request: _Request,
        answer: ServerAnswer,
        classification: Classification,
    ) -> None:
        if answer.accepted:
            transaction.accepted.append((request, answer))
        elif classification.action is Action.RETRY_LATER:
            self._retry_later(request, answer, classification)
        else:
            self._finish(request, reply_outcome(host.name, answer, classification))

    async def _settle_accepted(
        self, host: _Host, session: SmtpSession, transaction: _Transaction
    ) -> None:
        """Give accepted requests their verdict once the domain's catch-all is known."""
        while transaction.accepted:
            request = transaction.accepted[0][0]
            catch_all = await self._catch_all_of(request.domain, session, transaction)
            same_domain = [
                (r, a) for r, a in transaction.accepted if r.domain == request.domain
            ]
            for done, done_answer in same_domain:
                transaction.accepted.remove((done, done_answer))
                outcome = accepted_outcome(
                    host.name, done.domain, done_answer, catch_all
                )
                self._finish(done, outcome)

    # -- catch-all ----------------------------------------------------------

    async def _catch_all_of(
        self, domain: str, session: SmtpSession, transaction: _Transaction
    ) -> bool | None:
        """The domain's catch-all answer: cached, in flight, or probed now."""
        if domain in self._catch_all:
            return self._catch_all[domain]
        flight = self._catch_all_flights.get(domain)
        if flight is not None:
            return await asyncio.shield(flight)

        flight = asyncio.get_running_loop().create_future()
        self._catch_all_flights[domain] = flight
        try:
            value = await self._probe_catch_all(domain, session, transaction)
        except BaseException:
            flight.set_result(None)  # waiters get "undecided"; not cached
            raise
        finally:
            del self._catch_all_flights[domain]
        self._catch_all[domain] = value
        flight.set_result(value)
        return value

    async def _probe_catch_all(
        self, domain: str, session: SmtpSession, transaction: _Transaction
    ) -> bool | None:
        """Ask about a never-issued local part in a transaction of its own."""
        local = "".join(
            secrets.choice(CATCH_ALL_ALPHABET) for _ in range(CATCH_ALL_LOCAL_LENGTH)
        )
        mail = await session.mail()
        if not mail.accepted:
            await session.reset()
            return None

        answer = await session.rcpt(f"{local}@{domain}")
        transaction.sent += 1
        self.stats.catch_all_probes += 1
        await session.reset()
        return _catch_all_value(answer)

    # -- retries and back-off -----------------------------------------------

    def _retry_later(
        self, request: _Request, answer: ServerAnswer, classification: Classification
    ) -> None:
        """Greylisting (RFC 6647 §2.1): ask again later, on a timer."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        if request.greylist_started is None:
            request.greylist_started = now
            request.greylist_delay = self.settings.greylist_first_delay
        else:
            request.greylist_delay *= GREYLIST_GROWTH

        waited = now - request.greylist_started
        remaining = self.settings.greylist_wait - waited
        if remaining <= 0:
            outcome = reply_outcome(request.host.name, answer, classification, waited)
            self._finish(request, outcome)
            return

        delay = min(request.greylist_delay, remaining)
        self._later(delay, lambda: self._dispatch(request))

    def _back_off(
        self,
        host: _Host,
        requests: list[_Request],
        answer: ServerAnswer,
        classification: Classification,
    ) -> None:
        """421 (RFC 5321 §3.8): stay away from the host, then try again."""
        loop = asyncio.get_running_loop()
        host.backoff_strikes += 1
        delay = self.settings.rate_limit_first_delay * 2 ** (host.backoff_strikes - 1)
        host.backoff_until = max(host.backoff_until, loop.time() + delay)
        logger.debug("%s said 421; backing off %.1f s", host.name, delay)

        retry = []
        for request in requests:
            request.rate_limit_strikes += 1
            if request.rate_limit_strikes >= RATE_LIMIT_STRIKES:
                self._finish(request, reply_outcome(host.name, answer, classification))
            else:
                retry.append(request)
        self._requeue_front(host, retry)
        self._later(delay, lambda: self._wake(host))

    def _later(self, delay: float, callback: Callable[[], None]) -> None:
        """Run `callback` after `delay` seconds unless the prober closes first."""
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self._timers.discard(handle)
            callback()

        handle = loop.call_later(delay, fire)
        self._timers.add(handle)

    async def _wait_for_sessions(self) -> None:
        tasks = list(self._tasks)
        if not tasks:
            return
        _, busy = await asyncio.wait(tasks, timeout=self.settings.timeout * 2)
        for task in busy:
            task.cancel()
        await asyncio.gather(*busy, return_exceptions=True)


def _catch_all_value(answer: ServerAnswer) -> bool | None:
    """Accepted: catch-all. Refused as unknown: not. Anything else: undecided."""
    if answer.accepted:
        return True
    classification = classify_reply(answer.reply, Stage.RCPT, answer.text)
    if classification.reason in (Reason.MAILBOX_NOT_FOUND, Reason.MAILBOX_DISABLED):
        return False
    return None


def _prefer_timeout(
    earlier: MailboxOutcome | None, later: MailboxOutcome
) -> MailboxOutcome:
    """Across MX hosts, a timeout is the more telling failure to report."""
    if earlier is not None and earlier.reason is Reason.SMTP_TIMEOUT:
        return earlier
    return later


def _written_off_outcome(host: _Host) -> MailboxOutcome:
    message = (
        f"{host.name} timed out repeatedly earlier in this job, so it was "
        "not asked again"
    )
    return simple_outcome(Reason.SMTP_TIMEOUT, message, "host-written-off", host.name)


def _unreachable_outcome() -> MailboxOutcome:
    message = "no mail host of the domain could be reached"
    return simple_outcome(Reason.SMTP_UNREACHABLE, message, "unreachable")


def _port25_outcome() -> MailboxOutcome:
    message = (
        "not checked: outbound SMTP connections from this network time out "
        "(port 25 looks blocked)"
    )
    return simple_outcome(Reason.PORT25_BLOCKED, message, "port25-blocked")


def _closed_outcome() -> MailboxOutcome:
    message = "not checked: the SMTP prober was closed before an answer came"
    return simple_outcome(Reason.TEMPORARY_FAILURE, message, "prober-closed")


def _no_usable_host_outcome(mail_hosts: tuple[MailHost, ...]) -> MailboxOutcome:
    names = ", ".join(h.name for h in mail_hosts)
    if not any(h.addresses for h in mail_hosts):
        message = f"mail host {names} has no address to connect to"
        return simple_outcome(Reason.SMTP_UNREACHABLE, message, "no-address")

    message = (
        f"mail host {names} is at a private, loopback or otherwise non-global "
        "address; not probed (use --allow-private-mx to allow it)"
    )
    return simple_outcome(Reason.PRIVATE_MX, message, "private-mx")
