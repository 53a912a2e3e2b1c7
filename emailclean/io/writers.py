"""Writers for CSV, JSONL, JSON (a streamed array) and TXT output.

CSV keeps every input column byte for byte: a row is written as the raw
record text the reader kept, then the verdict columns (DESIGN §3). Short
rows are padded with empty cells so the verdict columns line up. With
`--excel-safe` the input cells are rewritten instead, each cell that starts
with a formula character getting a leading apostrophe.

Writers collect text and hand it to a `Sink` once per batch; the sink counts
the bytes written, which the job state records as the committed offset.
"""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from typing import BinaryIO, Protocol

from emailclean.checks.syntax import extract_address
from emailclean.io import faults
from emailclean.io.readers import InputFormat, Record
from emailclean.models import FLAG_ORDER, Flag, Verdict

VERDICT_COLUMNS = (
    "status",
    "reason",
    "normalized",
    "suggestion",
    "flags",
    "mx",
    "smtp_code",
    "smtp_reply",
)
FORMATS = ("csv", "jsonl", "json", "txt")
_FORMULA_STARTS = frozenset("=+-@\t\r")


class Sink:
    """A binary stream that counts what was written to it."""

    def __init__(self, stream: BinaryIO, offset: int = 0) -> None:
        self.stream = stream
        self.offset = offset

    def write(self, text: str) -> None:
        data = text.encode("utf-8", "surrogateescape")
        faults.reach("write")
        self.stream.write(data)
        self.offset += len(data)

    def flush(self, durable: bool = False) -> None:
        self.stream.flush()
        if durable:
            faults.reach("fsync")
            os.fsync(self.stream.fileno())


class Writer(Protocol):
    sink: Sink
    rows_written: int

    def write_rows(self, rows: list[tuple[Record, Verdict]]) -> None: ...

    def finish(self) -> None: ...


def make_writer(
    output_format: str,
    sink: Sink,
    input_format: InputFormat,
    *,
    excel_safe: bool = False,
    rows_written: int = 0,
) -> Writer:
    """A writer of the given format; `rows_written` > 0 continues a file."""
    if output_format == "csv":
        return CsvWriter(sink, input_format, excel_safe, rows_written)
    if output_format == "jsonl":
        return JsonLinesWriter(sink, input_format, rows_written)
    if output_format == "json":
        return JsonArrayWriter(sink, input_format, rows_written)
    return TxtWriter(sink, rows_written)


def defuse(cell: str) -> str:
    """A cell a spreadsheet will show as text, never run as a formula."""
    return "'" + cell if cell and cell[0] in _FORMULA_STARTS else cell


@lru_cache(maxsize=256)
def flag_text(flags: frozenset[Flag]) -> str:
    """Flags as the CSV cell shows them: `;`-joined, in a fixed order."""
    return ";".join(flag.value for flag in FLAG_ORDER if flag in flags)


class CsvWriter:
    def __init__(
        self, sink: Sink, fmt: InputFormat, excel_safe: bool, rows_written: int
    ) -> None:
        self.sink = sink
        self.rows_written = rows_written
        self._fmt = fmt
        self._excel_safe = excel_safe
        self._delimiter = fmt.delimiter if fmt.kind == "csv" else ","
        self._newline = fmt.newline
        self._header_due = sink.offset == 0
        self._needs_quotes = re.compile(f'[{re.escape(self._delimiter)}"\r\n]|^\\s')

    def write_rows(self, rows: list[tuple[Record, Verdict]]) -> None:
        parts = [self._header()] if self._header_due else []
        self._header_due = False
        for record, verdict in rows:
            parts.append(self._row(record, verdict))
        self.sink.write("".join(parts))
        self.rows_written += len(rows)

    def finish(self) -> None:
        if self._header_due:
            self.sink.write(self._header())
            self._header_due = False

    def _header(self) -> str:
        taken = set(self._fmt.header or ())
        names = [
            f"emailclean_{name}" if name in taken else name for name in VERDICT_COLUMNS
        ]
        if self._fmt.kind == "txt":
            return self._join(["email", *names]) + self._newline
        if self._fmt.header is None:
            return ""
        head = self._input_cells(self._fmt.header, self._fmt.header_raw or "")
        return head + self._delimiter + self._join(names) + self._newline

    def _row(self, record: Record, verdict: Verdict) -> str:
        tail = self._tail(verdict)
        if record.fields is None:
            cell = defuse(record.cell) if self._excel_safe else record.cell
            return self._join([cell]) + self._delimiter + tail + self._newline
        head = self._input_cells(record.fields, record.raw)
        return head + self._delimiter + tail + self._newline

    def _input_cells(self, fields: list[str], raw: str) -> str:
        width = self._fmt.width or len(fields)
        if self._excel_safe:
            cells = [defuse(cell) for cell in fields]
            return self._join(cells + [""] * (width - len(cells)))
        return raw + self._delimiter * max(0, width - len(fields))

    def _tail(self, verdict: Verdict) -> str:
        """The verdict columns; the hot path, so empty cells cost nothing."""
        d, cell, smtp = self._delimiter, self._cell, verdict.smtp
        return (
            f"{verdict.status.value}{d}{verdict.reason.value}{d}"
            f"{cell(verdict.normalized)}{d}{cell(verdict.suggestion)}{d}"
            f"{flag_text(verdict.flags)}{d}{cell(verdict.mx)}{d}"
            f"{smtp.code if smtp else ''}{d}{cell(smtp.text) if smtp else ''}"
        )

    def _cell(self, value: str | None) -> str:
        """One cell emailclean writes itself: defused and quoted as needed."""
        if not value:
            return ""
        if value[0] in _FORMULA_STARTS:
            value = "'" + value
        if self._needs_quotes.search(value):
            return '"' + value.replace('"', '""') + '"'
        return value

    def _join(self, cells: list[str]) -> str:
        return self._delimiter.join(self._quote(cell) for cell in cells)

    def _quote(self, cell: str) -> str:
        if cell and self._needs_quotes.search(cell):
            return '"' + cell.replace('"', '""') + '"'
        return cell


