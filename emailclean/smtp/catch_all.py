"""Catch-all answers per domain: asked once, shared, kept for the job.

A domain whose server accepts a local part nobody was ever given is
catch-all: its accepted recipients prove nothing (DESIGN.md §3). The
prober asks at most once per domain; requests that need the answer while
the probe is in flight wait on it (single flight) without holding a
session. A greylisted probe is retried like any recipient. An answer of
None means the probe could not be decided (a block, a refused MAIL, a
greylist that outlasted its budget); it is kept too, so a domain is not
asked again and again.

Whether a domain is catch-all can never be proven either way: a server may
accept at RCPT and bounce later, or treat a random name differently from
a real one. The verdict layer says so in the message.
"""

from __future__ import annotations

import asyncio
import secrets
import string

from emailclean.models import MailboxOutcome, Reason
from emailclean.smtp.client import ServerAnswer
from emailclean.smtp.replies import Stage, classify_reply

__all__ = [
    "CatchAllCache",
    "catch_all_value",
    "outcome_catch_all_value",
    "random_local_part",
]

LOCAL_PART_LENGTH = 24
LOCAL_PART_ALPHABET = string.ascii_lowercase + string.digits


def random_local_part() -> str:
    """24 random lowercase letters and digits: about 124 bits, never issued."""
    return "".join(
        secrets.choice(LOCAL_PART_ALPHABET) for _ in range(LOCAL_PART_LENGTH)
    )


def catch_all_value(answer: ServerAnswer) -> bool | None:
    """Accepted: catch-all. Refused as unknown: not. Anything else: undecided."""
    if answer.accepted:
        return True
    classification = classify_reply(answer.reply, Stage.RCPT, answer.text)
    if classification.reason in (Reason.MAILBOX_NOT_FOUND, Reason.MAILBOX_DISABLED):
        return False
    return None


def outcome_catch_all_value(outcome: MailboxOutcome) -> bool | None:
    """The same reading for a probe that went through the retry queue."""
    if outcome.reason in (Reason.MAILBOX_EXISTS, Reason.CATCH_ALL):
        return True
    if outcome.reason in (Reason.MAILBOX_NOT_FOUND, Reason.MAILBOX_DISABLED):
        return False
    return None


class CatchAllCache:
    """Each domain's catch-all answer, with one probe in flight at most.

    A flight is a future the prober resolves with `settle`; requests waiting
    for the answer attach callbacks to it instead of holding a session.
    """

    def __init__(self) -> None:
        self._known: dict[str, bool | None] = {}
        self._flights: dict[str, asyncio.Future[bool | None]] = {}

    def remember(self, domain: str, value: bool | None) -> None:
        self._known[domain.lower()] = value

    def known(self) -> list[tuple[str, bool | None]]:
        return list(self._known.items())

    def is_known(self, domain: str) -> bool:
        return domain in self._known

    def value(self, domain: str) -> bool | None:
        return self._known[domain]

    def flight(self, domain: str) -> asyncio.Future[bool | None] | None:
        """The probe in flight for `domain`, if one is."""
        return self._flights.get(domain)

    def begin(self, domain: str) -> asyncio.Future[bool | None]:
        """Start the one flight for `domain`; `settle` must end it."""
        flight = asyncio.get_running_loop().create_future()
        self._flights[domain] = flight
        return flight

    def settle(self, domain: str, value: bool | None, keep: bool = True) -> None:
        """End the flight with `value`; `keep` it for the job unless told not to."""
        if keep:
            self._known[domain] = value
        flight = self._flights.pop(domain, None)
        if flight is not None and not flight.done():
            flight.set_result(value)
