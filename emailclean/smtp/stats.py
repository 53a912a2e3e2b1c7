"""Counters the prober keeps, for the job summary and politeness tests."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ProberStats"]


@dataclass
class ProberStats:
    """What the prober did; all counts are for the whole job."""

    connections_opened: int = 0  # TCP connects attempted
    sessions: int = 0  # connections that got through greeting and hello
    recipients_sent: int = 0  # RCPT commands for real recipients
    catch_all_probes: int = 0  # RCPT commands for random local parts
    max_concurrent_per_host: int = 0  # most sessions open at once to one host
