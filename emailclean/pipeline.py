"""The streaming job: read → check → verdict → reorder → write → commit.

Rows travel in batches (a few hundred at a time) so that per-row overhead
stays tiny. Each batch is checked for syntax at once; rows that need the
network become tasks (one per domain for DNS-only runs, one per address
when SMTP runs) and the batch waits in a window until they finish. The
writer always takes the oldest batch, so output keeps input order.

Memory is bounded by the window: at most `concurrency` rows wait for the
network, plus the batches behind them. Nothing grows with the input: the
--dedupe memory lives in SQLite (the job state, or a temporary file).

With job state, every few seconds the outputs are flushed and fsynced and
then the progress is committed (io/checkpoint.py). SIGINT and SIGTERM stop
reading, let rows in flight finish for a short while, commit, and stop; a
second signal exits at once, leaving the last commit valid.
"""

from __future__ import annotations

import asyncio
import functools
import operator
import os
import shlex
import signal
import sqlite3
import tempfile
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, BinaryIO, cast

from emailclean.checker import AddressChecker
from emailclean.config import JobConfig
from emailclean.errors import EmailcleanError, OutputError
from emailclean.io.checkpoint import JobState, Progress
from emailclean.io.outputs import OutputSet
from emailclean.io.readers import ListReader, Record, open_input
from emailclean.io.spill import SpillStore
from emailclean.models import AddressInfo, Flag, Reason, Status, Verdict
from emailclean.verdict import decide

# Batches waiting to be written, at most; with no network work they are
# written as soon as they are checked.
MAX_WINDOW_BATCHES = 64
# Seconds between commits. EMAILCLEAN_COMMIT_INTERVAL overrides it (the
# crash-safety tests set 0 to commit after every batch); it tunes how much
# work a crash can cost, never what the job writes.
COMMIT_INTERVAL = 2.0
# After SIGINT/SIGTERM, rows in flight get this long to finish; the rest are
# dropped and recomputed on resume.
STOP_GRACE = 3.0
SIGNAL_EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143}


