"""Streaming readers for TXT and CSV lists, plain or gzip, file or stdin.

The input is read as bytes in chunks and split into lines ourselves, so that

- each record knows the byte offset where it ends (the job state seeks there
  on resume) and the physical line where it starts (for messages);
- each line is decoded on its own: undecodable bytes spoil one row, which
  is reported as `invalid/unreadable`, never the whole job;
- every input column can be written back byte for byte: a record keeps its
  raw text (lines and their original endings), decoded with
  `surrogateescape` so even broken bytes round-trip.

Lines end at LF (CRLF is LF with a CR before it); a file with CR but no LF
in its first chunk is split at CR. Memory is bounded by one chunk plus one
record, whatever the size of the input.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import os
import re
import stat
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, cast

from emailclean.errors import InputError, UsageError

CHUNK_SIZE = 1 << 20
BATCH_SIZE = 512
SNIFF_SIZE = 64 * 1024
SNIFF_ROWS = 50
# One record may be this large before the file is judged unreadable.
MAX_RECORD_BYTES = 64 << 20
DELIMITERS = ",;\t|"

csv.field_size_limit(MAX_RECORD_BYTES)

_EMAIL_HEADER = re.compile(r"^(e?-?_?mail|e-?mail_?address|courriel|correo)$")
_LOOKS_LIKE_ADDRESS = re.compile(r"[^@\s]@[^@\s]+\.[^@\s]")


@dataclass(slots=True)
class Record:
    """One data row of the input."""

    index: int
    line: int
    raw: str
    cell: str
    end_offset: int
    fields: list[str] | None = None
    problem: str | None = None
    # Blank lines and ragged rows the reader had met when it read this
    # record: the job state carries them across a resume.
    blank_seen: int = 0
    ragged_seen: int = 0


@dataclass(slots=True)
class InputFormat:
    """What sniffing decided about the input."""

    kind: str  # "csv" or "txt"
    delimiter: str = ","
    header: list[str] | None = None
    header_raw: str | None = None
    column: int = 0
    newline: str = "\n"
    line_separator: bytes = b"\n"
    # Columns in a row: the header's, else the widest sampled row's.
    width: int | None = None


@dataclass
class _LineState:
    offset: int = 0
    line: int = 0
    blank: int = 0
    consumed: list[str] = field(default_factory=list)
    undecodable: bool = False

    def take_problem(self, text: str) -> str | None:
        """What makes the record just read unreadable, if anything."""
        if self.undecodable:
            self.undecodable = False
            return "the row has bytes that are not valid in the input encoding"
        if "\x00" in text:
            return "the row contains NUL bytes"
        return None

    # Set when the input ran out while the CSV parser still wanted more: it
    # stops at the end of a row by itself, so only an open quote gets here.
    exhausted: bool = False


def open_input(path: str) -> BinaryIO:
    """Open a path (or "-" for stdin) as a binary stream, un-gzipping .gz."""
    if path == "-":
        return _maybe_gunzip(sys.stdin.buffer, path)
    target = Path(path)
    if target.is_dir():
        raise InputError(path, "is a directory, not a list file")
    try:
        stream: BinaryIO = open(target, "rb")  # noqa: SIM115
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except OSError as error:
        raise InputError(path, f"cannot be opened ({error.strerror})") from error
    return _maybe_gunzip(stream, path)


def _maybe_gunzip(stream: BinaryIO, path: str) -> BinaryIO:
    head = stream.peek(2)[:2] if hasattr(stream, "peek") else b""
    if head == b"\x1f\x8b" or path.endswith(".gz"):
        if path == "-":
            return cast(BinaryIO, gzip.GzipFile(fileobj=stream, mode="rb"))
        return cast(BinaryIO, _FileGzip(stream))
    return stream


class _FileGzip(gzip.GzipFile):
    """A GzipFile that also closes the file it reads (GzipFile leaves it open)."""

    def __init__(self, source: BinaryIO) -> None:
        super().__init__(fileobj=source, mode="rb")
        self._source = source

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._source.close()


class ListReader:
    """Reads records from one input, in batches, in constant memory."""

    def __init__(
        self,
        stream: BinaryIO,
        display_name: str,
        *,
        encoding: str = "utf-8",
        column: str | None = None,
        kind_hint: str | None = None,
    ) -> None:
        self.name = display_name
        self.bytes_read = 0
        self.blank_lines = 0
        self.ragged_rows = 0
        self._stream = stream
        self.seekable = _is_regular_file(stream)
        self._encoding = _check_encoding(encoding)
        self._buffer = self._read_head()
        self.format = self._sniff(kind_hint, column)

    # -- reading ---------------------------------------------------------

    def batches(self, skip_to: int = 0, first_index: int = 1) -> Iterator[list[Record]]:
        """Yield lists of records; `skip_to` resumes after a byte offset."""
        state = _LineState()
        lines = self._lines(state)
        if self.format.header is not None:
            self._consume_header(lines, state)
        if skip_to:
            self._skip(lines, state, skip_to)
        index = first_index
        batch: list[Record] = []
        for record in self._records(lines, state, index):
            batch.append(record)
            if len(batch) >= BATCH_SIZE:
                yield batch
                batch = []
        if batch:
            yield batch
        self.blank_lines = state.blank

    def _records(
        self, lines: Iterator[str], state: _LineState, index: int
    ) -> Iterator[Record]:
        if self.format.kind == "txt":
            yield from self._txt_records(lines, state, index)
        else:
            yield from self._csv_records(lines, state, index)

    def _txt_records(
        self, lines: Iterator[str], state: _LineState, index: int
    ) -> Iterator[Record]:
        for text in lines:
            raw = "".join(state.consumed)
            state.consumed.clear()
            if not text.strip():
                state.blank += 1
                self.blank_lines = state.blank
                continue
            yield Record(
                index=index,
                line=state.line,
                raw=_strip_newline(raw),
                cell=text.rstrip("\n"),
                end_offset=state.offset,
                problem=state.take_problem(text),
                blank_seen=state.blank,
            )
            index += 1

    def _csv_records(
        self, lines: Iterator[str], state: _LineState, index: int
    ) -> Iterator[Record]:
        reader = csv.reader(lines, delimiter=self.format.delimiter)
        width = len(self.format.header) if self.format.header else None
        while True:
            start_line = state.line + 1
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                raise InputError(
                    self.name, f"cannot be parsed as CSV ({error})", start_line
                ) from error
            self._check_unclosed(state, start_line)
            consumed = state.consumed
            raw = _strip_newline(
                consumed[0] if len(consumed) == 1 else "".join(consumed)
            )
            consumed.clear()
            if not fields:
                state.blank += 1
                self.blank_lines = state.blank
                continue
            yield self._csv_record(fields, raw, index, start_line, state, width)
            index += 1

    def _csv_record(
        self,
        fields: list[str],
        raw: str,
        index: int,
        line: int,
        state: _LineState,
        width: int | None,
    ) -> Record:
        column = self.format.column
        problem = state.take_problem(raw)
        if width is not None and len(fields) != width:
            self.ragged_rows += 1
        if column >= len(fields):
            cell = ""
            problem = problem or (
                f"the row has {len(fields)} column(s); the address column is "
                f"number {column + 1}"
            )
        else:
            cell = fields[column]
        return Record(
            index,
            line,
            raw,
            cell,
            state.offset,
            fields,
            problem,
            state.blank,
            self.ragged_rows,
        )

    def _check_unclosed(self, state: _LineState, start_line: int) -> None:
        # Python's csv module (non-strict) ends an open quoted field at the
        # end of input without complaint, which would fold every later line
        # into one cell and lose those rows silently.
        if state.exhausted:
            raise InputError(
                self.name,
                "a quoted field opened on this line never closes (unclosed quote)",
                start_line,
            )

    def _consume_header(self, lines: Iterator[str], state: _LineState) -> None:
        reader = csv.reader(lines, delimiter=self.format.delimiter)
        for fields in reader:
            self._check_unclosed(state, state.line - len(state.consumed) + 1)
            raw = _strip_newline("".join(state.consumed))
            state.consumed.clear()
            if fields:
                self.format.header_raw = raw
                return

    def _skip(self, lines: Iterator[str], state: _LineState, offset: int) -> None:
        while state.offset < offset:
            if next(lines, None) is None:
                raise InputError(
                    self.name, "is shorter than when the job started", state.line
                )
            state.consumed.clear()

    def _lines(self, state: _LineState) -> Iterator[str]:
        """Decoded lines with a trailing LF; raw text goes to state.consumed."""
        separator = self.format.line_separator
        for raw_line in self._raw_lines(separator):
            state.offset += len(raw_line)
            state.line += 1
            try:
                text = raw_line.decode(self._encoding)
            except UnicodeDecodeError:
                text = raw_line.decode(self._encoding, "surrogateescape")
                state.undecodable = True
            state.consumed.append(text)
            body = text.rstrip("\r\n") if separator == b"\n" else text.rstrip("\r")
            yield body + "\n"
        state.exhausted = True

    def _raw_lines(self, separator: bytes) -> Iterator[bytes]:
        pending = self._buffer
        self._buffer = b""
        line_number = 0
        while True:
            *complete, pending = pending.split(separator)
            line_number += len(complete)
            for line in complete:
                yield line + separator
            if len(pending) > MAX_RECORD_BYTES:
                raise InputError(
                    self.name, "has a line longer than 64 MiB", line_number + 1
                )
            chunk = self._read(CHUNK_SIZE)
            if not chunk:
                break
            pending += chunk
        if pending:
            yield pending

    def _read(self, size: int) -> bytes:
        try:
            chunk = self._stream.read(size)
        except (EOFError, zlib.error, gzip.BadGzipFile) as error:
            raise InputError(
                self.name, f"the gzip data is truncated or corrupt ({error})"
            ) from error
        except OSError as error:
            raise InputError(self.name, f"read failed ({error})") from error
        self.bytes_read += len(chunk)
        return chunk

    # -- sniffing --------------------------------------------------------

    def _read_head(self) -> bytes:
        head = self._read(SNIFF_SIZE)
        if head.startswith(codecs.BOM_UTF8):
            head = head[len(codecs.BOM_UTF8) :]
        elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            raise InputError(
                self.name,
                "is UTF-16 encoded; convert it first, e.g. "
                "iconv -f UTF-16 -t UTF-8 FILE > FILE.utf8",
            )
        _refuse_binary(head, self.name)
        return head

    def _sniff(self, kind_hint: str | None, column: str | None) -> InputFormat:
        separator = (
            b"\r" if b"\r" in self._buffer and b"\n" not in self._buffer else b"\n"
        )
        newline = "\r\n" if b"\r\n" in self._buffer[:4096] else separator.decode()
        sample = self._buffer.decode(self._encoding, "replace")
        sample_lines = re.split(r"\r\n|\r|\n", sample)
        if len(self._buffer) >= SNIFF_SIZE:
            sample_lines.pop()  # the last line may be cut short
        sample_lines = sample_lines[: SNIFF_ROWS * 4]
        kind = kind_hint or _guess_kind(sample_lines)
        fmt = InputFormat(kind=kind, newline=newline, line_separator=separator)
        if kind == "txt":
            if column is not None:
                raise UsageError(
                    "--column applies to CSV input; this input is one address a line"
                )
            return fmt
        if kind_hint == "tsv":
            fmt.kind, fmt.delimiter = "csv", "\t"
        else:
            fmt.delimiter = _guess_delimiter(sample_lines)
        rows = _sample_rows(sample_lines, fmt.delimiter)
        _detect_header_and_column(fmt, rows, column, self.name)
        return fmt


def _is_regular_file(stream: BinaryIO) -> bool:
    raw = getattr(stream, "fileobj", stream)  # a GzipFile reads another stream
    try:
        return stat.S_ISREG(os.fstat(raw.fileno()).st_mode)
    except (AttributeError, OSError, ValueError):
        return False


def _check_encoding(encoding: str) -> str:
    try:
        info = codecs.lookup(encoding)
    except LookupError:
        raise UsageError(f"unknown encoding {encoding!r}") from None
    if info.name.startswith(("utf-16", "utf-32")):
        raise UsageError(
            f"{encoding} input is not supported; convert it to UTF-8 first "
            "(iconv -f UTF-16 -t UTF-8)"
        )
    return "utf-8" if info.name == "utf-8-sig" else info.name


def _refuse_binary(head: bytes, name: str) -> None:
    sample = head[:8192]
    if not sample:
        return
    controls = sum(1 for b in sample if b < 9 or 13 < b < 32)
    if sample.count(0) > 8 or controls > len(sample) // 10:
        position = next(i for i, b in enumerate(sample) if b < 9 or 13 < b < 32)
        raise InputError(
            name, f"does not look like a text list (binary data at byte {position})"
        )


def _guess_kind(lines: list[str]) -> str:
    if not any(line.strip() for line in lines):
        return "txt"
    for delimiter in DELIMITERS:
        if _row_width(_sample_rows(lines, delimiter))[0] > 1:
            return "csv"
    return "txt"


def _guess_delimiter(lines: list[str]) -> str:
    # Each delimiter parses the sample into its own number of rows (quoted
    # newlines), so consistency is judged as a share of those rows; then
    # the wider reading wins.
    best, best_score = ",", (0.0, 0)
    for delimiter in DELIMITERS:
        rows = _sample_rows(lines, delimiter)
        width, share = _row_width(rows)
        if width < 2:
            continue
        score = (share / len(rows), width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _row_width(rows: list[list[str]]) -> tuple[int, int]:
    """The usual number of fields, and how many rows have it (0, 0 if unclear).

    Rows are parsed records, not lines, so a quoted field holding a newline
    counts once; a few ragged rows (one in five) are tolerated.
    """
    counts = [len(row) for row in rows]
    if not counts:
        return 0, 0
    width = max(set(counts), key=counts.count)
    share = counts.count(width)
    return (width, share) if share >= len(counts) * 0.8 else (0, 0)


def _sample_rows(lines: list[str], delimiter: str) -> list[list[str]]:
    text = "\n".join(lines) + "\n"
    rows: list[list[str]] = []
    try:
        for row in csv.reader(text.splitlines(keepends=True), delimiter=delimiter):
            if row:
                rows.append(row)
            if len(rows) > SNIFF_ROWS:
                break
    except csv.Error:
        pass
    return rows


def _detect_header_and_column(
    fmt: InputFormat, rows: list[list[str]], column: str | None, name: str
) -> None:
    if not rows:
        return
    first = rows[0]
    first_has_address = any(_LOOKS_LIKE_ADDRESS.search(cell) for cell in first)
    named = column is not None and not column.isdigit()
    if named or not first_has_address:
        fmt.header = first
        body = rows[1:]
    else:
        body = rows
    fmt.width = len(fmt.header) if fmt.header else max(map(len, body), default=0)
    fmt.column = _choose_column(fmt.header, body, column, name)
    if column is not None and fmt.width and fmt.column >= fmt.width:
        names = f" ({', '.join(fmt.header)})" if fmt.header else ""
        raise UsageError(
            f"--column {column}: there is no such column; the input has "
            f"{fmt.width} column(s){names}"
        )


def _choose_column(
    header: list[str] | None, body: list[list[str]], column: str | None, name: str
) -> int:
    if column is not None:
        return _named_column(header, column)
    if header is not None:
        for position, title in enumerate(header):
            if _EMAIL_HEADER.match(re.sub(r"[\s.]", "", title.lower())):
                return position
    width = max((len(row) for row in body), default=0)
    for position in range(width):
        cells = [row[position] for row in body if position < len(row)]
        if any(_LOOKS_LIKE_ADDRESS.search(cell) for cell in cells):
            return position
    if not body:
        return 0
    raise InputError(
        name,
        "no column holds email addresses; name one with --column NAME or "
        "--column NUMBER",
        1,
    )


def _named_column(header: list[str] | None, column: str) -> int:
    if header is not None and column in header:
        return header.index(column)
    if column.isdigit() and int(column) >= 1:
        return int(column) - 1
    choices = ", ".join(header or [])
    raise UsageError(f"--column {column}: no such column (the header has: {choices})")


def _strip_newline(text: str) -> str:
    if text.endswith("\r\n"):
        return text[:-2]
    if text.endswith(("\n", "\r")):
        return text[:-1]
    return text
