"""Job state on disk: what a resumed job needs to finish byte for byte.

One SQLite file (mode 0600, never pickle) holds

- a header, written once: format version, emailclean's and the lists'
  versions, absolute paths, every option that changes results, and a
  fingerprint of the input (size and SHA-256 of its bytes);
- the progress record, rewritten at each commit: the input offset and row
  number to go on from, each output's committed byte offset, row counters,
  and a SHA-256 over header and progress so a damaged file is refused;
- the --dedupe memory (one row per distinct address, so memory stays flat);
- domain knowledge (DNS answers, catch-all results), so a resumed job does
  not ask again.

Commit order (DESIGN §7): rows written → outputs flushed and fsynced → the
progress record committed in one SQLite transaction with synchronous=FULL.
A crash between commits loses nothing: rows after the last commit are
recomputed, and their dedupe entries roll back with the transaction.
"""

from __future__ import annotations

import fcntl
import glob
import hashlib
import json
import os
import sqlite3
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from emailclean.errors import CheckpointError, OutputError
from emailclean.io import faults
from emailclean.models import DomainOutcome, MailHost, Reason

FORMAT_VERSION = 1
_DRAFT = ".new-"  # CKPT.new-PID: a checkpoint being created
_SQLITE_MAGIC = b"SQLite format 3\x00"
_SCHEMA = """
CREATE TABLE header (id INTEGER PRIMARY KEY CHECK (id = 1), body TEXT NOT NULL);
CREATE TABLE progress (
    id INTEGER PRIMARY KEY CHECK (id = 1), body TEXT NOT NULL, checksum TEXT NOT NULL
);
CREATE TABLE seen (address TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE domains (domain TEXT PRIMARY KEY, outcome TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE catch_all (domain TEXT PRIMARY KEY, value INTEGER) WITHOUT ROWID;
"""


@dataclass
class JobHeader:
    """What a job is: fixed when it starts, checked when it resumes."""

    input_path: str
    input_fingerprint: dict[str, Any]
    output_path: str
    split_dir: str | None
    options: dict[str, Any]
    emailclean_version: str
    lists_version: str
    input_display: str
    spool: bool = False
    format_version: int = FORMAT_VERSION


@dataclass
class OutputProgress:
    offset: int = 0
    rows: int = 0
    inode: int = 0


@dataclass
class Progress:
    """Where a job stands at its last commit."""

    input_offset: int = 0
    next_row: int = 1
    outputs: dict[str, OutputProgress] = field(default_factory=dict)
    counters: dict[str, Any] = field(default_factory=dict)
    complete: bool = False


