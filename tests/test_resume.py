"""`emailclean resume` and the job lifecycle through the real command (DESIGN §7).

Each test starts from a job that died at its second commit (one batch of
rows committed, more written after it), then resumes it, or changes what
the job depends on and expects a refusal: one line, exit code 4.
"""

from __future__ import annotations

import errno
import fcntl
import gzip
import json
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest

from tests import helpers
from tests.helpers import CliResult
from tests.resume_forkserver import ForkServer
from tests.resume_helpers import (
    CRASH_EXIT,
    child_env,
    committed,
    crash_env,
    header,
    rewrite_header,
    sql,
    table_rows,
    write_csv,
)

ROWS = 1100  # three batches: the second commit is mid-job
ARGS = ("in.csv", "-o", "out.csv", "--checks", "syntax", "-q")
ALL = "valid,risky,invalid,unknown"


_servers: list[ForkServer] = []


@pytest.fixture(scope="module", autouse=True)
def fork_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Most runs here go through a fork server (see resume_forkserver): the
    same cli.main() in a fresh process, without paying for start-up."""
    _servers.append(ForkServer(tmp_path_factory.mktemp("forkserver")))
    yield
    _servers.pop().close()


def run_cli(
    *args: str,
    cwd: Path,
    env: dict[str, str] | None = None,
    stdin: bytes | None = None,
) -> CliResult:
    return _servers[-1].run(*args, cwd=cwd, env=env, stdin=stdin)


def validate(folder: Path, *args: str, env: dict[str, str] | None = None) -> CliResult:
    return run_cli("validate", *args, cwd=folder, env=env)


def resume(
    folder: Path, checkpoint: str, env: dict[str, str] | None = None
) -> CliResult:
    return run_cli("resume", checkpoint, cwd=folder, env=env)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The uninterrupted run, by `python -m emailclean` itself."""
    folder = tmp_path_factory.mktemp("reference")
    write_csv(folder / "in.csv", ROWS)
    assert helpers.run_cli("validate", *ARGS, cwd=folder).rc == 0
    return (folder / "out.csv").read_bytes()


def interrupted(folder: Path, *extra: str) -> Path:
    """A job that died at its second commit; returns its checkpoint."""
    write_csv(folder / "in.csv", ROWS)
    result = validate(folder, *ARGS, *extra, env=crash_env("commit", 2))
    assert result.rc == CRASH_EXIT, result.stderr
    return folder / "out.csv.ckpt"


def refused(folder: Path, checkpoint: Path) -> str:
    """Resume, expect exit 4 and a single line; returns that line."""
    result = resume(folder, str(checkpoint))
    assert result.rc == 4, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr.rstrip("\n")


# -- the happy path ---------------------------------------------------------


def test_resume_after_crash_finishes_byte_identical(
    tmp_path: Path, reference: bytes
) -> None:
    checkpoint = interrupted(tmp_path)
    assert committed(checkpoint)["next_row"] == 513

    result = resume(tmp_path, str(checkpoint))

    assert result.rc == 0, result.stderr
    assert (tmp_path / "out.csv").read_bytes() == reference
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "out.csv"]


def test_resume_summary_counts_every_row_once(tmp_path: Path) -> None:
    checkpoint = interrupted(tmp_path)

    result = run_cli("resume", str(checkpoint), "--no-progress", cwd=tmp_path)

    assert result.rc == 0
    assert f"{ROWS:,} rows in, " in " ".join(result.stderr.split())


def test_resume_checkpoint_file_mode_0600(tmp_path: Path) -> None:
    checkpoint = interrupted(tmp_path)

    assert stat.S_IMODE(checkpoint.stat().st_mode) == 0o600


def test_resume_from_another_folder_uses_absolute_paths(
    tmp_path: Path, reference: bytes
) -> None:
    (tmp_path / "job").mkdir()
    checkpoint = interrupted(tmp_path / "job")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    result = resume(elsewhere, str(checkpoint))

    assert result.rc == 0, result.stderr
    assert (tmp_path / "job" / "out.csv").read_bytes() == reference
    assert list(elsewhere.iterdir()) == []


