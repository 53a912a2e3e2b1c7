"""Rows that finished but wait behind a slower row, kept on disk.

Output keeps input order, so one slow row (a greylisted recipient retried
for minutes) holds back every row after it. Instead of piling those up in
memory, finished batches behind the slow one are moved into a SQLite table:
the job state's when there is one (so they also survive a crash: a resumed
job takes their verdicts instead of asking the network again), else a
temporary file. They are read back, in order, when their turn to be
written comes.

Rows are stored as JSON, never pickled.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from emailclean.io.readers import Record
from emailclean.models import Flag, Reason, SmtpReply, Status, Verdict

_SCHEMA = "CREATE TABLE IF NOT EXISTS waiting (seq INTEGER PRIMARY KEY, rows TEXT)"


class SpillStore:
    """Finished batches parked on disk, by their place in the output order."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self._db.execute(_SCHEMA)
        self.batches = 0

    def put(self, seq: int, records: list[Record], verdicts: list[Verdict]) -> None:
        rows = [_record_json(r) + [_verdict_json(v)] for r, v in zip(records, verdicts)]
        self._db.execute(
            "INSERT OR REPLACE INTO waiting VALUES (?, ?)", (seq, json.dumps(rows))
        )
        self.batches += 1

    def take(self, seq: int) -> tuple[list[Record], list[Verdict]]:
        row = self._db.execute(
            "SELECT rows FROM waiting WHERE seq = ?", (seq,)
        ).fetchone()
        self._db.execute("DELETE FROM waiting WHERE seq = ?", (seq,))
        records, verdicts = [], []
        for item in json.loads(row[0]):
            records.append(Record(*item[:9]))
            verdicts.append(_verdict_from(item[9]))
        return records, verdicts

    def finished_rows(self) -> dict[int, Verdict]:
        """Verdicts parked by an earlier run of this job, by row number."""
        found: dict[int, Verdict] = {}
        for (text,) in self._db.execute("SELECT rows FROM waiting"):
            for item in json.loads(text):
                found[item[0]] = _verdict_from(item[9])
        return found

    def clear(self) -> None:
        self._db.execute("DELETE FROM waiting")


def _record_json(record: Record) -> list[Any]:
    return [
        record.index,
        record.line,
        record.raw,
        record.cell,
        record.end_offset,
        record.fields,
        record.problem,
        record.blank_seen,
        record.ragged_seen,
    ]


def _verdict_json(verdict: Verdict) -> list[Any]:
    smtp = verdict.smtp
    return [
        verdict.status.value,
        verdict.reason.value,
        verdict.message,
        verdict.normalized,
        sorted(flag.value for flag in verdict.flags),
        verdict.suggestion,
        verdict.mx,
        [smtp.code, smtp.enhanced, smtp.text] if smtp else None,
    ]


def _verdict_from(data: list[Any]) -> Verdict:
    status, reason, message, normalized, flags, suggestion, mx, smtp = data
    return Verdict(
        Status(status),
        Reason(reason),
        message,
        normalized,
        frozenset(Flag(flag) for flag in flags),
        suggestion,
        mx,
        SmtpReply(*smtp) if smtp else None,
    )