def fingerprint(path: str) -> dict[str, Any]:
    """Size and SHA-256 of a file's bytes: any edit, append or swap shows."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return {"size": size, "sha256": digest.hexdigest()}


class JobState:
    """An open, locked checkpoint file."""

    def __init__(self, path: Path, db: sqlite3.Connection, lock_fd: int) -> None:
        self.path = path
        self._db = db
        self._lock_fd = lock_fd
        self.header = self._load_header()
        self.progress = self._load_progress()

    @classmethod
    def create(cls, path: Path, header: JobHeader) -> JobState:
        """A new checkpoint. It is written under a draft name and linked into
        place whole, so a crash while creating it never leaves a checkpoint
        that can be neither resumed nor started over without --restart."""
        draft = path.with_name(f"{path.name}{_DRAFT}{os.getpid()}")
        fd = os.open(draft, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        os.close(fd)
        try:
            _write_new(draft, header)
            os.link(draft, path)
        except FileExistsError:
            raise CheckpointError(f"{path} exists already") from None
        finally:
            draft.unlink(missing_ok=True)
        _sync_folder(path.parent)
        db, lock_fd = _connect(path)
        db.execute("BEGIN")
        return cls(path, db, lock_fd)

    @classmethod
    def open(cls, path: Path) -> JobState:
        if not path.exists():
            raise CheckpointError(f"{path}: no such checkpoint")
        db, lock_fd = _connect(path)
        try:
            state = cls(path, db, lock_fd)
        except (sqlite3.DatabaseError, KeyError, TypeError, ValueError) as error:
            _release(db, lock_fd)
            raise CheckpointError(
                f"{path}: the checkpoint is damaged ({error}); start over with "
                "validate --restart"
            ) from error
        except CheckpointError:
            _release(db, lock_fd)
            raise
        db.execute("BEGIN")
        return state

    @property
    def db(self) -> sqlite3.Connection:
        """The connection, for tables that ride along with each commit."""
        return self._db

    # -- dedupe memory and domain knowledge ------------------------------

    def add_seen(self, key: str) -> bool:
        """Remember an address; False when it was seen before."""
        cursor = self._db.execute("INSERT OR IGNORE INTO seen VALUES (?)", (key,))
        return cursor.rowcount == 1

    def save_domains(self, known: Iterable[tuple[str, DomainOutcome]]) -> None:
        self._db.executemany(
            "INSERT OR REPLACE INTO domains VALUES (?, ?)",
            ((domain, _outcome_json(outcome)) for domain, outcome in known),
        )

    def save_catch_all(self, known: Iterable[tuple[str, bool | None]]) -> None:
        self._db.executemany(
            "INSERT OR REPLACE INTO catch_all VALUES (?, ?)",
            (
                (domain, None if value is None else int(value))
                for domain, value in known
            ),
        )

    def domains(self) -> Iterable[tuple[str, DomainOutcome]]:
        for domain, text in self._db.execute("SELECT domain, outcome FROM domains"):
            yield domain, _outcome_from_json(text)

    def catch_all(self) -> Iterable[tuple[str, bool | None]]:
        for domain, value in self._db.execute("SELECT domain, value FROM catch_all"):
            yield domain, None if value is None else bool(value)

    # -- commits ---------------------------------------------------------

    def commit(self, progress: Progress) -> None:
        """Record progress durably; everything it names must be on disk."""
        body = json.dumps(asdict(progress), sort_keys=True)
        header = json.dumps(asdict(self.header))
        try:
            self._db.execute(
                "UPDATE progress SET body = ?, checksum = ? WHERE id = 1",
                (body, _checksum(header, body)),
            )
            faults.reach("commit")
            self._db.execute("COMMIT")
        except (OSError, sqlite3.Error) as error:
            # Disk full or an I/O error; the last commit stays valid.
            reason = error.strerror if isinstance(error, OSError) else error
            raise OutputError(
                f"saving the job state to {self.path} failed: {reason}"
            ) from error
        self._db.execute("BEGIN")
        self.progress = progress

    def close(self) -> None:
        """Drop uncommitted work and release the lock (once: a second close
        must not close a descriptor number reused since)."""
        if self._lock_fd < 0:
            return
        _release(self._db, self._lock_fd)
        self._lock_fd = -1

    def remove(self) -> None:
        self.close()
        for suffix in ("", "-journal"):
            Path(str(self.path) + suffix).unlink(missing_ok=True)
        # Drafts left by runs killed while creating this checkpoint.
        for draft in self.path.parent.glob(glob.escape(self.path.name) + _DRAFT + "*"):
            draft.unlink(missing_ok=True)

    # -- loading ---------------------------------------------------------

    def _load_header(self) -> JobHeader:
        row = self._db.execute("SELECT body FROM header WHERE id = 1").fetchone()
        if row is None:
            raise CheckpointError(
                f"{self.path}: the checkpoint is damaged (no header); start over "
                "with validate --restart"
            )
        data = json.loads(row[0])
        if data.get("format_version") != FORMAT_VERSION:
            raise CheckpointError(
                f"{self.path}: checkpoint format {data.get('format_version')} is "
                f"not the one this emailclean writes ({FORMAT_VERSION}); finish it "
                "with the emailclean that wrote it or start over with validate "
                "--restart"
            )
        return JobHeader(**data)

    def _load_progress(self) -> Progress:
        row = self._db.execute(
            "SELECT body, checksum FROM progress WHERE id = 1"
        ).fetchone()
        header_body = self._db.execute("SELECT body FROM header").fetchone()[0]
        if row is None or _checksum(header_body, row[0]) != row[1]:
            raise CheckpointError(
                f"{self.path}: the checkpoint is damaged (checksum mismatch); "
                "start over with validate --restart"
            )
        data = json.loads(row[0])
        outputs = {k: OutputProgress(**v) for k, v in data.pop("outputs").items()}
        return Progress(outputs=outputs, **data)


def _write_new(path: Path, header: JobHeader) -> None:
    """Schema, header and an empty progress record, durably, in one file."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA synchronous = FULL")
        db.execute("PRAGMA journal_mode = DELETE")
        db.executescript(_SCHEMA)
        header_body = json.dumps(asdict(header))
        body = json.dumps(asdict(Progress()), sort_keys=True)
        db.execute("BEGIN")
        db.execute("INSERT INTO header VALUES (1, ?)", (header_body,))
        db.execute(
            "INSERT INTO progress VALUES (1, ?, ?)",
            (body, _checksum(header_body, body)),
        )
        db.execute("COMMIT")
    finally:
        db.close()