def test_resume_result_option_is_usage_error(tmp_path: Path) -> None:
    checkpoint = interrupted(tmp_path)

    result = run_cli("resume", str(checkpoint), "--keep", "valid", cwd=tmp_path)

    assert result.rc == 2
    assert "No such option: --keep" in result.stderr
    assert committed(checkpoint)["next_row"] == 513


# -- the input changed ------------------------------------------------------


def append_row(path: Path) -> None:
    with path.open("ab") as stream:
        stream.write(b"9999,late@acme-corp.io,added later\n")


def cut_last_row(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: data.rstrip(b"\n").rfind(b"\n") + 1])


def edit_same_size(path: Path) -> None:
    data = bytearray(path.read_bytes())
    at = data.index(b"@", len(data) - 200)
    data[at - 1 : at] = b"Q"
    path.write_bytes(bytes(data))


def edit_committed_part(path: Path) -> None:
    data = bytearray(path.read_bytes())
    at = data.index(b"@", 100)
    data[at - 1 : at] = b"Q"
    path.write_bytes(bytes(data))


def replace_with_other_list(path: Path) -> None:
    path.unlink()
    write_csv(path, ROWS, seed=99)


INPUT_CHANGES: dict[str, Callable[[Path], None]] = {
    "appended": append_row,
    "truncated": cut_last_row,
    "same-size-edit-after-commit": edit_same_size,
    "same-size-edit-before-commit": edit_committed_part,
    "replaced": replace_with_other_list,
}


@pytest.mark.parametrize("change", INPUT_CHANGES.values(), ids=INPUT_CHANGES.keys())
def test_resume_input_changed_refused(
    tmp_path: Path, change: Callable[[Path], None]
) -> None:
    checkpoint = interrupted(tmp_path)
    size = (tmp_path / "in.csv").stat().st_size
    change(tmp_path / "in.csv")
    if change is edit_same_size or change is edit_committed_part:
        assert (tmp_path / "in.csv").stat().st_size == size

    line = refused(tmp_path, checkpoint)

    assert line == (
        "emailclean: in.csv changed since the job started (size or content "
        "differ); start over with --restart"
    )
    assert (tmp_path / "out.csv.partial").exists()


def test_resume_input_gone_refused(tmp_path: Path) -> None:
    checkpoint = interrupted(tmp_path)
    (tmp_path / "in.csv").unlink()

    line = refused(tmp_path, checkpoint)

    assert line == (
        f"emailclean: in.csv ({tmp_path / 'in.csv'}) is gone; the job cannot resume"
    )


def test_resume_input_replaced_by_identical_copy_resumes(
    tmp_path: Path, reference: bytes
) -> None:
    checkpoint = interrupted(tmp_path)
    shutil.copy(tmp_path / "in.csv", tmp_path / "copy.csv")
    os.replace(tmp_path / "copy.csv", tmp_path / "in.csv")

    result = resume(tmp_path, str(checkpoint))

    assert result.rc == 0
    assert (tmp_path / "out.csv").read_bytes() == reference


# -- the checkpoint itself --------------------------------------------------


def test_resume_other_emailclean_version_refused(tmp_path: Path) -> None:
    checkpoint = interrupted(tmp_path)
    rewrite_header(checkpoint, emailclean_version="0.0.1")

    line = refused(tmp_path, checkpoint)

    version = header_version()
    assert line == (
        f"emailclean: {checkpoint} was written by emailclean 0.0.1, this is "
        f"{version}; finish it with that version or start over with --restart"
    )


def header_version() -> str:
    from emailclean import __version__

    return __version__


def test_resume_other_lists_version_refused(tmp_path: Path) -> None:
    checkpoint = interrupted(tmp_path)
    now = header(checkpoint)["lists_version"]
    rewrite_header(checkpoint, lists_version="disposable-email-domains 0.0.1")

    line = refused(tmp_path, checkpoint)

    assert line == (
        f"emailclean: {checkpoint}: the list data changed since the job started "
        f"(disposable-email-domains 0.0.1 then, {now} now); start over with "
        "--restart"
    )


def test_resume_unknown_format_version_refused(tmp_path: Path) -> None:
    checkpoint = interrupted(tmp_path)
    rewrite_header(checkpoint, format_version=2)

    line = refused(tmp_path, checkpoint)

    assert line == (
        f"emailclean: {checkpoint}: checkpoint format 2 is not the one this "
        "emailclean writes (1); finish it with the emailclean that wrote it or "
        "start over with validate --restart"
    )


