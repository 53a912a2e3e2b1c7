"""Job state on disk (emailclean/io/checkpoint.py): what is committed stays,
what is not rolls back, and a damaged or busy file is refused."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from emailclean.errors import CheckpointError, OutputError
from emailclean.io import faults
from emailclean.io.checkpoint import (
    JobHeader,
    JobState,
    OutputProgress,
    Progress,
    fingerprint,
)
from emailclean.models import DomainOutcome, MailHost, Reason
from tests.resume_helpers import child_env


def make_header(tmp_path: Path) -> JobHeader:
    source = tmp_path / "in.txt"
    source.write_text("ann@acme-corp.io\n")
    return JobHeader(
        input_path=str(source),
        input_fingerprint=fingerprint(str(source)),
        output_path=str(tmp_path / "out.csv"),
        split_dir=None,
        options={"dedupe": True},
        emailclean_version="0.1.0",
        lists_version="lists 1",
        input_display="in.txt",
    )


@pytest.fixture
def state(tmp_path: Path) -> Iterator[JobState]:
    created = JobState.create(tmp_path / "job.ckpt", make_header(tmp_path))
    yield created
    created.close()


def a_progress(row: int) -> Progress:
    return Progress(
        input_offset=row * 10,
        next_row=row,
        outputs={"/out.csv": OutputProgress(offset=row * 7, rows=row, inode=42)},
        counters={"rows_in": row - 1},
    )


def test_create_new_file_mode_0600_with_header(tmp_path: Path) -> None:
    created = JobState.create(tmp_path / "job.ckpt", make_header(tmp_path))
    created.close()

    reopened = JobState.open(tmp_path / "job.ckpt")
    reopened.close()

    assert stat.S_IMODE((tmp_path / "job.ckpt").stat().st_mode) == 0o600
    assert reopened.header == make_header(tmp_path)
    assert reopened.progress == Progress()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt", "job.ckpt"]


def test_create_existing_checkpoint_refused(tmp_path: Path, state: JobState) -> None:
    with pytest.raises(CheckpointError, match="job.ckpt exists already"):
        JobState.create(tmp_path / "job.ckpt", make_header(tmp_path))


def test_create_killed_midway_leaves_no_checkpoint(tmp_path: Path) -> None:
    """kill -9 while the checkpoint is being written: no half-made file
    under the real name (it would block both validate and resume)."""
    script = f"""
import os
from pathlib import Path
from emailclean.io import checkpoint
from emailclean.io.checkpoint import JobHeader, JobState

def die_after_schema(path, header):
    import sqlite3
    db = sqlite3.connect(path)
    db.executescript(checkpoint._SCHEMA)
    os._exit(99)

checkpoint._write_new = die_after_schema
JobState.create(Path({str(tmp_path / "job.ckpt")!r}), JobHeader(**{{
    "input_path": "x", "input_fingerprint": {{}}, "output_path": "y",
    "split_dir": None, "options": {{}}, "emailclean_version": "0",
    "lists_version": "0", "input_display": "x"}}))
"""
    died = subprocess.run(
        [sys.executable, "-c", script],
        env=child_env(),
        capture_output=True,
        check=False,
    )

    assert died.returncode == 99, died.stderr
    assert not (tmp_path / "job.ckpt").exists()


def test_remove_deletes_drafts_of_killed_runs(tmp_path: Path, state: JobState) -> None:
    (tmp_path / "job.ckpt.new-12345").write_bytes(b"half")

    state.remove()

    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt"]


def test_commit_reopen_progress_round_trips(tmp_path: Path, state: JobState) -> None:
    state.commit(a_progress(513))
    state.close()

    reopened = JobState.open(tmp_path / "job.ckpt")
    reopened.close()

    assert reopened.progress == a_progress(513)


def test_seen_uncommitted_entries_roll_back(tmp_path: Path, state: JobState) -> None:
    assert state.add_seen("ann@acme-corp.io")
    assert not state.add_seen("ann@acme-corp.io")
    state.commit(a_progress(2))
    assert state.add_seen("bob@acme-corp.io")
    state.close()  # as a crash would: the second address was never committed

    reopened = JobState.open(tmp_path / "job.ckpt")
    try:
        assert not reopened.add_seen("ann@acme-corp.io")
        assert reopened.add_seen("bob@acme-corp.io")
    finally:
        reopened.close()


def test_domain_knowledge_round_trips(tmp_path: Path, state: JobState) -> None:
    host = MailHost("mx1.acme-corp.io", 10, ("127.0.0.2", "::1"))
    known = [
        ("acme-corp.io", DomainOutcome(None, "mail hosts found", (host,))),
        ("nowhere.io", DomainOutcome(Reason.NO_DOMAIN, "no such domain")),
    ]
    state.save_domains(known)
    state.save_catch_all([("acme-corp.io", False), ("odd.io", None), ("ca.io", True)])
    state.commit(a_progress(2))
    state.close()

    reopened = JobState.open(tmp_path / "job.ckpt")
    try:
        assert sorted(reopened.domains()) == sorted(known)
        assert dict(reopened.catch_all()) == {
            "acme-corp.io": False,
            "odd.io": None,
            "ca.io": True,
        }
    finally:
        reopened.close()


def test_open_locked_refused(tmp_path: Path, state: JobState) -> None:
    with pytest.raises(CheckpointError) as raised:
        JobState.open(tmp_path / "job.ckpt")

    assert str(raised.value) == (
        f"{tmp_path / 'job.ckpt'}: another emailclean process is working on this job"
    )
    assert raised.value.exit_code == 4


def test_commit_disk_full_keeps_last_commit(
    tmp_path: Path, state: JobState, monkeypatch: pytest.MonkeyPatch
) -> None:
    state.commit(a_progress(513))

    def disk_full(point: str) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(faults, "reach", disk_full)
    with pytest.raises(OutputError) as raised:
        state.commit(a_progress(1025))
    state.close()
    reopened = JobState.open(tmp_path / "job.ckpt")
    reopened.close()

    assert str(raised.value) == (
        f"saving the job state to {tmp_path / 'job.ckpt'} failed: No space left "
        "on device"
    )
    assert reopened.progress == a_progress(513)


def test_fingerprint_any_change_shows(tmp_path: Path) -> None:
    path = tmp_path / "in.txt"
    path.write_bytes(b"ann@acme-corp.io\n")
    before = fingerprint(str(path))
    path.write_bytes(b"ann@acme-corp.iO\n")

    assert fingerprint(str(path))["size"] == before["size"]
    assert fingerprint(str(path)) != before