def _sync_folder(folder: Path) -> None:
    """Make a new name in `folder` durable (the link of a new checkpoint)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def looks_like_checkpoint(path: Path) -> bool:
    """Whether a file that cannot be opened as job state is still ours (an
    SQLite file with our tables or too damaged to tell, or an empty file),
    so --restart may delete it. Anything else at that path (a CSV, another
    program's database) is someone's file and is left alone."""
    with open(path, "rb") as stream:
        head = stream.read(len(_SQLITE_MAGIC))
    if not head:
        return True
    if head != _SQLITE_MAGIC:
        return False
    try:
        db = sqlite3.connect(path.absolute().as_uri() + "?mode=ro", uri=True)
        try:
            rows = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            return {"header", "progress"} <= {name for (name,) in rows}
        finally:
            db.close()
    except sqlite3.DatabaseError:
        return True  # an SQLite file too damaged to show its tables


def refuse_if_busy(path: Path) -> None:
    """Refuse when a running emailclean process holds the checkpoint."""
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise _busy(path) from None
    finally:
        os.close(fd)


def _busy(path: Path) -> CheckpointError:
    return CheckpointError(f"{path}: another emailclean process is working on this job")


def _connect(path: Path) -> tuple[sqlite3.Connection, int]:
    lock_fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(lock_fd)
        raise _busy(path) from None
    try:
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("PRAGMA synchronous = FULL")
        db.execute("PRAGMA journal_mode = DELETE")
        db.execute("PRAGMA quick_check").fetchone()
    except sqlite3.DatabaseError as error:
        os.close(lock_fd)
        raise CheckpointError(
            f"{path}: not a readable checkpoint ({error}); start over with "
            "validate --restart"
        ) from error
    return db, lock_fd


def _release(db: sqlite3.Connection, lock_fd: int) -> None:
    try:
        if db.in_transaction:
            db.execute("ROLLBACK")
        db.close()
    finally:
        os.close(lock_fd)


def _checksum(header: str, progress: str) -> str:
    return hashlib.sha256((header + "\n" + progress).encode()).hexdigest()


def _outcome_json(outcome: DomainOutcome) -> str:
    return json.dumps(
        {
            "reason": outcome.reason.value if outcome.reason else None,
            "message": outcome.message,
            "hosts": [
                [h.name, h.preference, list(h.addresses)] for h in outcome.mail_hosts
            ],
        }
    )


def _outcome_from_json(text: str) -> DomainOutcome:
    data = json.loads(text)
    return DomainOutcome(
        reason=Reason(data["reason"]) if data["reason"] else None,
        message=data["message"],
        mail_hosts=tuple(MailHost(n, p, tuple(a)) for n, p, a in data["hosts"]),
    )