def garbage(path: Path) -> None:
    path.write_bytes(os.urandom(8192))


def cut_in_half(path: Path) -> None:
    with path.open("r+b") as stream:
        stream.truncate(path.stat().st_size // 2)


def empty(path: Path) -> None:
    path.write_bytes(b"")


def tamper_progress(path: Path) -> None:
    body = committed(path)
    body["next_row"] = 2
    sql(path, "UPDATE progress SET body = ?", (json.dumps(body, sort_keys=True),))


def drop_header(path: Path) -> None:
    sql(path, "DELETE FROM header")


def text_file(path: Path) -> None:
    path.write_text("name,email\nann,ann@acme-corp.io\n")


DAMAGE: dict[str, Callable[[Path], None]] = {
    "garbage": garbage,
    "cut-in-half": cut_in_half,
    "empty-file": empty,
    "progress-tampered": tamper_progress,
    "header-missing": drop_header,
    "a-csv-file": text_file,
}


@pytest.mark.parametrize("damage", DAMAGE.values(), ids=DAMAGE.keys())
def test_resume_damaged_checkpoint_refused(
    tmp_path: Path, damage: Callable[[Path], None]
) -> None:
    checkpoint = interrupted(tmp_path)
    damage(checkpoint)

    line = refused(tmp_path, checkpoint)

    assert line.startswith(f"emailclean: {checkpoint}: ")
    assert line.endswith("start over with validate --restart")


def test_resume_missing_checkpoint_refused(tmp_path: Path) -> None:
    line = refused(tmp_path, tmp_path / "nope.ckpt")

    assert line == f"emailclean: {tmp_path / 'nope.ckpt'}: no such checkpoint"


def test_resume_locked_checkpoint_refused(tmp_path: Path) -> None:
    checkpoint = interrupted(tmp_path)
    holder = os.open(checkpoint, os.O_RDWR)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)
        line = refused(tmp_path, checkpoint)
        restart = validate(tmp_path, *ARGS, "--restart")
    finally:
        os.close(holder)

    assert line == (
        f"emailclean: {checkpoint}: another emailclean process is working on this job"
    )
    assert restart.rc == 4
    assert restart.stderr.rstrip("\n") == line
    assert committed(checkpoint)["next_row"] == 513


# -- the partial output -----------------------------------------------------


def replace_partial(path: Path) -> None:
    shutil.copy(path, path.with_name("copy"))
    os.replace(path.with_name("copy"), path)


def cut_partial(path: Path) -> None:
    with path.open("r+b") as stream:
        stream.truncate(100)


@pytest.mark.parametrize(
    "change", [replace_partial, cut_partial], ids=["replaced-same-bytes", "cut-short"]
)
def test_resume_partial_output_not_ours_refused(
    tmp_path: Path, change: Callable[[Path], None]
) -> None:
    checkpoint = interrupted(tmp_path)
    change(tmp_path / "out.csv.partial")

    line = refused(tmp_path, checkpoint)

    assert line == (
        f"emailclean: {tmp_path / 'out.csv.partial'} is not the file this job was "
        "writing (it was replaced or cut short); start over with validate --restart"
    )


def test_resume_partial_output_gone_refused(tmp_path: Path) -> None:
    checkpoint = interrupted(tmp_path)
    (tmp_path / "out.csv.partial").unlink()

    line = refused(tmp_path, checkpoint)

    assert line == (
        f"emailclean: {tmp_path / 'out.csv.partial'} is gone; the job cannot "
        "resume (start over with validate --restart)"
    )


# -- validate over a checkpoint ---------------------------------------------


def test_validate_over_checkpoint_names_resume_and_restart(tmp_path: Path) -> None:
    checkpoint = interrupted(tmp_path)

    result = validate(tmp_path, *ARGS)

    assert result.rc == 4
    assert result.stderr == (
        f"emailclean: {checkpoint} exists: an earlier run of this job was "
        f"interrupted. Finish it with: emailclean resume {checkpoint} (or start "
        "over with --restart)\n"
    )
    assert committed(checkpoint)["next_row"] == 513


