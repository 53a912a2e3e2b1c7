"""Bad input through the real command: a clear line, the right exit code, no traceback.

DESIGN §4 and §8: a file that cannot be read as a whole stops the job with
exit 1 and one line naming the file (and line) and the problem; a bad row
alone becomes `invalid/unreadable` or `invalid/bad_syntax` and the job goes
on; a usage mistake exits 2.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import ALL_STATUSES, CliResult, run_cli

Setup = Callable[[Path], None]


def write(name: str, data: bytes) -> Setup:
    def setup(folder: Path) -> None:
        (folder / name).write_bytes(data)

    return setup


def make_folder(folder: Path) -> None:
    (folder / "folder").mkdir()


def nothing(folder: Path) -> None:
    return None


def run_in(tmp_path: Path, setup: Setup, *args: str) -> CliResult:
    setup(tmp_path)
    result = run_cli(*args, cwd=tmp_path)
    assert "Traceback" not in result.stderr
    return result


GOOD = write("good.csv", b"email\nann@acme.com\n")


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        pytest.param(
            nothing, ["missing.csv"], "missing.csv: no such file", id="missing-file"
        ),
        pytest.param(
            make_folder,
            ["folder"],
            "folder: is a directory, not a list file",
            id="directory",
        ),
        pytest.param(
            write("people.csv", b"name,city\nAnn,Oslo\nBob,Rome\n"),
            ["people.csv"],
            "people.csv:1: no column holds email addresses; name one with "
            "--column NAME or --column NUMBER",
            id="no-email-column",
        ),
        pytest.param(
            write("photo.txt", b"\x89PNG\r\n\x1a\n" + bytes(2000)),
            ["photo.txt"],
            "photo.txt: does not look like a text list (binary data at byte 6)",
            id="binary-garbage",
        ),
        pytest.param(
            write(
                "people.csv",
                b'name,email\nAnn,ann@acme.com\nBob,"bob@acme.com\nCy,cy@acme.com\n',
            ),
            ["people.csv"],
            "people.csv:3: a quoted field opened on this line never closes "
            "(unclosed quote)",
            id="unclosed-quote",
        ),
        pytest.param(
            write("list.txt.gz", gzip.compress(b"ann@acme.com\n" * 500)[:30]),
            ["list.txt.gz"],
            "list.txt.gz: the gzip data is truncated or corrupt (Compressed file "
            "ended before the end-of-stream marker was reached)",
            id="truncated-gzip",
        ),
        pytest.param(
            write("list.txt", "ann@acme.com\n".encode("utf-16")),
            ["list.txt"],
            "list.txt: is UTF-16 encoded; convert it first, e.g. iconv -f UTF-16 "
            "-t UTF-8 FILE > FILE.utf8",
            id="utf16",
        ),
    ],
)
def test_validate_unreadable_input_one_line_exit_1(
    tmp_path: Path, setup: Setup, args: list[str], message: str
) -> None:
    result = run_in(tmp_path, setup, "validate", *args, "--checks", "syntax")

    assert result.rc == 1
    assert result.stderr == f"emailclean: {message}\n"
    assert result.stdout == b""


@pytest.mark.parametrize(
    ("setup", "name", "message"),
    [
        pytest.param(
            nothing, "missing.csv", "missing.csv: no such file", id="missing-file"
        ),
        pytest.param(
            make_folder,
            "folder",
            "folder: is a directory, not a list file",
            id="directory",
        ),
    ],
)
def test_validate_unopenable_input_with_output_file_one_line_exit_1(
    tmp_path: Path, setup: Setup, name: str, message: str
) -> None:
    setup(tmp_path)

    result = run_cli(
        "validate", name, "-o", "out.csv", "--checks", "syntax", cwd=tmp_path
    )

    assert (result.rc, result.stderr) == (1, f"emailclean: {message}\n")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["--encoding", "klingon-8"],
            "unknown encoding 'klingon-8'",
            id="unknown-encoding",
        ),
        pytest.param(
            ["--keep", "valid,bogus"],
            "--keep: unknown name bogus (choose from valid, risky, invalid, unknown)",
            id="bad-keep-name",
        ),
        pytest.param(
            ["--drop-flagged", "spam"],
            "--drop-flagged: unknown name spam (choose from disposable, "
            "role, free, catch_all, duplicate, smtputf8)",
            id="bad-drop-flagged-name",
        ),
        pytest.param(
            ["--column", "mail"],
            "--column mail: no such column (the header has: email)",
            id="unknown-column",
        ),
        pytest.param(
            ["--format", "xml"],
            "--format must be one of csv, jsonl, json, txt",
            id="unknown-format",
        ),
        pytest.param(
            ["--checks", "syntax,smtp"],
            "--checks smtp needs dns too (smtp probes the MX hosts)",
            id="smtp-without-dns",
        ),
        pytest.param(
            ["-o", "good.csv"],
            "the output good.csv is the input; choose another -o path",
            id="output-is-input",
        ),
    ],
)
def test_validate_usage_mistake_one_line_exit_2(
    tmp_path: Path, args: list[str], message: str
) -> None:
    result = run_in(tmp_path, GOOD, "validate", "good.csv", "--checks", "syntax", *args)

    assert result.rc == 2
    assert result.stderr == f"emailclean: {message}\n"
    assert result.stdout == b""


def test_validate_existing_output_refused_exit_2(tmp_path: Path) -> None:
    (tmp_path / "out.csv").write_bytes(b"precious\n")

    result = run_in(
        tmp_path, GOOD, "validate", "good.csv", "-o", "out.csv", "--checks", "syntax"
    )

    assert result.rc == 2
    assert result.stderr == (
        f"emailclean: {tmp_path / 'out.csv'} already exists; add --force to "
        "overwrite it\n"
    )
    assert (tmp_path / "out.csv").read_bytes() == b"precious\n"


@pytest.mark.parametrize(
    ("setup", "name", "stdout"),
    [
        pytest.param(write("empty.csv", b""), "empty.csv", b"", id="empty-file"),
        pytest.param(
            write("header.csv", b"name,email\n"),
            "header.csv",
            b"name,email,status,reason,normalized,suggestion,flags,mx,smtp_code,"
            b"smtp_reply\n",
            id="header-only",
        ),
    ],
)
def test_validate_no_data_rows_exit_0_with_warning(
    tmp_path: Path, setup: Setup, name: str, stdout: bytes
) -> None:
    result = run_in(tmp_path, setup, "validate", name, "--checks", "syntax")

    assert result.rc == 0
    assert (
        f"warning: {name}: no data rows (the input is empty or has only a header)"
        in result.stderr
    )
    assert result.stdout == stdout


def jsonl_rows(tmp_path: Path, setup: Setup, name: str) -> list[dict[str, object]]:
    result = run_in(
        tmp_path,
        setup,
        "validate",
        name,
        "--checks",
        "syntax",
        "--format",
        "jsonl",
        "--keep",
        ALL_STATUSES,
    )
    assert result.rc == 0
    return result.jsonl()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(
            b"\xff\xfe@acme.com",
            "Line 3: the row has bytes that are not valid in the input encoding.",
            id="undecodable-bytes",
        ),
        pytest.param(
            b"b\x00b@acme.com", "Line 3: the row contains NUL bytes.", id="nul-bytes"
        ),
    ],
)
def test_validate_unreadable_row_invalid_job_continues(
    tmp_path: Path, data: bytes, message: str
) -> None:
    setup = write("list.txt", b"ann@acme.com\n\n" + data + b"\nbob@acme.com\n")

    rows = jsonl_rows(tmp_path, setup, "list.txt")

    assert [(r["row"], r["status"], r["reason"]) for r in rows] == [
        (1, "valid", "syntax_ok"),
        (2, "invalid", "unreadable"),
        (3, "valid", "syntax_ok"),
    ]
    assert rows[1]["message"] == message


def test_validate_10mb_line_one_bad_row(tmp_path: Path) -> None:
    setup = write(
        "list.txt", b"ann@acme.com\n" + b"x" * 10_000_000 + b"\nbob@acme.com\n"
    )

    rows = jsonl_rows(tmp_path, setup, "list.txt")

    assert [(r["status"], r["reason"]) for r in rows] == [
        ("valid", "syntax_ok"),
        ("invalid", "bad_syntax"),
        ("valid", "syntax_ok"),
    ]
    assert rows[1]["message"] == "The address is too long (10000000 characters)."


def test_validate_2mb_field_one_bad_row(tmp_path: Path) -> None:
    big = b"y" * 2_000_000
    setup = write(
        "people.csv",
        b"name,email\nAnn,ann@acme.com\nBig," + big + b"\nCy,cy@acme.com\n",
    )

    rows = jsonl_rows(tmp_path, setup, "people.csv")

    assert [(r["row"], r["reason"]) for r in rows] == [
        (1, "syntax_ok"),
        (2, "bad_syntax"),
        (3, "syntax_ok"),
    ]
    assert rows[1]["fields"] == {"name": "Big", "email": big.decode()}


def test_validate_ragged_rows_kept_with_warning(tmp_path: Path) -> None:
    setup = write(
        "people.csv", b"name,email\nAnn,ann@acme.com,extra\nBob\nCy,cy@acme.com\n"
    )

    result = run_in(
        tmp_path,
        setup,
        "validate",
        "people.csv",
        "--checks",
        "syntax",
        "--format",
        "jsonl",
        "--keep",
        ALL_STATUSES,
    )

    assert result.rc == 0
    assert [(r["row"], r["status"], r["reason"]) for r in result.jsonl()] == [
        (1, "valid", "syntax_ok"),
        (2, "invalid", "unreadable"),
        (3, "valid", "syntax_ok"),
    ]
    assert result.jsonl()[1]["message"] == (
        "Line 3: the row has 1 column(s); the address column is number 2."
    )
    assert (
        "warning: 2 row(s) had a different number of columns than the header"
        in result.stderr
    )
