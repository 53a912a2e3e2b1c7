"""emailclean from Python: the same engine the command line uses.

    from emailclean.api import JobConfig, validate_file, check_addresses

    summary = validate_file(JobConfig("contacts.csv", output="clean.csv"))
    print(summary.counts)

    for verdict in check_addresses(["ann@gmail.com"], JobConfig("-", checks=...)):
        print(verdict.status, verdict.reason, verdict.message)
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from importlib.metadata import version

from emailclean import __version__
from emailclean.checker import AddressChecker
from emailclean.checks.lists import lists_version
from emailclean.config import JobConfig
from emailclean.models import Check, Status, Verdict
from emailclean.pipeline import Job, JobSummary, ProgressCallback

__all__ = [
    "Check",
    "JobConfig",
    "JobSummary",
    "Status",
    "Verdict",
    "check_addresses",
    "check_addresses_async",
    "validate_file",
    "version_text",
]


def validate_file(
    config: JobConfig, progress: ProgressCallback | None = None
) -> JobSummary:
    """Run a whole `validate` job and return its summary."""
    return asyncio.run(Job(config, progress).run())


def check_addresses(addresses: Sequence[str], config: JobConfig) -> list[Verdict]:
    """Verdicts for a few addresses, in order, with the layers `config` names."""
    return asyncio.run(check_addresses_async(addresses, config))


async def check_addresses_async(
    addresses: Sequence[str], config: JobConfig
) -> list[Verdict]:
    checker = AddressChecker.from_config(config)
    try:
        return list(await asyncio.gather(*(checker.check(a) for a in addresses)))
    finally:
        await checker.aclose()


def version_text() -> str:
    return (
        f"emailclean {__version__} (email-validator {version('email-validator')}; "
        f"{lists_version()})"
    )
