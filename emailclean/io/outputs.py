"""The set of files a job writes: the main output and the --split-dir files.

Decides which rows go where (--keep, --drop-flagged, --dedupe) and guards
the files themselves: an existing output is never overwritten without
--force, and a file output is written as `OUTPUT.partial` and renamed into
place only when the job completes, so nobody sees half a file under the
final name.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from emailclean.config import JobConfig
from emailclean.errors import OutputError, UsageError
from emailclean.io.readers import InputFormat, Record
from emailclean.io.writers import Sink, Writer, make_writer
from emailclean.models import Flag, Status, Verdict

PARTIAL_SUFFIX = ".partial"
_EXTENSIONS = {"csv": ".csv", "jsonl": ".jsonl", "json": ".json", "txt": ".txt"}


@dataclass
class OutputFile:
    """One output: where it ends up, and the writer filling it."""

    final_path: Path | None  # None for stdout
    writer: Writer

    @property
    def partial_path(self) -> Path | None:
        if self.final_path is None:
            return None
        return self.final_path.with_name(self.final_path.name + PARTIAL_SUFFIX)


class OutputSet:
    """Routes verdicts to the main output and the split files."""

    def __init__(
        self, config: JobConfig, main: OutputFile, splits: dict[Status, OutputFile]
    ) -> None:
        self._config = config
        self.main = main
        self.splits = splits
        self._drop_flags = set(config.drop_flagged)
        if config.dedupe:
            self._drop_flags.add(Flag.DUPLICATE)

    @classmethod
    def create(
        cls, config: JobConfig, output_format: str, input_format: InputFormat
    ) -> OutputSet:
        def open_one(path: Path | None) -> OutputFile:
            stream = _open_stream(path, config.force)
            writer = make_writer(
                output_format, Sink(stream), input_format, excel_safe=config.excel_safe
            )
            return OutputFile(path, writer)

        main_path = None if config.output == "-" else Path(config.output)
        splits = {
            status: _split_path(config.split_dir, status, output_format)
            for status in Status
        } if config.split_dir else {}
        for path in [main_path, *splits.values()]:
            _refuse_existing(path, config.force)
        return cls(
            config,
            open_one(main_path),
            {status: open_one(path) for status, path in splits.items()},
        )

    def files(self) -> list[OutputFile]:
        return [self.main, *self.splits.values()]

    def write(self, rows: list[tuple[Record, Verdict]]) -> int:
        """Write one batch; returns how many rows went to the main output."""
        kept = [row for row in rows if self._keeps(row[1])]
        _guarded(self.main.writer.write_rows, kept)
        for status, output in self.splits.items():
            chosen = [
                row
                for row in rows
                if row[1].status is status and Flag.DUPLICATE not in row[1].flags
            ]
            _guarded(output.writer.write_rows, chosen)
        return len(kept)

    def commit(self, last: Record) -> None:
        """Make everything written so far visible to readers of the stream."""
        for output in self.files():
            _guarded(output.writer.sink.flush)

    def finish(self) -> None:
        """Close every file and move it into place."""
        for output in self.files():
            _guarded(output.writer.finish)
            _guarded(output.writer.sink.flush, output.final_path is not None)
            if output.final_path is None:
                continue
            output.writer.sink.stream.close()
            os.replace(output.partial_path, output.final_path)  # type: ignore[arg-type]

    def abandon(self) -> None:
        """Close files after a failure; partial files stay for inspection."""
        for output in self.files():
            if output.final_path is not None:
                try:
                    output.writer.sink.stream.close()
                except OSError:
                    pass

    def _keeps(self, verdict: Verdict) -> bool:
        if verdict.status not in self._config.keep:
            return False
        return not (self._drop_flags and self._drop_flags & verdict.flags)


def _split_path(directory: str | None, status: Status, output_format: str) -> Path:
    assert directory is not None
    return Path(directory) / f"{status.value}{_EXTENSIONS[output_format]}"


def _refuse_existing(path: Path | None, force: bool) -> None:
    if path is not None and path.exists() and not force:
        raise UsageError(f"{path} already exists; add --force to overwrite it")


def _open_stream(path: Path | None, force: bool) -> BinaryIO:
    if path is None:
        return sys.stdout.buffer
    partial = path.with_name(path.name + PARTIAL_SUFFIX)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return open(partial, "wb")  # noqa: SIM115
    except OSError as error:
        raise OutputError(f"{partial}: cannot be created ({error.strerror})") from error


def _guarded(action: object, *args: object) -> None:
    try:
        action(*args)  # type: ignore[operator]
    except BrokenPipeError:
        raise
    except OSError as error:
        raise OutputError(f"writing the output failed: {error.strerror or error}") from error
