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

Where things live: `client` (one session), `replies` (what a reply means),
`transaction` (one MAIL transaction and the catch-all probe), `hosts`
(queues and batches), `catch_all`, `outcomes` (messages); this module
schedules sessions, retries and back-off.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
from collections.abc import Callable, Iterable

from emailclean.checks.addresses import is_global_address
from emailclean.models import MailboxOutcome, MailHost, Reason
from emailclean.smtp.catch_all import CatchAllCache
from emailclean.smtp.client import (
    ServerAnswer,
    SmtpConnectionError,
    SmtpRefusedError,
    SmtpSession,
    SmtpTimeoutError,
    SmtpTlsError,
    opportunistic_tls_context,
)
from emailclean.smtp.hosts import (
    HostQueue,
    ProbeRequest,
    Transaction,
    pop_live,
    take_batch,
)
from emailclean.smtp.outcomes import (
    closed_outcome,
    no_usable_host_outcome,
    port25_outcome,
    prefer_timeout,
    reply_outcome,
    simple_outcome,
    unreachable_outcome,
    written_off_outcome,
)
from emailclean.smtp.replies import Action, Classification, classify_reply
from emailclean.smtp.settings import SmtpSettings
from emailclean.smtp.stats import ProberStats
from emailclean.smtp.transaction import TransactionRunner

__all__ = ["MailboxProber", "ProberStats", "SmtpSettings"]

logger = logging.getLogger(__name__)