def test_validate_restart_starts_over(tmp_path: Path, reference: bytes) -> None:
    checkpoint = interrupted(tmp_path)

    result = validate(tmp_path, *ARGS, "--restart")

    assert result.rc == 0, result.stderr
    assert (tmp_path / "out.csv").read_bytes() == reference
    assert not checkpoint.exists()
    assert not (tmp_path / "out.csv.partial").exists()


@pytest.mark.parametrize(
    "damage", [cut_in_half, tamper_progress, empty], ids=["cut", "tampered", "empty"]
)
def test_validate_restart_over_damaged_checkpoint_starts_over(
    tmp_path: Path, reference: bytes, damage: Callable[[Path], None]
) -> None:
    checkpoint = interrupted(tmp_path)
    damage(checkpoint)

    result = validate(tmp_path, *ARGS, "--restart")

    assert result.rc == 0, result.stderr
    assert (tmp_path / "out.csv").read_bytes() == reference
    assert not checkpoint.exists()


def someone_elses_database(path: Path) -> None:
    with closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE contacts (email TEXT)")
        db.commit()


NOT_OURS: dict[str, Callable[[Path], None]] = {
    "a-csv-file": text_file,
    "garbage": garbage,
    "another-sqlite-database": someone_elses_database,
}


@pytest.mark.parametrize("make", NOT_OURS.values(), ids=NOT_OURS.keys())
def test_validate_restart_leaves_a_file_that_is_not_a_checkpoint(
    tmp_path: Path, make: Callable[[Path], None]
) -> None:
    write_csv(tmp_path / "in.csv", ROWS)
    make(tmp_path / "precious")
    before = (tmp_path / "precious").read_bytes()

    result = validate(tmp_path, *ARGS, "--checkpoint", "precious", "--restart")

    assert result.rc == 4
    assert result.stderr == (
        f"emailclean: {tmp_path / 'precious'} is not an emailclean checkpoint, so "
        "--restart leaves it alone; choose another --checkpoint path\n"
    )
    assert (tmp_path / "precious").read_bytes() == before


@pytest.mark.parametrize("path, role", [("in.csv", "input"), ("out.csv", "output")])
def test_validate_checkpoint_same_as_input_or_output_usage_error(
    tmp_path: Path, path: str, role: str
) -> None:
    write_csv(tmp_path / "in.csv", ROWS)

    result = validate(tmp_path, *ARGS, "--checkpoint", path, "--restart")

    assert result.rc == 2
    assert result.stderr == (
        f"emailclean: --checkpoint {path} is the {role}; choose another path\n"
    )
    assert (tmp_path / "in.csv").stat().st_size > 0


def test_resume_complete_checkpoint_is_noop(tmp_path: Path, reference: bytes) -> None:
    write_csv(tmp_path / "in.csv", ROWS)
    died = validate(tmp_path, *ARGS, env=crash_env("rename", 1))
    assert died.rc == CRASH_EXIT
    checkpoint = tmp_path / "out.csv.ckpt"
    assert committed(checkpoint)["complete"] is True
    (tmp_path / "in.csv").unlink()  # a finished job needs its input no more

    result = run_cli("resume", str(checkpoint), "--no-progress", cwd=tmp_path)

    assert result.rc == 0, result.stderr
    assert result.stderr.startswith(
        f"emailclean: {checkpoint}: the job was already complete; nothing to do\n"
    )
    assert (tmp_path / "out.csv").read_bytes() == reference
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


# -- --dedupe memory ----------------------------------------------------------


def test_dedupe_memory_lives_in_job_state(tmp_path: Path) -> None:
    write_csv(tmp_path / "in.csv", ROWS)
    reference = validate(
        tmp_path,
        "in.csv",
        "--checks",
        "syntax",
        "--dedupe",
        "--format",
        "jsonl",
        "--keep",
        "valid,risky,invalid,unknown",
    )
    checkpoint = interrupted(tmp_path, "--dedupe")
    next_row = committed(checkpoint)["next_row"]

    seen = {
        str(row["normalized"]).casefold()
        for row in reference.jsonl()
        if row["normalized"] is not None and int(str(row["row"])) < next_row
    }
    assert table_rows(checkpoint, "seen") == len(seen) > 100