class JobStopped(EmailcleanError):
    """The job was stopped by a signal after committing its progress."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


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

    def counters(self, last: Record | None = None) -> dict[str, Any]:
        """The part of the summary a checkpoint carries across a resume;
        `last` is the last row written, whose reader tallies count so far."""
        return {
            "rows_in": self.rows_in,
            "rows_written": self.rows_written,
            "duplicates": self.duplicates,
            "blank_lines": self.blank_lines + (last.blank_seen if last else 0),
            "ragged_rows": self.ragged_rows + (last.ragged_seen if last else 0),
            "counts": [[s.value, r.value, n] for (s, r), n in self.counts.items()],
        }

    def restore(self, counters: dict[str, Any]) -> None:
        self.rows_in = counters.get("rows_in", 0)
        self.rows_written = counters.get("rows_written", 0)
        self.duplicates = counters.get("duplicates", 0)
        self.blank_lines = counters.get("blank_lines", 0)
        self.ragged_rows = counters.get("ragged_rows", 0)
        for status, reason, count in counters.get("counts", []):
            self.counts[Status(status), Reason(reason)] = count


ProgressCallback = Callable[[int, int], None]


@dataclass
class _Batch:
    seq: int
    records: list[Record]
    verdicts: list[Verdict | None]
    tasks: list[asyncio.Task[None]]
    spilled: bool = False

    @property
    def done(self) -> bool:
        return all(task.done() for task in self.tasks)

    async def wait(self) -> None:
        if self.tasks:
            await asyncio.gather(*self.tasks)

    def cancel(self) -> None:
        for task in self.tasks:
            task.cancel()


class Job:
    """One run of `validate` over one input, fresh or resumed."""

    def __init__(
        self,
        config: JobConfig,
        progress: ProgressCallback | None = None,
        state: JobState | None = None,
    ) -> None:
        self.config = config
        self.summary = JobSummary()
        self.state = state
        self._progress = progress
        self._window: deque[_Batch] = deque()
        self._unfinished = 0  # rows whose network work has not finished
        self._task_finished = asyncio.Event()
        self._in_memory = 0  # batches in the window not spilled to disk
        self._next_seq = 0
        self._spill: SpillStore | None = None
        self._parked: dict[int, Verdict] = {}
        self._stop_signal: signal.Signals | None = None
        self._stop_event = asyncio.Event()
        self._remember: Callable[[str], bool] = _no_memory
        self._last_record: Record | None = None
        self._last_commit = time.monotonic()
        self._commit_interval = _commit_interval()
        self._resumed = state.progress if state is not None else Progress()
        self.summary.restore(self._resumed.counters)

    async def run(self) -> JobSummary:
        started = time.monotonic()
        stream = open_input(self._input_path())
        try:
            with self._signals(), self._scratch():
                await self._run_stream(stream)
        except sqlite3.Error as error:
            # Dedupe memory and parked rows live in SQLite between commits;
            # the last commit stays valid whatever failed here.
            raise OutputError(
                f"the job state could not be written ({error}); is the disk full?"
            ) from error
        finally:
            stream.close()
            self.summary.elapsed = time.monotonic() - started
        return self.summary

    def _input_path(self) -> str:
        if self.state is not None:
            return self.state.header.input_path
        return self.config.input

    async def _run_stream(self, stream: BinaryIO) -> None:
        reader = await asyncio.to_thread(self._open_reader, stream)
        output_format = self.config.resolved_format(reader.format.kind)
        self.summary.output_format = output_format
        checker = AddressChecker.from_config(self.config)
        self._seed(checker)
        resume = self._resumed.outputs if self._resumed.outputs else None
        outputs = OutputSet.create(self.config, output_format, reader.format, resume)
        try:
            await self._process(reader, checker, outputs)
            self._finish(outputs, checker)
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
        batches = reader.batches(
            skip_to=self._resumed.input_offset, first_index=self._resumed.next_row
        )
        feed: BatchFeed | InlineFeed = (
            InlineFeed(batches) if reader.seekable else BatchFeed(batches)
        )
        try:
            while (records := await self._next_batch(feed)) is not None:
                self._window.append(self._start(records, checker))
                await self._drain(outputs, checker, final=False)
                self._report(reader)
        finally:
            feed.close()
        if self._stop_signal is None:
            await self._drain(outputs, checker, final=True)
        if self._stop_signal is not None:
            await self._stop(outputs, checker)
        self._report(reader)

    async def _next_batch(self, feed: BatchFeed | InlineFeed) -> list[Record] | None:
        """The next batch, or None at the end of input or when stopping."""
        if self._stop_signal is not None:
            return None
        if isinstance(feed, InlineFeed):
            # Reading a file never waits, and a syntax-only batch has no
            # network work to await: yield here, or a SIGINT/SIGTERM handler
            # would not run until the whole job was done.
            await asyncio.sleep(0)
            return feed.next()
        reading = asyncio.ensure_future(feed.get())
        stopping = asyncio.ensure_future(self._stop_event.wait())
        await asyncio.wait({reading, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not reading.done():
            reading.cancel()
            return None
        return reading.result()

    def _start(self, records: list[Record], checker: AddressChecker) -> _Batch:
        """Check syntax now; start network work for the rows that need it."""
        verdicts: list[Verdict | None] = [None] * len(records)
        waiting: dict[str, list[tuple[int, AddressInfo]]] = {}
        # The per-row loop of the whole job: names bound once, no calls that
        # a local lookup can replace.
        check, parked = checker.check_syntax, self._parked
        needs_network = checker.needs_network
        for position, record in enumerate(records):
            if record.problem is not None:
                verdicts[position] = _unreadable(record)
                continue
            if parked and record.index in parked:
                verdicts[position] = parked.pop(record.index)
                continue
            info = check(record.cell)
            if needs_network(info):
                waiting.setdefault(info.ascii_domain or "", []).append((position, info))
            else:
                verdicts[position] = decide(info)
        tasks = _network_tasks(waiting, verdicts, checker)
        for task, rows in tasks:
            self._unfinished += rows
            task.add_done_callback(functools.partial(self._on_task_done, rows))
        self._next_seq += 1
        self._in_memory += 1
        return _Batch(self._next_seq, records, verdicts, [task for task, _ in tasks])

    def _on_task_done(self, rows: int, task: asyncio.Task[None]) -> None:
        self._unfinished -= rows
        self._task_finished.set()

    async def _drain(
        self, outputs: OutputSet, checker: AddressChecker, *, final: bool
    ) -> None:
        """Write finished batches in order; wait while too much is in flight.

        A batch that finished behind an unfinished head is spilled to disk
        once too many batches are held in memory.
        """
        while self._window:
            head = self._window[0]
            if not head.done:
                if self._stop_signal is not None:
                    return  # the caller stops (with a grace for rows in flight)
                crowded = self._in_memory > MAX_WINDOW_BATCHES
                must_wait = (
                    final
                    or self._unfinished > self.config.concurrency
                    or (crowded and not self._spill_finished())
                )
                if not must_wait:
                    return
                await self._wait_for_any_task()
                continue
            await head.wait()  # done: raises if one of its tasks failed
            self._window.popleft()
            self._write(self._unspilled(head), outputs)
            if time.monotonic() - self._last_commit >= self._commit_interval:
                self._commit(outputs, checker)

    async def _wait_for_any_task(self) -> None:
        """Until a network task finishes, or a signal asks the job to stop."""
        self._task_finished.clear()
        finished = asyncio.ensure_future(self._task_finished.wait())
        stopping = asyncio.ensure_future(self._stop_event.wait())
        await asyncio.wait({finished, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finished.cancel()
        stopping.cancel()

    def _spill_finished(self) -> bool:
        """Move finished batches behind the head to disk; True if any moved."""
        assert self._spill is not None
        moved = False
        for batch in list(self._window)[1:]:
            if batch.spilled or not batch.done:
                continue
            verdicts = [v for v in batch.verdicts if v is not None]
            self._spill.put(batch.seq, batch.records, verdicts)
            batch.records, batch.verdicts, batch.tasks = [], [], []
            batch.spilled = True
            self._in_memory -= 1
            moved = True
        return moved

    def _unspilled(self, batch: _Batch) -> _Batch:
        if batch.spilled:
            assert self._spill is not None
            records, verdicts = self._spill.take(batch.seq)
            batch.records, batch.verdicts = records, list(verdicts)
            batch.spilled = False
        else:
            self._in_memory -= 1
        return batch

    async def _stop(self, outputs: OutputSet, checker: AddressChecker) -> None:
        """Give rows in flight a short grace, drop the rest, commit, stop."""
        deadline = time.monotonic() + STOP_GRACE
        while self._window:
            head = self._window[0]
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not await _finished_within(head, remaining):
                break
            self._window.popleft()
            self._write(self._unspilled(head), outputs)
            self._commit(outputs, checker)
        # Rows written since the last periodic commit are kept too.
        self._commit(outputs, checker)
        for batch in self._window:
            batch.cancel()
        self._window.clear()
        signal_number = self._stop_signal or signal.SIGINT
        raise JobStopped(self._stop_message(), SIGNAL_EXIT[signal_number])

    def _stop_message(self) -> str:
        if self.state is None:
            return "stopped; output so far is incomplete"
        return (
            "stopped; progress saved. Finish the job with: "
            f"emailclean resume {shlex.quote(str(self.state.path))}"
        )

    def _write(self, batch: _Batch, outputs: OutputSet) -> None:
        verdicts = cast(list[Verdict], batch.verdicts)  # every task has finished
        if self.config.dedupe:
            verdicts = [self._mark_duplicate(verdict) for verdict in verdicts]
        self.summary.rows_in += len(verdicts)
        self.summary.counts.update(map(_status_and_reason, verdicts))
        rows = list(zip(batch.records, verdicts, strict=True))
        self.summary.rows_written += outputs.write(rows)
        self._last_record = batch.records[-1]

    def _commit(self, outputs: OutputSet, checker: AddressChecker) -> None:
        """Outputs flushed and fsynced, then the job state committed."""
        self._last_commit = time.monotonic()
        last = self._last_record
        if self.state is None or last is None:
            outputs.sync(durable=False)
            return
        offsets = outputs.sync(durable=True)
        if checker.resolver is not None:
            self.state.save_domains(checker.resolver.known())
        if checker.prober is not None:
            self.state.save_catch_all(checker.prober.known_catch_all())
        self.state.commit(
            Progress(
                input_offset=last.end_offset,
                next_row=last.index + 1,
                outputs=offsets,
                counters=self.summary.counters(self._last_record),
            )
        )

    def _finish(self, outputs: OutputSet, checker: AddressChecker) -> None:
        """Trailers written and synced, job marked complete, files renamed."""
        offsets = outputs.close_writers()
        if self.state is not None:
            last = self._last_record
            progress = Progress(
                input_offset=last.end_offset if last else self._resumed.input_offset,
                next_row=last.index + 1 if last else self._resumed.next_row,
                outputs=offsets,
                counters=self.summary.counters(self._last_record),
                complete=True,
            )
            self.state.commit(progress)
        outputs.move_into_place()

    def _mark_duplicate(self, verdict: Verdict) -> Verdict:
        if not self.config.dedupe or verdict.normalized is None:
            return verdict
        if self._remember(verdict.normalized.casefold()):
            return verdict
        self.summary.duplicates += 1
        return _with_flag(verdict, Flag.DUPLICATE)

    def _seed(self, checker: AddressChecker) -> None:
        """Give the network layers what an earlier run of this job learned."""
        if self.state is None:
            return
        if checker.resolver is not None:
            for domain, outcome in self.state.domains():
                checker.resolver.remember(domain, outcome)
        if checker.prober is not None:
            for domain, value in self.state.catch_all():
                checker.prober.remember_catch_all(domain, value)

    @contextmanager
    def _scratch(self) -> Iterator[None]:
        """SQLite for --dedupe memory and spilled rows: the job state's, or a
        temporary file. Never a set that grows with the input."""
        if self.state is not None:
            self._open_scratch(self.state.db, self.state.add_seen)
            self._parked = self._spill_store().finished_rows()
            self._spill_store().clear()
            yield
            return
        with tempfile.TemporaryDirectory(prefix="emailclean-") as folder:
            db = sqlite3.connect(
                os.path.join(folder, "scratch.db"), isolation_level=None
            )
            db.execute("PRAGMA journal_mode = OFF")
            db.execute("PRAGMA synchronous = OFF")
            db.execute("CREATE TABLE seen (address TEXT PRIMARY KEY) WITHOUT ROWID")

            def remember(key: str) -> bool:
                cursor = db.execute("INSERT OR IGNORE INTO seen VALUES (?)", (key,))
                return cursor.rowcount == 1

            self._open_scratch(db, remember)
            try:
                yield
            finally:
                db.close()

    def _open_scratch(
        self, db: sqlite3.Connection, remember: Callable[[str], bool]
    ) -> None:
        self._remember = remember
        self._spill = SpillStore(db)

    def _spill_store(self) -> SpillStore:
        assert self._spill is not None
        return self._spill

    @contextmanager
    def _signals(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        installed = []
        for signal_number in SIGNAL_EXIT:
            try:
                loop.add_signal_handler(signal_number, self._on_signal, signal_number)
                installed.append(signal_number)
            except (ValueError, RuntimeError):
                pass  # not the main thread: the embedding program owns signals
        try:
            yield
        finally:
            for signal_number in installed:
                loop.remove_signal_handler(signal_number)

    def _on_signal(self, signal_number: signal.Signals) -> None:
        if self._stop_signal is not None:
            # Second signal: leave now. The last commit stays valid.
            os._exit(SIGNAL_EXIT[signal_number])
        self._stop_signal = signal_number
        self._stop_event.set()

    def _report(self, reader: ListReader) -> None:
        if self._progress is not None:
            self._progress(self.summary.rows_in, reader.bytes_read)

    def _finish_summary(self, reader: ListReader, checker: AddressChecker) -> None:
        self.summary.blank_lines += reader.blank_lines
        self.summary.ragged_rows += reader.ragged_rows
        self.summary.degraded.extend(checker.final_health())
        if self.summary.rows_in == 0:
            self.summary.warnings.append(
                f"{self.config.input}: no data rows (the input is empty or has "
                "only a header)"
            )
        if self.summary.ragged_rows:
            self.summary.warnings.append(
                f"{self.summary.ragged_rows} row(s) had a different number of columns "
                "than the header"
            )


def _network_tasks(
    waiting: dict[str, list[tuple[int, AddressInfo]]],
    verdicts: list[Verdict | None],
    checker: AddressChecker,
) -> list[tuple[asyncio.Task[None], int]]:
    """One task per domain (DNS only) or per address (SMTP), with its row count."""
    if checker.prober is None:
        return [
            (asyncio.create_task(_fill_group(verdicts, group, checker)), len(group))
            for group in waiting.values()
        ]
    return [
        (asyncio.create_task(_fill_one(verdicts, position, info, checker)), 1)
        for group in waiting.values()
        for position, info in group
    ]


class InlineFeed:
    """Reads batches on the event loop: for files, where a read never blocks
    for long and a thread would only add hand-offs."""

    def __init__(self, batches: Iterator[list[Record]]) -> None:
        self._batches = batches

    def next(self) -> list[Record] | None:
        return next(self._batches, None)

    def close(self) -> None:
        return None


class BatchFeed:
    """Reads batches in a daemon thread, a few ahead of the event loop.

    For pipes and stdin. A thread of our own rather than the loop's
    executor: a read blocked on a silent stdin must not keep the process
    alive after the job stops.
    """

    DEPTH = 4

    def __init__(self, batches: Iterator[list[Record]]) -> None:
        self._batches = batches
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[list[Record] | BaseException | None] = (
            asyncio.Queue()
        )
        self._slots = threading.Semaphore(self.DEPTH)
        self._closed = False
        threading.Thread(
            target=self._run, name="emailclean-reader", daemon=True
        ).start()

    async def get(self) -> list[Record] | None:
        item = await self._queue.get()
        self._slots.release()
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self) -> None:
        self._closed = True
        self._slots.release()

    def _run(self) -> None:
        try:
            for batch in self._batches:
                self._slots.acquire()
                if self._closed:
                    return
                self._put(batch)
            self._put(None)
        # Anything, even KeyboardInterrupt, is handed to the loop and raised there.
        except BaseException as error:  # noqa: BLE001
            self._put(error)

    def _put(self, item: list[Record] | BaseException | None) -> None:
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError:
            pass  # the loop is gone: the job already ended


def _commit_interval() -> float:
    try:
        return float(os.environ.get("EMAILCLEAN_COMMIT_INTERVAL", COMMIT_INTERVAL))
    except ValueError:
        return COMMIT_INTERVAL


def _no_memory(key: str) -> bool:
    raise AssertionError("the dedupe memory is not open")


async def _finished_within(batch: _Batch, seconds: float) -> bool:
    if not batch.tasks:
        return True
    done, _ = await asyncio.wait(batch.tasks, timeout=seconds)
    return len(done) == len(batch.tasks)


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


_status_and_reason = operator.itemgetter(0, 1)  # of a Verdict, for the counts


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