GREYLIST_GROWTH = 2  # each greylist retry waits twice as long as the last
RATE_LIMIT_STRIKES = 3  # 421s a request may meet before `rate_limited`
DROP_ATTEMPTS = 3  # dropped connections a request may meet
WRITE_OFF_TIMEOUTS = 2  # timeouts in a row that write a host off for the job
PORT25_HOSTS = 3  # distinct addresses timing out at connect: port 25 blocked
IDLE_LINGER = 1.0  # seconds an idle session waits for more work
# RFC 5321 §4.1.2 forbids CR and LF in a path; other controls never belong.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class MailboxProber:
    """Ask mail servers about recipients, politely and in shared sessions.

    The pipeline uses `probe`, `remember_catch_all`, `known_catch_all`,
    `aclose`, `port25_blocked` and `stats`. `finish`, `retry_later`,
    `back_off` and `requeue_front` are the `RequestQueue` that transactions
    report to; nothing else should call them.
    """

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self.stats = ProberStats()
        self.port25_blocked = False
        self._hosts: dict[str, HostQueue] = {}
        self._slots = asyncio.Semaphore(settings.max_connections)
        self._tls_context = opportunistic_tls_context()
        self._tasks: set[asyncio.Task[None]] = set()
        self._timers: set[asyncio.TimerHandle] = set()
        self._catch_all = CatchAllCache()
        self._transactions = TransactionRunner(self, self._catch_all, self.stats)
        self._connect_timeouts: set[str] = set()
        self._ever_connected = False
        self._closing = False
        self._live: set[ProbeRequest] = set()

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
            return no_usable_host_outcome(mail_hosts)

        future: asyncio.Future[MailboxOutcome]
        future = asyncio.get_running_loop().create_future()
        utf8 = smtputf8 or not recipient.isascii()
        request = ProbeRequest(recipient, domain.lower(), utf8, hosts, future)
        self._live.add(request)
        try:
            self._dispatch(request)
            return await future
        finally:
            self._live.discard(request)

    def remember_catch_all(self, domain: str, value: bool | None) -> None:
        """Seed what an earlier run learnt (from a checkpoint)."""
        self._catch_all.remember(domain, value)

    def known_catch_all(self) -> Iterable[tuple[str, bool | None]]:
        """Every domain's catch-all answer so far, for the checkpoint."""
        return self._catch_all.known()

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
            self.finish(request, closed_outcome())

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
            return port25_outcome()
        if not mail_hosts:
            message = "no mail host to ask"
            return simple_outcome(Reason.SMTP_UNREACHABLE, message, "no-mail-host")
        return None

    def _usable_hosts(self, mail_hosts: tuple[MailHost, ...]) -> list[HostQueue]:
        hosts = []
        for mail_host in sorted(mail_hosts, key=lambda h: h.preference):
            host = self._host(mail_host)
            if host is not None:
                hosts.append(host)
        return hosts

    def _host(self, mail_host: MailHost) -> HostQueue | None:
        """The queue for an MX host name, made on first sight.

        Limits are per host name (DESIGN.md §6), and the addresses are the
        ones the name had when first seen in this job: a later domain whose
        DNS answer gives the same name other addresses still uses those.
        """
        name = mail_host.name.lower().rstrip(".")
        if name in self._hosts:
            return self._hosts[name]

        allowed = tuple(
            a
            for a in mail_host.addresses
            if self.settings.allow_private or is_global_address(a)
        )
        if not allowed:
            return None
        host = HostQueue(name, allowed, self.settings.per_host)
        self._hosts[name] = host
        return host

    # -- queueing -----------------------------------------------------------

    def _dispatch(self, request: ProbeRequest) -> None:
        """Queue `request` on its first MX host still worth asking."""
        if self.port25_blocked or self._closing:
            outcome = port25_outcome() if self.port25_blocked else closed_outcome()
            self.finish(request, outcome)
            return

        while request.host_index < len(request.hosts):
            host = request.host
            if not host.written_off:
                host.pending.append(request)
                self._wake(host)
                return
            request.failure = prefer_timeout(
                request.failure, written_off_outcome(host.name)
            )
            request.host_index += 1
        self.finish(request, request.failure or unreachable_outcome())

    def requeue_front(self, host: HostQueue, requests: list[ProbeRequest]) -> None:
        """Put requests back at the head of `host`'s queue, in order."""
        for request in reversed(requests):
            if host.written_off:
                self._dispatch(request)
            else:
                host.pending.appendleft(request)
        self._wake(host)

    def _wake(self, host: HostQueue) -> None:
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

    def _take(self, host: HostQueue, budget: int) -> list[ProbeRequest]:
        return take_batch(host, budget, lambda d: not self._catch_all.is_known(d))

    def finish(self, request: ProbeRequest, outcome: MailboxOutcome) -> None:
        self._live.discard(request)
        if not request.future.done():
            request.future.set_result(outcome)

    # -- sessions -----------------------------------------------------------

    async def _run_session(self, host: HostQueue) -> None:
        try:
            async with self._slots:
                await self._connect_and_serve(host)
        except Exception:
            # A bug must not leave rows waiting forever; say so loudly.
            logger.exception("SMTP session with %s failed unexpectedly", host.name)
        finally:
            host.sessions -= 1
            self._wake(host)

    async def _connect_and_serve(self, host: HostQueue) -> None:
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

    async def _connect(self, host: HostQueue) -> SmtpSession | None:
        """Open a session on the first address that answers, else fail over."""
        failure: Exception | None = None
        for address in host.addresses:
            try:
                session = await self._open(host, address)
            except (SmtpTimeoutError, SmtpConnectionError) as exc:
                failure = exc
                self._note_connect_failure(host, address, exc)
                continue
            except SmtpRefusedError as exc:
                self._on_session_refused(host, exc)
                return None
            self._note_connected(host)
            return session

        if failure is not None:
            self._on_host_unreachable(host, failure)
        return None

    async def _open(self, host: HostQueue, address: str) -> SmtpSession:
        """Open a session; if TLS breaks, once more in clear (RFC 7435 §1.2)."""
        session = SmtpSession(
            host.name, address, self.settings, self._tls_context, host.starttls
        )
        self.stats.connections_opened += 1
        try:
            await session.open()
        except SmtpTlsError as exc:
            host.starttls = False
            logger.info("%s: STARTTLS failed, probing it in clear: %s", host.name, exc)
            return await self._open(host, address)
        except SmtpRefusedError:
            session.abort()
            raise
        return session

    def _note_connected(self, host: HostQueue) -> None:
        self._ever_connected = True
        host.timeouts_in_row = 0
        host.backoff_strikes = 0
        self.stats.sessions += 1

    def _note_connect_failure(
        self, host: HostQueue, address: str, exc: Exception
    ) -> None:
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
            self.finish(request, port25_outcome())
        for host in self._hosts.values():
            host.pending.clear()

    def _on_host_unreachable(self, host: HostQueue, exc: Exception) -> None:
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

        for request in pop_live(host, self.settings.recipients_per_session):
            self._fail_over(request, outcome)
        if host.written_off:
            for request in pop_live(host, len(host.pending)):
                self._dispatch(request)  # moves on past the written-off host

    def _note_timeout(self, host: HostQueue) -> None:
        host.timeouts_in_row += 1
        if host.timeouts_in_row >= WRITE_OFF_TIMEOUTS and not host.written_off:
            host.written_off = True
            logger.info(
                "%s keeps timing out; skipping it for the rest of the job", host.name
            )

    def _fail_over(self, request: ProbeRequest, outcome: MailboxOutcome) -> None:
        request.failure = prefer_timeout(request.failure, outcome)
        request.host_index += 1
        self._dispatch(request)

    def _on_session_refused(self, host: HostQueue, exc: SmtpRefusedError) -> None:
        """The greeting or hello was refused: back off, fail over, or give up."""
        answer = exc.answer
        classification = classify_reply(answer.reply, answer.stage, answer.text)
        logger.debug("%s refused the session: %s", host.name, answer.text)
        batch = pop_live(host, self.settings.recipients_per_session)
        if classification.action is Action.BACK_OFF and host.connected > 0:
            self._lower_session_limit(host, batch)
            return
        if classification.action is Action.BACK_OFF:
            self.back_off(host, batch, answer, classification)
            return

        outcome = reply_outcome(host.name, answer, classification)
        for request in batch:
            last_host = request.host_index + 1 >= len(request.hosts)
            if classification.action is Action.RETRY_LATER and last_host:
                self.retry_later(request, answer, classification)
            else:
                self._fail_over(request, outcome)

    def _lower_session_limit(self, host: HostQueue, batch: list[ProbeRequest]) -> None:
        """421 to an extra connection while others work: stay at what works."""
        if host.connected < host.session_limit:
            host.session_limit = host.connected
            logger.info(
                "%s refuses more than %d connection(s) at once; keeping to that",
                host.name,
                host.connected,
            )
        self.requeue_front(host, batch)

    async def _serve(self, host: HostQueue, session: SmtpSession) -> None:
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

            transaction = Transaction(batch)
            alive = await self._run_guarded(host, session, transaction)
            budget -= max(transaction.sent, 1)
            if not alive:
                return

    def _next_batch(self, host: HostQueue, budget: int) -> list[ProbeRequest] | None:
        """The next transaction's requests: [] when idle, None to end the session."""
        batch = self._take(host, budget)
        if batch or not host.pending:
            return batch
        if budget < self.settings.recipients_per_session:
            return None  # too little budget left; a fresh session follows

        # Not even a fresh session has room for a request and its catch-all
        # probe (recipients_per_session is 1): the probe goes one over the
        # limit rather than the request never being asked at all.
        return pop_live(host, 1)

    async def _wait_for_work(self, host: HostQueue) -> bool:
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
        self, host: HostQueue, session: SmtpSession, transaction: Transaction
    ) -> bool:
        """Run one transaction; on a broken connection requeue what is open."""
        try:
            return await self._transactions.run(host, session, transaction)
        except (SmtpTimeoutError, SmtpConnectionError, SmtpRefusedError) as exc:
            session.abort()
            self._on_session_broken(host, transaction, exc)
        except Exception:
            # A bug must not leave rows waiting forever: answer them, loudly.
            logger.exception("SMTP transaction with %s failed", host.name)
            session.abort()
            message = "not checked: an internal error in the SMTP prober (see log)"
            outcome = simple_outcome(
                Reason.TEMPORARY_FAILURE, message, "internal-error"
            )
            for request in transaction.open_requests():
                self.finish(request, outcome)
        return False

    def _on_session_broken(
        self, host: HostQueue, transaction: Transaction, exc: Exception
    ) -> None:
        logger.debug("%s: session broke, requeueing: %s", host.name, exc)
        if isinstance(exc, SmtpTimeoutError):
            self._note_timeout(host)

        reason = (
            Reason.SMTP_TIMEOUT
            if isinstance(exc, SmtpTimeoutError)
            else Reason.SMTP_UNREACHABLE
        )
        open_requests = transaction.open_requests()
        retry = []
        for request in open_requests:
            request.drops += 1
            if request.drops >= DROP_ATTEMPTS:
                message = f"{exc} ({request.drops} times; giving up on this address)"
                self.finish(
                    request, simple_outcome(reason, message, "dropped", host.name)
                )
            else:
                retry.append(request)
        self.requeue_front(host, retry)

    # -- retries and back-off -----------------------------------------------

    def retry_later(
        self,
        request: ProbeRequest,
        answer: ServerAnswer,
        classification: Classification,
    ) -> None:
        """Greylisting (RFC 6647 §2.1): ask again later, on a timer."""
        if request.catch_all_probe:
            self._live.add(request)  # so that aclose answers it too
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
            self.finish(request, outcome)
            return

        delay = min(request.greylist_delay, remaining)
        logger.debug(
            "%s deferred a recipient (%s, rule %s); asking again in %.1f s",
            request.host.name,
            answer.reply.code,
            classification.rule,
            delay,
        )
        self._later(delay, lambda: self._dispatch(request))

    def back_off(
        self,
        host: HostQueue,
        requests: list[ProbeRequest],
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
                self.finish(request, reply_outcome(host.name, answer, classification))
            else:
                retry.append(request)
        self.requeue_front(host, retry)
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