# -- stdin and stdout --------------------------------------------------------


def test_resume_stdin_job_spools_and_resumes(tmp_path: Path) -> None:
    # A long folder name with brackets: the notice is one literal line.
    tmp_path = tmp_path / ("stdin [job] " + "x" * 60)
    tmp_path.mkdir()
    data = write_csv(tmp_path / "list", ROWS).read_bytes()
    spool = tmp_path / "job.ckpt.spool"
    args = (
        "validate",
        "-",
        "-o",
        "out.csv",
        "--checks",
        "syntax",
        "--checkpoint",
        "job.ckpt",
        "--no-progress",
    )

    reference = run_cli(
        *args[:3], "ref.csv", *args[4:6], "--no-checkpoint", stdin=data, cwd=tmp_path
    )
    died = run_cli(*args, stdin=data, cwd=tmp_path, env=crash_env("commit", 2))
    spool_mode = stat.S_IMODE(spool.stat().st_mode)
    resumed = run_cli("resume", "job.ckpt", "-q", cwd=tmp_path)

    assert reference.rc == 0
    assert died.rc == CRASH_EXIT
    assert died.stderr.startswith(
        f"emailclean: reading stdin into {spool} so the job can resume\n"
    )
    assert spool_mode == 0o600
    assert resumed.rc == 0, resumed.stderr
    assert (tmp_path / "out.csv").read_bytes() == (tmp_path / "ref.csv").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["list", "out.csv", "ref.csv"]


def test_validate_checkpoint_with_stdout_usage_error(tmp_path: Path) -> None:
    write_csv(tmp_path / "in.csv", 10)

    result = validate(tmp_path, "in.csv", "-o", "-", "--checkpoint", "job.ckpt")

    assert result.rc == 2
    assert result.stderr == (
        "emailclean: --checkpoint needs -o FILE: a job writing to stdout keeps no "
        "checkpoint\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


@pytest.mark.parametrize(
    "args, stdin",
    [
        (("in.csv", "--format", "jsonl"), False),
        (("-", "-o", "out.csv"), True),
    ],
    ids=["stdout-output", "stdin-without-checkpoint"],
)
def test_validate_without_checkpoint_leaves_no_state(
    tmp_path: Path, args: tuple[str, ...], stdin: bool
) -> None:
    data = write_csv(tmp_path / "in.csv", ROWS).read_bytes()

    result = run_cli(
        "validate",
        *args,
        "--checks",
        "syntax",
        cwd=tmp_path,
        stdin=data if stdin else None,
        env=crash_env("write", 2),
    )

    assert result.rc == CRASH_EXIT
    assert not [p for p in tmp_path.rglob("*") if ".ckpt" in p.name]


# -- disk full and I/O errors -------------------------------------------------

FAULTS = {
    "write-enospc": (
        "write:2:ENOSPC",
        "writing the output failed: No space left on device",
    ),
    "write-eio": ("write:3:EIO", "writing the output failed: Input/output error"),
    "fsync-eio": ("fsync:2:EIO", "writing the output failed: Input/output error"),
    "commit-enospc": (
        "commit:2:ENOSPC",
        "saving the job state to {folder}/out.csv.ckpt failed: No space left on device",
    ),
    "rename-eio": (
        "rename:1:EIO",
        "{folder}/out.csv.partial: cannot be renamed to out.csv (Input/output error)",
    ),
}


@pytest.mark.parametrize("fault, message", FAULTS.values(), ids=FAULTS.keys())
def test_validate_io_fault_one_line_then_resume_byte_identical(
    tmp_path: Path, reference: bytes, fault: str, message: str
) -> None:
    write_csv(tmp_path / "in.csv", ROWS)
    env = {"EMAILCLEAN_COMMIT_INTERVAL": "0", "EMAILCLEAN_TEST_FAIL": fault}

    failed = validate(tmp_path, *ARGS, env=env)
    resumed = resume(tmp_path, "out.csv.ckpt")

    assert failed.rc == 1
    assert failed.stderr.startswith("emailclean: " + message.format(folder=tmp_path))
    assert failed.stderr.count("\n") == 1, failed.stderr
    assert resumed.rc == 0, resumed.stderr
    assert (tmp_path / "out.csv").read_bytes() == reference


def test_resume_truncate_fault_one_line_then_resume(
    tmp_path: Path, reference: bytes
) -> None:
    checkpoint = interrupted(tmp_path)
    env = {"EMAILCLEAN_TEST_FAIL": f"truncate:1:{errno.errorcode[errno.EIO]}"}

    failed = resume(tmp_path, str(checkpoint), env=env)
    resumed = resume(tmp_path, str(checkpoint))

    assert failed.rc == 1
    assert failed.stderr == (
        f"emailclean: {tmp_path / 'out.csv.partial'}: cannot be opened "
        "(Input/output error)\n"
    )
    assert resumed.rc == 0
    assert (tmp_path / "out.csv").read_bytes() == reference


# -- every result option survives a resume ------------------------------------


def plain_csv(path: Path) -> None:
    write_csv(path, ROWS)


def latin1_tsv(path: Path) -> None:
    text = write_csv(path, ROWS).read_text().replace(",", "\t")
    path.write_bytes(text.replace("ø", "é").encode("latin-1", "replace"))


def bom_crlf(path: Path) -> None:
    write_csv(path, ROWS, newline="\r\n")
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())


