"""The streaming job: read → check → verdict → reorder → write.

Rows travel in batches (a few hundred at a time) so that per-row overhead
stays tiny. Each batch is checked for syntax at once; rows that need the
network become tasks (one per domain for DNS-only runs, one per address
when SMTP runs) and the batch waits in a window until they finish. The
writer always takes the oldest batch, so output keeps input order.

Memory is bounded by the window: at most `concurrency` rows wait for the
network, plus the batches behind them. Nothing grows with the input.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

from emailclean.checker import AddressChecker
from emailclean.config import JobConfig
from emailclean.io.outputs import OutputSet
from emailclean.io.readers import ListReader, Record, open_input
from emailclean.models import AddressInfo, Flag, Reason, Status, Verdict
from emailclean.verdict import decide

# Batches waiting to be written, at most; with no network work they are
# written as soon as they are checked.
MAX_WINDOW_BATCHES = 64


@dataclass
class JobSummary:
    """What a finished (or stopped) job did, for the summary and exit code."""

    rows_in: int = 0
    rows_written: int = 0
    duplicates: int = 0
    blank_lines: int = 0
    ragged_rows: int = 0
    counts: Counter[tuple[Status, Reason]] = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)
    degraded: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    output_format: str = "csv"

    @property
    def rows_dropped(self) -> int:
        return self.rows_in - self.rows_written


ProgressCallback = Callable[[int, int], None]


@dataclass
class _Batch:
    records: list[Record]
    verdicts: list[Verdict | None]
    tasks: list[asyncio.Task[None]]
    network_rows: int

    @property
    def done(self) -> bool:
        return all(task.done() for task in self.tasks)

    async def wait(self) -> None:
        if self.tasks:
            await asyncio.gather(*self.tasks)


class Job:
    """One run of `validate` over one input."""

    def __init__(self, config: JobConfig, progress: ProgressCallback | None = None):
        self.config = config
        self.summary = JobSummary()
        self._progress = progress
        self._seen: set[str] = set()
        self._window: deque[_Batch] = deque()
        self._in_flight = 0

    async def run(self) -> JobSummary:
        started = time.monotonic()
        stream = open_input(self.config.input)
        try:
            await self._run_stream(stream)
        finally:
            stream.close()
            self.summary.elapsed = time.monotonic() - started
        return self.summary

    async def _run_stream(self, stream: BinaryIO) -> None:
        reader = await asyncio.to_thread(self._open_reader, stream)
        output_format = self.config.resolved_format(reader.format.kind)
        self.summary.output_format = output_format
        checker = AddressChecker.from_config(self.config)
        outputs = OutputSet.create(self.config, output_format, reader.format)
        try:
            await self._process(reader, checker, outputs)
            outputs.finish()
        except BaseException:
            outputs.abandon()
            raise
        finally:
            await checker.aclose()
        self._finish_summary(reader, checker)

    def _open_reader(self, stream: BinaryIO) -> ListReader:
        return ListReader(
            stream,
            self.config.input if self.config.input != "-" else "<stdin>",
            encoding=self.config.encoding,
            column=self.config.column,
            kind_hint=self.config.input_kind,
        )

    async def _process(
        self, reader: ListReader, checker: AddressChecker, outputs: OutputSet
    ) -> None:
        batches = reader.batches()
        while True:
            records = await asyncio.to_thread(next, batches, None)
            if records is None:
                break
            self._window.append(self._start(records, checker))
            await self._drain(outputs, final=False)
            self._report(reader)
        await self._drain(outputs, final=True)
        self._report(reader)

    def _start(self, records: list[Record], checker: AddressChecker) -> _Batch:
        """Check syntax now; start network work for the rows that need it."""
        verdicts: list[Verdict | None] = [None] * len(records)
        waiting: dict[str, list[tuple[int, AddressInfo]]] = {}
        for position, record in enumerate(records):
            if record.problem is not None:
                verdicts[position] = _unreadable(record)
                continue
            info = checker.check_syntax(record.cell)
            if checker.needs_network(info):
                waiting.setdefault(info.ascii_domain or "", []).append((position, info))
            else:
                verdicts[position] = decide(info)
        tasks = self._network_tasks(waiting, verdicts, checker)
        network_rows = sum(len(group) for group in waiting.values())
        self._in_flight += network_rows
        return _Batch(records, verdicts, tasks, network_rows)

    def _network_tasks(
        self,
        waiting: dict[str, list[tuple[int, AddressInfo]]],
        verdicts: list[Verdict | None],
        checker: AddressChecker,
    ) -> list[asyncio.Task[None]]:
        if checker.prober is None:
            return [
                asyncio.create_task(_fill_group(verdicts, group, checker))
                for group in waiting.values()
            ]
        return [
            asyncio.create_task(_fill_one(verdicts, position, info, checker))
            for group in waiting.values()
            for position, info in group
        ]

    async def _drain(self, outputs: OutputSet, *, final: bool) -> None:
        """Write finished batches in order; wait while too much is in flight."""
        while self._window:
            head = self._window[0]
            must_wait = (
                final
                or self._in_flight > self.config.concurrency
                or len(self._window) > MAX_WINDOW_BATCHES
            )
            if not head.done and not must_wait:
                return
            await head.wait()
            self._window.popleft()
            self._in_flight -= head.network_rows
            self._write(head, outputs)

    def _write(self, batch: _Batch, outputs: OutputSet) -> None:
        rows: list[tuple[Record, Verdict]] = []
        for record, verdict in zip(batch.records, batch.verdicts, strict=True):
            assert verdict is not None
            verdict = self._mark_duplicate(verdict)
            self.summary.rows_in += 1
            self.summary.counts[verdict.status, verdict.reason] += 1
            rows.append((record, verdict))
        self.summary.rows_written += outputs.write(rows)
        outputs.commit(batch.records[-1])

    def _mark_duplicate(self, verdict: Verdict) -> Verdict:
        if not self.config.dedupe or verdict.normalized is None:
            return verdict
        key = verdict.normalized.casefold()
        if key not in self._seen:
            self._seen.add(key)
            return verdict
        self.summary.duplicates += 1
        return _with_flag(verdict, Flag.DUPLICATE)

    def _report(self, reader: ListReader) -> None:
        if self._progress is not None:
            self._progress(self.summary.rows_in, reader.bytes_read)

    def _finish_summary(self, reader: ListReader, checker: AddressChecker) -> None:
        self.summary.blank_lines = reader.blank_lines
        self.summary.ragged_rows = reader.ragged_rows
        self.summary.degraded.extend(checker.health.messages)
        if self.summary.rows_in == 0:
            self.summary.warnings.append(
                f"{self.config.input}: no data rows (the input is empty or has "
                "only a header)"
            )
        if reader.ragged_rows:
            self.summary.warnings.append(
                f"{reader.ragged_rows} row(s) had a different number of columns "
                "than the header"
            )


async def _fill_group(
    verdicts: list[Verdict | None],
    group: list[tuple[int, AddressInfo]],
    checker: AddressChecker,
) -> None:
    results = await checker.check_domain_group([info for _, info in group])
    for (position, _), verdict in zip(group, results, strict=True):
        verdicts[position] = verdict


async def _fill_one(
    verdicts: list[Verdict | None],
    position: int,
    info: AddressInfo,
    checker: AddressChecker,
) -> None:
    verdicts[position] = await checker.check_mailbox(info)


def _unreadable(record: Record) -> Verdict:
    return Verdict(
        Status.INVALID,
        Reason.UNREADABLE,
        f"Line {record.line}: {record.problem}.",
    )


def _with_flag(verdict: Verdict, flag: Flag) -> Verdict:
    return Verdict(
        verdict.status,
        verdict.reason,
        verdict.message,
        verdict.normalized,
        verdict.flags | {flag},
        verdict.suggestion,
        verdict.mx,
        verdict.smtp,
    )


def run_job(
    config: JobConfig, progress: ProgressCallback | None = None
) -> JobSummary:
    """Run one job to completion (blocking); see `Job`."""
    return asyncio.run(Job(config, progress).run())

