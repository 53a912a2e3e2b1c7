"""emailclean from Python: the same engine the command line uses.

from emailclean.api import JobConfig, validate_file, check_addresses

summary = validate_file(JobConfig("contacts.csv", output="clean.csv"))
print(summary.counts)
resume("clean.csv.ckpt")        # after an interrupted run

for verdict in check_addresses(["ann@gmail.com"], JobConfig("-", checks=...)):
    print(verdict.status, verdict.reason, verdict.message)
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path

from emailclean import __version__
from emailclean.checker import AddressChecker
from emailclean.checks.lists import lists_version
from emailclean.config import JobConfig
from emailclean.jobs import Notify, resume_job, start_job
from emailclean.models import Check, Status, Verdict
from emailclean.pipeline import JobSummary, ProgressCallback

__all__ = [
    "Check",
    "JobConfig",
    "JobSummary",
    "Status",
    "Verdict",
    "check_addresses",
    "check_addresses_async",
    "resume",
    "validate_file",
    "version_text",
]


def validate_file(
    config: JobConfig,
    progress: ProgressCallback | None = None,
    notify: Notify | None = None,
) -> JobSummary:
    """Run a whole `validate` job (with job state for file outputs)."""
    return start_job(config, progress, notify)


def resume(
    checkpoint: str | Path,
    progress: ProgressCallback | None = None,
    notify: Notify | None = None,
) -> JobSummary:
    """Finish an interrupted job from its checkpoint file."""
    return resume_job(Path(checkpoint), progress, notify)


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
