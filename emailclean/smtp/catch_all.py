"""Catch-all answers per domain: asked once, shared, kept for the job.

A domain whose server accepts a local part nobody was ever given is
catch-all: its accepted recipients prove nothing (DESIGN.md §3). The
prober asks at most once per domain; concurrent sessions that need the
same answer await the one probe in flight (single flight). An answer of
None means the probe could not be decided (a 4xx, a block, a refused
MAIL); it is kept too, so a domain is not asked again and again.

Whether a domain is catch-all can never be proven either way: a server may
accept at RCPT and bounce later, or treat a random name differently from
a real one. The verdict layer says so in the message.
"""

from __future__ import annotations

import asyncio
import secrets
import string
from collections.abc import Awaitable, Callable

from emailclean.models import Reason
from emailclean.smtp.client import ServerAnswer
from emailclean.smtp.replies import Stage, classify_reply

__all__ = ["CatchAllCache", "catch_all_value", "random_local_part"]

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


class CatchAllCache:
    """Each domain's catch-all answer, with one probe in flight at most."""

    def __init__(self) -> None:
        self._known: dict[str, bool | None] = {}
        self._flights: dict[str, asyncio.Future[bool | None]] = {}

    def remember(self, domain: str, value: bool | None) -> None:
        self._known[domain.lower()] = value

    def known(self) -> list[tuple[str, bool | None]]:
        return list(self._known.items())

    def is_known(self, domain: str) -> bool:
        return domain in self._known

    async def answer(
        self, domain: str, probe: Callable[[], Awaitable[bool | None]]
    ) -> bool | None:
        """The cached answer, the one in flight, or `probe()`'s, kept."""
        if domain in self._known:
            return self._known[domain]
        flight = self._flights.get(domain)
        if flight is not None:
            return await asyncio.shield(flight)

        flight = asyncio.get_running_loop().create_future()
        self._flights[domain] = flight
        try:
            value = await probe()
        except BaseException:
            flight.set_result(None)  # waiters hear "undecided"; nothing kept
            raise
        finally:
            del self._flights[domain]
        self._known[domain] = value
        flight.set_result(value)
        return value