def record_object(
    record: Record, verdict: Verdict, fmt: InputFormat
) -> dict[str, object]:
    """The JSON form of one row (DESIGN §3)."""
    smtp = verdict.smtp
    obj: dict[str, object] = {
        "row": record.index,
        "email": _json_text(record.cell),
        "normalized": verdict.normalized,
        "status": verdict.status.value,
        "reason": verdict.reason.value,
        "message": verdict.message,
        "flags": {flag.value: flag in verdict.flags for flag in FLAG_ORDER},
        "suggestion": verdict.suggestion,
        "mx": verdict.mx,
        "smtp": (
            {"code": smtp.code, "enhanced": smtp.enhanced, "text": smtp.text}
            if smtp
            else None
        ),
    }
    if record.fields is not None:
        obj["fields"] = _fields_object(record.fields, fmt.header)
    return obj


def _fields_object(fields: list[str], header: list[str] | None) -> dict[str, str]:
    names = header or [str(position) for position in range(1, len(fields) + 1)]
    result: dict[str, str] = {}
    for position, value in enumerate(fields):
        name = names[position] if position < len(names) else str(position + 1)
        while name in result:
            name += "_"
        result[name] = _json_text(value)
    return result


def _json_text(text: str) -> str:
    # Undecodable bytes were kept as surrogates; JSON readers want real text.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return text


class JsonLinesWriter:
    def __init__(self, sink: Sink, fmt: InputFormat, rows_written: int) -> None:
        self.sink = sink
        self.rows_written = rows_written
        self._fmt = fmt

    def write_rows(self, rows: list[tuple[Record, Verdict]]) -> None:
        lines = [
            json.dumps(record_object(record, verdict, self._fmt), ensure_ascii=False)
            for record, verdict in rows
        ]
        if lines:
            self.sink.write("\n".join(lines) + "\n")
        self.rows_written += len(rows)

    def finish(self) -> None:
        return None


class JsonArrayWriter:
    """A JSON array written one element at a time, so memory stays flat."""

    def __init__(self, sink: Sink, fmt: InputFormat, rows_written: int) -> None:
        self.sink = sink
        self.rows_written = rows_written
        self._fmt = fmt
        self._opened = sink.offset > 0

    def write_rows(self, rows: list[tuple[Record, Verdict]]) -> None:
        if not rows:
            return
        parts = [] if self._opened else ["["]
        self._opened = True
        for record, verdict in rows:
            separator = ",\n" if self.rows_written else "\n"
            element = json.dumps(
                record_object(record, verdict, self._fmt), ensure_ascii=False
            )
            parts.append(separator + element)
            self.rows_written += 1
        self.sink.write("".join(parts))

    def finish(self) -> None:
        self.sink.write("\n]\n" if self._opened else "[]\n")


class TxtWriter:
    def __init__(self, sink: Sink, rows_written: int) -> None:
        self.sink = sink
        self.rows_written = rows_written

    def write_rows(self, rows: list[tuple[Record, Verdict]]) -> None:
        text = "".join(_one_line(extract_address(record.cell)) for record, _ in rows)
        self.sink.write(text)
        self.rows_written += len(rows)

    def finish(self) -> None:
        return None


def _one_line(address: str) -> str:
    return address.replace("\r", " ").replace("\n", " ") + "\n"
