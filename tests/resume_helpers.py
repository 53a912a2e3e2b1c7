"""Shared pieces of the resumable-job tests (issue 3, DESIGN §7).

- generated address lists, small or large, CSV or TXT, with the awkward
  parts a resume must get right (quoted fields with newlines, CRLF, UTF-8,
  duplicates, bad rows);
- the real command in a child process that a test can signal or kill
  (`start_cli`), with the same environment `tests.helpers.run_cli` builds;
- `finish_after_crash`: resume a crashed job, again and again while it keeps
  crashing and keeps making progress, until it completes;
- reading and editing a checkpoint's SQLite file directly, as a test must to
  prove what was (or was not) committed.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import sqlite3
import subprocess
import sys
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path
from typing import Any, Protocol

from tests.helpers import REPO_ROOT, CliResult, run_cli

CRASH_EXIT = 99
DOMAINS = ("acme-corp.io", "gmail.com", "mailinator.com", "b\u00fccher.de", "x.org")
LOCALS = ("ann", "bob", "info", "j.doe", "z\u00e9lie", "sales", "o'brien")


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment `run_cli` gives the command (no EMAILCLEAN_* leaks)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("EMAILCLEAN_") and key not in ("COLUMNS", "LINES")
    }
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])
    )
    env["NO_COLOR"] = "1"
    env.update(extra or {})
    return env


def start_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start `emailclean ARGS...` without waiting; stdout/stderr are piped."""
    return subprocess.Popen(
        [sys.executable, "-m", "emailclean", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
        env=child_env(env),
    )


def address(rng: random.Random, row: int) -> str:
    """A mix of good, risky, bad and repeated addresses."""
    roll = rng.random()
    if roll < 0.08:
        return rng.choice(("not-an-address", "a@@b.com", "x@foo..bar", ""))
    if roll < 0.15:
        return f"user{row % 37}@example.com"
    local = f"{rng.choice(LOCALS)}{row % 9973}"
    return f"{local}@{rng.choice(DOMAINS)}"


def write_csv(path: Path, rows: int, seed: int = 0, newline: str = "\n") -> Path:
    """A CSV list: quoted cells with commas and newlines, UTF-8, CRLF if asked."""
    rng = random.Random(seed)
    lines = [f"id,email,note{newline}"]
    for row in range(1, rows + 1):
        note = f'"line one\nline two, {row}"' if row % 50 == 0 else f"n\u00f8te {row}"
        lines.append(f"{row},{address(rng, row)},{note}{newline}")
    path.write_bytes("".join(lines).encode())
    return path


def write_txt(path: Path, rows: int, seed: int = 0) -> Path:
    """A TXT list: one address a line, with `Name <addr>` and blank lines."""
    rng = random.Random(seed)
    lines = []
    for row in range(1, rows + 1):
        text = address(rng, row)
        if row % 40 == 0:
            text = f"Some One <{text}>"
        lines.append(text + ("\n\n" if row % 90 == 0 else "\n"))
    path.write_bytes("".join(lines).encode())
    return path


class Runner(Protocol):
    """Runs `emailclean ARGS...` in a child process and waits for it."""

    def __call__(
        self, *args: str, cwd: Path, env: dict[str, str] | None = None
    ) -> CliResult: ...


def validate(
    folder: Path,
    *args: str,
    env: dict[str, str] | None = None,
    run: Runner = run_cli,
) -> CliResult:
    return run("validate", *args, cwd=folder, env=env)


def resume(
    folder: Path,
    checkpoint: str,
    env: dict[str, str] | None = None,
    run: Runner = run_cli,
) -> CliResult:
    return run("resume", checkpoint, cwd=folder, env=env)


def crash_env(point: str, count: int, **extra: str) -> dict[str, str]:
    """Commit after every batch and die at the `count`-th `point`."""
    return {
        "EMAILCLEAN_COMMIT_INTERVAL": "0",
        "EMAILCLEAN_TEST_CRASH": f"{point}:{count}",
        **extra,
    }


def finish_after_crash(
    folder: Path,
    checkpoint: Path,
    first: CliResult,
    env: dict[str, str],
    run: Runner = run_cli,
    max_attempts: int = 12,
) -> list[int]:
    """Resume until the job completes; returns every exit code seen.

    While a resume dies again *and* moved the committed progress on, the
    next resume runs under the same crash switch (a job that dies at every
    second commit still finishes); once a run dies without progress, the
    switch is dropped.
    """
    codes = [first.rc]
    result = first
    while result.rc == CRASH_EXIT:
        assert len(codes) <= max_attempts, f"no end in sight: {codes}"
        if not checkpoint.exists():
            # Died before the job state existed: there is nothing to resume.
            result = CliResult(0, b"", "")
            codes.append(-1)
            break
        before = committed(checkpoint)
        result = resume(folder, str(checkpoint), env=env, run=run)
        codes.append(result.rc)
        if result.rc == CRASH_EXIT and committed(checkpoint) == before:
            env = {k: v for k, v in env.items() if k != "EMAILCLEAN_TEST_CRASH"}
    assert result.rc == 0, (codes, result.stderr)
    assert "Traceback" not in result.stderr
    return codes


def committed(checkpoint: Path) -> dict[str, Any]:
    """The progress record a checkpoint holds (what its last commit says)."""
    with _open(checkpoint) as db:
        (body,) = db.execute("SELECT body FROM progress").fetchone()
    return dict(json.loads(body))


def header(checkpoint: Path) -> dict[str, Any]:
    with _open(checkpoint) as db:
        (body,) = db.execute("SELECT body FROM header").fetchone()
    return dict(json.loads(body))


def table_rows(checkpoint: Path, table: str) -> int:
    with _open(checkpoint) as db:
        (count,) = db.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(count)


def rewrite_header(checkpoint: Path, **changes: Any) -> None:
    """Edit header fields and re-seal the checksum, as another emailclean
    version writing its own (consistent) checkpoint would have."""
    with _open(checkpoint) as db:
        (body,) = db.execute("SELECT body FROM header").fetchone()
        (progress,) = db.execute("SELECT body FROM progress").fetchone()
        new_header = json.dumps({**json.loads(body), **changes})
        seal = hashlib.sha256((new_header + "\n" + progress).encode()).hexdigest()
        db.execute("UPDATE header SET body = ?", (new_header,))
        db.execute("UPDATE progress SET checksum = ?", (seal,))
        db.commit()


def sql(checkpoint: Path, statement: str, params: Sequence[Any] = ()) -> None:
    with _open(checkpoint) as db:
        db.execute(statement, params)
        db.commit()


def _open(path: Path) -> closing[sqlite3.Connection]:
    """A plain connection to a checkpoint, closed on exit."""
    return closing(sqlite3.connect(path))