def gzipped(path: Path) -> None:
    data = write_csv(path, ROWS).read_bytes()
    path.write_bytes(gzip.compress(data))


OPTION_CASES = {
    "keep-drop-excel": (
        plain_csv, "in.csv", "out.csv",
        ("--keep", "valid,invalid", "--drop-flagged", "role,free", "--excel-safe"),
    ),
    "column-format-jsonl": (
        plain_csv, "in.csv", "out.dat", ("--column", "2", "--format", "jsonl")
    ),
    "latin1-tsv-json": (
        latin1_tsv, "in.tsv", "out.json", ("--encoding", "latin-1", "--dedupe")
    ),
    "bom-crlf-txt-out": (bom_crlf, "in.csv", "out.txt", ()),
    "gzip-input": (gzipped, "in.csv.gz", "out.csv", ("--keep", ALL)),
}  # fmt: skip


@pytest.mark.parametrize(
    "make, source, target, options", OPTION_CASES.values(), ids=OPTION_CASES.keys()
)
def test_resume_keeps_result_options_byte_identical(
    tmp_path: Path,
    make: Callable[[Path], None],
    source: str,
    target: str,
    options: tuple[str, ...],
) -> None:
    args = (source, "-o", target, "--checks", "syntax", "-q", *options)
    for name in ("reference", "job"):
        (tmp_path / name).mkdir()
        make(tmp_path / name / source)
    reference = validate(tmp_path / "reference", *args)

    died = validate(tmp_path / "job", *args, env=crash_env("commit", 2))
    resumed = resume(tmp_path / "job", f"{target}.ckpt")

    assert reference.rc == 0, reference.stderr
    assert died.rc == CRASH_EXIT, died.stderr
    assert resumed.rc == 0, resumed.stderr
    expected = (tmp_path / "reference" / target).read_bytes()
    assert (tmp_path / "job" / target).read_bytes() == expected


# -- inputs that can be read only once (bash's <(...), FIFOs) ------------------


def feed(target: int | Path, data: bytes) -> None:
    """Write `data` into a pipe end or FIFO and close it; a reader that
    leaves early is fine."""
    fd = target if isinstance(target, int) else os.open(target, os.O_WRONLY)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    except BrokenPipeError:
        pass
    finally:
        os.close(fd)


def run_reading_pipe(
    data: bytes, *args: str, cwd: Path, env: dict[str, str] | None = None
) -> CliResult:
    """Run the command with PIPE in its arguments replaced by /dev/fd/N, a
    pipe being filled with `data`, as `emailclean validate <(zcat x.gz)`."""
    read, write = os.pipe()
    writer = threading.Thread(target=feed, args=(write, data))
    writer.start()
    try:
        completed = subprocess.run(
            [sys.executable, "-m", "emailclean",
             *(arg.replace("PIPE", f"/dev/fd/{read}") for arg in args)],
            pass_fds=(read,), capture_output=True, cwd=cwd, env=child_env(env),
            timeout=60, check=False,
        )  # fmt: skip
    finally:
        os.close(read)
        writer.join()
    return CliResult(completed.returncode, completed.stdout, completed.stderr.decode())


