"""What the user sees on stderr: the progress bar, the summary, verdict cards.

Everything here writes to stderr; stdout carries data only.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from emailclean.models import FLAG_ORDER, Status, Verdict
from emailclean.pipeline import JobSummary, ProgressCallback

_STATUS_STYLE = {
    Status.VALID: "green",
    Status.RISKY: "yellow",
    Status.INVALID: "red",
    Status.UNKNOWN: "magenta",
}


def make_console(*, stdout: bool = False) -> Console:
    """stderr for messages; stdout (never hard-wrapped) for `check`'s cards."""
    if stdout:
        return Console(
            no_color="NO_COLOR" in os.environ, highlight=False, soft_wrap=True
        )
    return Console(stderr=True, no_color="NO_COLOR" in os.environ, highlight=False)


@contextmanager
def progress_bar(
    console: Console, total_bytes: int | None, enabled: bool
) -> Iterator[ProgressCallback | None]:
    """A callback that moves a bar by bytes read, or None when disabled."""
    if not enabled:
        yield None
        return
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[rows]:>10,} rows"),
        TextColumn("{task.fields[rate]:>8,.0f} rows/s"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("checking", total=total_bytes, rows=0, rate=0.0)

        def update(rows: int, bytes_read: int) -> None:
            elapsed = progress.tasks[task].elapsed or 0.0
            rate = rows / elapsed if elapsed else 0.0
            progress.update(task, completed=bytes_read, rows=rows, rate=rate)

        yield update


def print_summary(console: Console, summary: JobSummary, destination: str) -> None:
    """Counts by status and reason, time and rate."""
    table = Table(title="emailclean summary", title_justify="left")
    table.add_column("status")
    table.add_column("reason")
    table.add_column("rows", justify="right")
    for (status, reason), count in sorted(
        summary.counts.items(),
        key=lambda item: (list(Status).index(item[0][0]), -item[1]),
    ):
        style = _STATUS_STYLE[status]
        table.add_row(f"[{style}]{status.value}[/]", reason.value, f"{count:,}")
    console.print(table)

    rate = summary.rows_in / summary.elapsed if summary.elapsed else 0.0
    console.print(
        f"{summary.rows_in:,} rows in, {summary.rows_written:,} written to "
        f"{destination}, {summary.rows_dropped:,} left out "
        f"in {summary.elapsed:.1f}s ({rate:,.0f} rows/s)."
    )
    if summary.duplicates:
        console.print(f"{summary.duplicates:,} duplicate(s) dropped (--dedupe).")
    if summary.blank_lines:
        console.print(f"{summary.blank_lines:,} blank line(s) skipped.")


def print_card(console: Console, address: str, verdict: Verdict) -> None:
    """A readable verdict for one address (`emailclean check`)."""
    style = _STATUS_STYLE[verdict.status]
    console.print(
        f"[bold]{address}[/]  [{style}]{verdict.status.value}[/] "
        f"({verdict.reason.value})"
    )
    console.print(f"  {verdict.message}")
    flags = [flag.value for flag in FLAG_ORDER if flag in verdict.flags]
    details = [
        ("normalized", verdict.normalized),
        ("flags", ", ".join(flags) or None),
        ("suggestion", verdict.suggestion),
        ("mx", verdict.mx),
    ]
    if verdict.smtp is not None:
        smtp = verdict.smtp
        details.append(
            ("smtp", f"{smtp.code} {smtp.enhanced or ''} {smtp.text}".strip())
        )
    for name, value in details:
        if value:
            console.print(f"  {name}: {value}")
