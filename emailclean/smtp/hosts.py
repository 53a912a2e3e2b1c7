"""Per-MX-host queues of probe requests, and how batches leave them.

Every MX host name has one `HostQueue`: the requests waiting for it and
what the prober has learnt about its manners (sessions at once, back-off
after 421, timeouts in a row). A `ProbeRequest` is one `probe` call on its
way through its domain's hosts in preference order; a `Transaction` is the
part of a batch that one MAIL transaction has not settled yet.

Batches are taken so that a session never sends more RCPT commands than
`recipients_per_session`, counting the catch-all probe each new domain in
the batch may need.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from emailclean.models import MailboxOutcome
from emailclean.smtp.client import ServerAnswer

__all__ = [
    "HostQueue",
    "ProbeRequest",
    "Transaction",
    "pop_live",
    "take_batch",
]


@dataclass(eq=False)
class HostQueue:
    """One MX host name: its queue of requests and its manners."""

    name: str
    addresses: tuple[str, ...]
    session_limit: int  # per_host, lowered if the host says 421 to more
    pending: deque[ProbeRequest] = field(default_factory=deque)
    work: asyncio.Event = field(default_factory=asyncio.Event)
    sessions: int = 0  # session tasks, connected or waiting for a slot
    connected: int = 0
    backoff_until: float = 0.0
    backoff_strikes: int = 0
    timeouts_in_row: int = 0
    written_off: bool = False
    starttls: bool = True  # False once its TLS handshake has failed


@dataclass(eq=False)
class ProbeRequest:
    """One probe call on its way through the hosts of its domain."""

    recipient: str
    domain: str
    smtputf8: bool
    hosts: list[HostQueue]
    future: asyncio.Future[MailboxOutcome]
    host_index: int = 0
    failure: MailboxOutcome | None = None  # why earlier MX hosts failed
    greylist_started: float | None = None
    greylist_delay: float = 0.0
    rate_limit_strikes: int = 0
    drops: int = 0
    catch_all_probe: bool = False  # a random local part, asked for its domain

    @property
    def host(self) -> HostQueue:
        return self.hosts[self.host_index]


@dataclass(eq=False)
class Transaction:
    """The requests of one MAIL transaction not yet settled either way."""

    unsettled: list[ProbeRequest]
    accepted: list[tuple[ProbeRequest, ServerAnswer]] = field(default_factory=list)
    sent: int = 0  # RCPT commands, catch-all probe included

    def open_requests(self) -> list[ProbeRequest]:
        """Requests still without a verdict, accepted ones included."""
        return self.unsettled + [request for request, _ in self.accepted]


def take_batch(
    host: HostQueue, budget: int, needs_probe: Callable[[str], bool]
) -> list[ProbeRequest]:
    """Pop up to `budget` live requests, leaving room for catch-all probes."""
    batch: list[ProbeRequest] = []
    probes: set[str] = set()
    while host.pending:
        request = host.pending[0]
        if request.future.done():
            host.pending.popleft()
            continue
        new_probe = request.domain not in probes and needs_probe(request.domain)
        if len(batch) + len(probes) + 1 + new_probe > budget:
            break
        host.pending.popleft()
        batch.append(request)
        if new_probe:
            probes.add(request.domain)
    return batch


def pop_live(host: HostQueue, count: int) -> list[ProbeRequest]:
    """Pop up to `count` live requests, no room kept for anything."""
    popped: list[ProbeRequest] = []
    while host.pending and len(popped) < count:
        request = host.pending.popleft()
        if not request.future.done():
            popped.append(request)
    return popped