def test_validate_process_substitution_input_reads_every_row(
    tmp_path: Path, reference: bytes
) -> None:
    data = write_csv(tmp_path / "in.csv", ROWS).read_bytes()

    result = run_reading_pipe(data, "validate", "PIPE", *ARGS[1:], cwd=tmp_path)

    assert result.rc == 0, result.stderr
    assert (tmp_path / "out.csv").read_bytes() == reference
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "out.csv"]


def test_resume_process_substitution_input_spooled_with_checkpoint(
    tmp_path: Path, reference: bytes
) -> None:
    data = write_csv(tmp_path / "in.csv", ROWS).read_bytes()
    args = ("validate", "PIPE", *ARGS[1:-1], "--checkpoint", "job.ckpt")

    died = run_reading_pipe(data, *args, cwd=tmp_path, env=crash_env("commit", 2))
    resumed = resume(tmp_path, "job.ckpt")

    assert died.rc == CRASH_EXIT, died.stderr
    read = died.stderr.split()[2]  # /dev/fd/N
    assert died.stderr == (
        f"emailclean: reading {read} into {tmp_path / 'job.ckpt.spool'} so the "
        "job can resume\n"
    )
    assert resumed.rc == 0, resumed.stderr
    assert (tmp_path / "out.csv").read_bytes() == reference
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "out.csv"]


def test_resume_named_fifo_input_keeps_its_kind(tmp_path: Path) -> None:
    """A FIFO named list.txt is read as TXT on the first run and on resume
    (its spool is job.ckpt.spool.txt); a TXT sniff alone could differ."""
    data = "\n".join(f"Name {n}, <u{n}@acme-corp.io>" for n in range(700)) + "\n"
    (tmp_path / "list.txt").write_text(data)
    txt_args = ("-o", "out.csv", "--checks", "syntax", "-q", "--checkpoint", "job.ckpt")
    assert validate(tmp_path, "list.txt", *txt_args[:-2], "-o", "ref.csv").rc == 0
    fifo = tmp_path / "fifo" / "list.txt"
    fifo.parent.mkdir()
    os.mkfifo(fifo)
    writer = threading.Thread(target=feed, args=(fifo, data.encode()))
    writer.start()

    died = helpers.run_cli(  # a timeout: a FIFO read twice would block forever
        "validate", str(fifo), *txt_args, cwd=tmp_path, env=crash_env("commit", 2)
    )
    writer.join()
    spool_mode = stat.S_IMODE((tmp_path / "job.ckpt.spool.txt").stat().st_mode)
    resumed = resume(tmp_path, "job.ckpt")

    assert died.rc == CRASH_EXIT, died.stderr
    assert spool_mode == 0o600
    assert resumed.rc == 0, resumed.stderr
    assert (tmp_path / "out.csv").read_bytes() == (tmp_path / "ref.csv").read_bytes()
    assert not (tmp_path / "job.ckpt.spool.txt").exists()


def summary_counts(stderr: str) -> tuple[str, ...]:
    """The ragged-row and blank-line counts the summary reports."""
    text = " ".join(stderr.split())
    found = (
        re.search(r"(\d+) row\(s\) had a different number of columns", text),
        re.search(r"([\d,]+) blank line\(s\) skipped", text),
    )
    return tuple(match.group(1) if match else "" for match in found)


def test_resume_summary_counts_blank_and_ragged_rows_of_whole_input(
    tmp_path: Path,
) -> None:
    rows = [f"{n},u{n}@acme-corp.io,n{n}" for n in range(1, 1101)]
    for n in range(99, 1100, 100):
        rows[n] = f"{n + 1},u{n + 1}@acme-corp.io"  # one cell short
        rows[n - 9] = ""  # blank line
    (tmp_path / "in.csv").write_text("id,email,note\n" + "\n".join(rows) + "\n")
    reference = validate(tmp_path, "in.csv", "-o", "ref.csv", "--checks", "syntax")

    validate(tmp_path, *ARGS[:-1], env=crash_env("commit", 2))
    resumed = resume(tmp_path, "out.csv.ckpt")

    assert summary_counts(reference.stderr) == ("11", "11")
    assert summary_counts(resumed.stderr) == ("11", "11")
