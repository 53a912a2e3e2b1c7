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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from emailclean.config import JobConfig
from emailclean.errors import CheckpointError, OutputError, UsageError
from emailclean.io import faults
from emailclean.io.checkpoint import OutputProgress
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
        cls,
        config: JobConfig,
        output_format: str,
        input_format: InputFormat,
        resume: dict[str, OutputProgress] | None = None,
    ) -> OutputSet:
        """Open every output; with `resume`, continue partial files at their
        committed offsets instead of starting them."""
        paths = output_paths(config, output_format)
        if resume is None:
            for path in paths.values():
                _refuse_existing(path, config.force)

        def open_one(path: Path | None) -> OutputFile:
            done = resume.get(str(path)) if resume is not None else None
            stream = _open_stream(path, done)
            sink = Sink(stream, done.offset if done else 0)
            writer = make_writer(
                output_format,
                sink,
                input_format,
                excel_safe=config.excel_safe,
                rows_written=done.rows if done else 0,
            )
            return OutputFile(path, writer)

        main = open_one(paths.pop(None))
        splits = {
            status: open_one(path)
            for status, path in paths.items()
            if status is not None
        }
        return cls(config, main, splits)

    def files(self) -> list[OutputFile]:
        return [self.main, *self.splits.values()]

    def write(self, rows: list[tuple[Record, Verdict]]) -> int:
        """Write one batch; returns how many rows went to the main output."""
        keep, drop = self._config.keep, self._drop_flags
        kept = [
            row
            for row in rows
            if row[1].status in keep and not (drop and drop & row[1].flags)
        ]
        _guarded(self.main.writer.write_rows, kept)
        for status, output in self.splits.items():
            chosen = [
                row
                for row in rows
                if row[1].status is status and Flag.DUPLICATE not in row[1].flags
            ]
            _guarded(output.writer.write_rows, chosen)
        return len(kept)

    def sync(self, durable: bool) -> dict[str, OutputProgress]:
        """Flush (and with `durable`, fsync) every output; return their offsets."""
        for output in self.files():
            _guarded(
                output.writer.sink.flush, durable and output.final_path is not None
            )
        return {
            str(output.final_path): OutputProgress(
                offset=output.writer.sink.offset,
                rows=output.writer.rows_written,
                inode=_inode(output),
            )
            for output in self.files()
        }

    def close_writers(self) -> dict[str, OutputProgress]:
        """Write trailers (JSON's closing bracket), sync and close every file."""
        for output in self.files():
            _guarded(output.writer.finish)
        offsets = self.sync(durable=True)
        for output in self.files():
            if output.final_path is not None:
                output.writer.sink.stream.close()
        return offsets

    def move_into_place(self) -> None:
        for output in self.files():
            if output.final_path is not None:
                publish(output.final_path)

    def finish(self) -> None:
        """Close every file and move it into place."""
        self.close_writers()
        self.move_into_place()

    def abandon(self) -> None:
        """Close files after a failure; partial files stay for inspection."""
        for output in self.files():
            if output.final_path is not None:
                try:
                    output.writer.sink.stream.close()
                except OSError:
                    pass


def output_paths(
    config: JobConfig, output_format: str
) -> dict[Status | None, Path | None]:
    """Final paths: the main output under None, then one per split status."""
    paths: dict[Status | None, Path | None] = {
        None: None if config.output == "-" else Path(config.output).absolute()
    }
    if config.split_dir:
        directory = Path(config.split_dir).absolute()
        for status in Status:
            paths[status] = directory / f"{status.value}{_EXTENSIONS[output_format]}"
    return paths


def partial_path(path: Path) -> Path:
    return path.with_name(path.name + PARTIAL_SUFFIX)


def publish(path: Path) -> None:
    """Rename a finished partial file to its final name (idempotent)."""
    partial = partial_path(path)
    if partial.exists():
        try:
            faults.reach("rename")
            os.replace(partial, path)
            _sync_directory(path.parent)
        except OSError as error:
            raise OutputError(
                f"{partial}: cannot be renamed to {path.name} ({error.strerror})"
            ) from error


def _sync_directory(directory: Path) -> None:
    """Make a rename durable: it lives in the directory (fsync(2))."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _inode(output: OutputFile) -> int:
    if output.final_path is None:
        return 0
    return os.fstat(output.writer.sink.stream.fileno()).st_ino


def _refuse_existing(path: Path | None, force: bool) -> None:
    if path is not None and path.exists() and not force:
        raise UsageError(f"{path} already exists; add --force to overwrite it")


def _open_stream(path: Path | None, done: OutputProgress | None) -> BinaryIO:
    if path is None:
        return sys.stdout.buffer
    partial = partial_path(path)
    try:
        if done is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            return open(partial, "wb")
        return _reopen(partial, done)
    except OSError as error:
        raise OutputError(f"{partial}: cannot be opened ({error.strerror})") from error


def _reopen(partial: Path, done: OutputProgress) -> BinaryIO:
    """Open a partial output to continue it, cut back to its committed size."""
    try:
        stream: BinaryIO = open(partial, "r+b")  # noqa: SIM115
    except FileNotFoundError:
        raise CheckpointError(
            f"{partial} is gone; the job cannot resume (start over with "
            "validate --restart)"
        ) from None
    facts = os.fstat(stream.fileno())
    if facts.st_ino != done.inode or facts.st_size < done.offset:
        stream.close()
        raise CheckpointError(
            f"{partial} is not the file this job was writing (it was replaced "
            "or cut short); start over with validate --restart"
        )
    faults.reach("truncate")
    stream.truncate(done.offset)
    stream.seek(done.offset)
    return stream


def _guarded(action: Callable[..., object], *args: object) -> None:
    try:
        action(*args)
    except BrokenPipeError:
        raise
    except OSError as error:
        raise OutputError(
            f"writing the output failed: {error.strerror or error}"
        ) from error
