"""One MAIL transaction on an open session, and what its replies decide.

`TransactionRunner.run` sends MAIL FROM, one RCPT TO per request, and
RSET; then, for each domain with an accepted recipient, the catch-all
probe in a transaction of its own (MAIL, RCPT of a random local part,
RSET), so the probe can never spoil the real recipients' answers. DATA is
never sent.

Each reply is classified by `replies.classify_reply`; whatever cannot be
decided now (452 4.5.3, 4yz, 421) goes back to the prober through the
small `RequestQueue` interface, which owns queues, timers and back-off.
Network failures propagate as `SmtpProbeError`s: the prober requeues the
requests the transaction had not settled.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from emailclean.models import MailboxOutcome, Reason
from emailclean.smtp.catch_all import (
    CatchAllCache,
    catch_all_value,
    outcome_catch_all_value,
    random_local_part,
)
from emailclean.smtp.client import ServerAnswer, SmtpSession
from emailclean.smtp.hosts import HostQueue, ProbeRequest, Transaction
from emailclean.smtp.outcomes import accepted_outcome, reply_outcome, simple_outcome
from emailclean.smtp.replies import Action, Classification, Stage, classify_reply
from emailclean.smtp.stats import ProberStats

__all__ = ["RequestQueue", "TransactionRunner"]

TOO_MANY_AT_FIRST = Classification(
    Reason.TEMPORARY_FAILURE, "452-too-many-at-first-recipient", Action.RETRY_LATER
)


class RequestQueue(Protocol):
    """What a transaction hands back to the prober."""

    def finish(self, request: ProbeRequest, outcome: MailboxOutcome) -> None: ...

    def retry_later(
        self,
        request: ProbeRequest,
        answer: ServerAnswer,
        classification: Classification,
    ) -> None: ...

    def back_off(
        self,
        host: HostQueue,
        requests: list[ProbeRequest],
        answer: ServerAnswer,
        classification: Classification,
    ) -> None: ...

    def requeue_front(self, host: HostQueue, requests: list[ProbeRequest]) -> None: ...


class TransactionRunner:
    """Runs transactions for the prober; keeps no state between them."""

    def __init__(
        self, queue: RequestQueue, catch_all: CatchAllCache, stats: ProberStats
    ) -> None:
        self._queue = queue
        self._catch_all = catch_all
        self._stats = stats

    async def run(
        self, host: HostQueue, session: SmtpSession, transaction: Transaction
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
        self, host: HostQueue, session: SmtpSession, transaction: Transaction
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
            self._queue.finish(request, outcome)

    def _on_mail_refused(
        self, host: HostQueue, transaction: Transaction, answer: ServerAnswer
    ) -> bool:
        classification = classify_reply(answer.reply, Stage.MAIL, answer.text)
        requests, transaction.unsettled = transaction.unsettled, []
        self._apply_to_all(host, requests, answer, classification)
        return classification.action is not Action.BACK_OFF

    def _apply_to_all(
        self,
        host: HostQueue,
        requests: list[ProbeRequest],
        answer: ServerAnswer,
        classification: Classification,
    ) -> None:
        if classification.action is Action.BACK_OFF:
            self._queue.back_off(host, requests, answer, classification)
            return
        for request in requests:
            if classification.action is Action.RETRY_LATER:
                self._queue.retry_later(request, answer, classification)
            else:
                self._queue.finish(
                    request, reply_outcome(host.name, answer, classification)
                )

    async def _send_recipients(
        self, host: HostQueue, session: SmtpSession, transaction: Transaction
    ) -> bool:
        """RCPT TO each request; False once the server closed the session."""
        while transaction.unsettled:
            request = transaction.unsettled[0]
            answer = await session.rcpt(request.recipient)
            transaction.sent += 1
            if request.catch_all_probe:
                self._stats.catch_all_probes += 1
            else:
                self._stats.recipients_sent += 1
            classification = classify_reply(answer.reply, Stage.RCPT, answer.text)
            if (
                classification.action is Action.NEW_TRANSACTION
                and transaction.sent == 1
            ):
                # "Too many" for the very first recipient: a new transaction
                # would hear the same, so it is a transient refusal instead.
                classification = TOO_MANY_AT_FIRST
            if classification.action is Action.NEW_TRANSACTION:
                # RFC 5321 §4.5.3.1.10: the rest go into a new transaction.
                rest, transaction.unsettled = transaction.unsettled, []
                self._queue.requeue_front(host, rest)
                return True
            if classification.action is Action.BACK_OFF:
                rest, transaction.unsettled = transaction.unsettled, []
                accepted = [r for r, _ in transaction.accepted]
                transaction.accepted = []
                self._queue.back_off(host, accepted + rest, answer, classification)
                return False

            transaction.unsettled.pop(0)
            self._settle_reply(host, transaction, request, answer, classification)
        return True

    def _settle_reply(
        self,
        host: HostQueue,
        transaction: Transaction,
        request: ProbeRequest,
        answer: ServerAnswer,
        classification: Classification,
    ) -> None:
        if answer.accepted and request.catch_all_probe:
            self._queue.finish(request, accepted_outcome(host.name, "", answer, None))
        elif answer.accepted:
            transaction.accepted.append((request, answer))
        elif classification.action is Action.RETRY_LATER:
            self._queue.retry_later(request, answer, classification)
        else:
            self._queue.finish(
                request, reply_outcome(host.name, answer, classification)
            )

    async def _settle_accepted(
        self, host: HostQueue, session: SmtpSession, transaction: Transaction
    ) -> None:
        """Give accepted requests their verdict once their domain's catch-all is known.

        Requests of a domain whose probe is in flight are parked on it; the
        first domain without a probe gets one now, in this session.
        """
        while transaction.accepted:
            domain = transaction.accepted[0][0].domain
            group = [pair for pair in transaction.accepted if pair[0].domain == domain]
            transaction.accepted = [p for p in transaction.accepted if p not in group]
            if self._catch_all.is_known(domain):
                self._finish_accepted(host, group, self._catch_all.value(domain))
                continue

            flight = self._catch_all.flight(domain)
            probe_now = flight is None
            flight = flight or self._catch_all.begin(domain)
            self._park(host, group, flight)
            if probe_now:
                await self._probe_catch_all(session, transaction, group[0][0])

    def _park(
        self,
        host: HostQueue,
        group: list[tuple[ProbeRequest, ServerAnswer]],
        flight: asyncio.Future[bool | None],
    ) -> None:
        """Finish `group` when the domain's catch-all flight lands."""

        def land(done: asyncio.Future[bool | None]) -> None:
            self._finish_accepted(host, group, done.result())

        flight.add_done_callback(land)

    def _finish_accepted(
        self,
        host: HostQueue,
        group: list[tuple[ProbeRequest, ServerAnswer]],
        catch_all: bool | None,
    ) -> None:
        for request, answer in group:
            outcome = accepted_outcome(host.name, request.domain, answer, catch_all)
            self._queue.finish(request, outcome)

    # -- catch-all ----------------------------------------------------------

    async def _probe_catch_all(
        self, session: SmtpSession, transaction: Transaction, model: ProbeRequest
    ) -> None:
        """Ask about a never-issued local part in a transaction of its own.

        A greylisted answer sends the probe through the retry queue, as a
        request of its own; the domain's flight ends when that one does.
        """
        domain = model.domain
        address = f"{random_local_part()}@{domain}"
        try:
            answer = await self._ask_random(session, transaction, address)
        except BaseException:
            self._catch_all.settle(domain, None, keep=False)
            raise
        if answer is None:
            self._catch_all.settle(domain, None)
            return

        classification = classify_reply(answer.reply, Stage.RCPT, answer.text)
        if classification.action is Action.RETRY_LATER:
            self._retry_probe(model, address, answer, classification)
            return
        self._catch_all.settle(domain, catch_all_value(answer))

    async def _ask_random(
        self, session: SmtpSession, transaction: Transaction, address: str
    ) -> ServerAnswer | None:
        """MAIL, RCPT a random local part, RSET; None if MAIL was refused."""
        mail = await session.mail()
        if not mail.accepted:
            await session.reset()
            return None

        answer = await session.rcpt(address)
        transaction.sent += 1
        self._stats.catch_all_probes += 1
        await session.reset()
        return answer

    def _retry_probe(
        self,
        model: ProbeRequest,
        address: str,
        answer: ServerAnswer,
        classification: Classification,
    ) -> None:
        """Greylisting keys on the address: the retry asks the same one."""
        future: asyncio.Future[MailboxOutcome]
        future = asyncio.get_running_loop().create_future()
        probe = ProbeRequest(
            address,
            model.domain,
            smtputf8=False,
            hosts=model.hosts,
            future=future,
            host_index=model.host_index,
            catch_all_probe=True,
        )

        def settle(done: asyncio.Future[MailboxOutcome]) -> None:
            self._catch_all.settle(model.domain, outcome_catch_all_value(done.result()))

        future.add_done_callback(settle)
        self._queue.retry_later(probe, answer, classification)
