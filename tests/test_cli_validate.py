"""`emailclean validate` through the real command, syntax checks only."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
from pathlib import Path

from tests.helpers import cli_command, cli_env, run_cli

CONTACTS = (
    b"name,email\n"
    b"Ann,ann@acme.com\n"
    b"Info,info@acme.com\n"
    b"Temp,x@mailinator.com\n"
    b"Bad,not-an-address\n"
    b"Ann again,ANN@acme.com\n"
)
VERDICT_HEADER = b"status,reason,normalized,suggestion,flags,mx,smtp_code,smtp_reply"


def contacts(tmp_path: Path) -> Path:
    path = tmp_path / "contacts.csv"
    path.write_bytes(CONTACTS)
    return path


def first_cells(data: bytes) -> list[str]:
    return [line.split(",")[0] for line in data.decode().splitlines()]


def test_validate_stdout_data_only_summary_on_stderr(tmp_path: Path) -> None:
    contacts(tmp_path)

    result = run_cli("validate", "contacts.csv", "--checks", "syntax", cwd=tmp_path)

    assert result.rc == 0
    assert result.stdout == (
        b"name,email," + VERDICT_HEADER + b"\n"
        b"Ann,ann@acme.com,valid,syntax_ok,ann@acme.com,,,,,\n"
        b"Info,info@acme.com,risky,role_account,info@acme.com,,role,,,\n"
        b"Temp,x@mailinator.com,risky,disposable,x@mailinator.com,,disposable,,,\n"
        b"Ann again,ANN@acme.com,valid,syntax_ok,ANN@acme.com,,,,,\n"
    )
    assert "5 rows in, 4 written to stdout, 1 left out" in result.stderr


def test_validate_format_jsonl_on_stdout(tmp_path: Path) -> None:
    contacts(tmp_path)

    result = run_cli(
        "validate",
        "contacts.csv",
        "--checks",
        "syntax",
        "--format",
        "jsonl",
        cwd=tmp_path,
    )

    assert [row["row"] for row in result.jsonl()] == [1, 2, 3, 5]


def test_validate_format_from_output_extension(tmp_path: Path) -> None:
    contacts(tmp_path)

    result = run_cli(
        "validate",
        "contacts.csv",
        "--checks",
        "syntax",
        "-o",
        "clean.json",
        cwd=tmp_path,
    )

    assert result.rc == 0
    assert result.stdout == b""
    records = json.loads((tmp_path / "clean.json").read_bytes())
    assert [record["email"] for record in records] == [
        "ann@acme.com",
        "info@acme.com",
        "x@mailinator.com",
        "ANN@acme.com",
    ]
    assert sorted(os.listdir(tmp_path)) == ["clean.json", "contacts.csv"]


def test_validate_keep_from_environment(tmp_path: Path) -> None:
    contacts(tmp_path)

    result = run_cli(
        "validate",
        "contacts.csv",
        "--checks",
        "syntax",
        cwd=tmp_path,
        env={"EMAILCLEAN_KEEP": "invalid"},
    )

    assert first_cells(result.stdout) == ["name", "Bad"]


def test_validate_keep_option_beats_environment(tmp_path: Path) -> None:
    contacts(tmp_path)

    result = run_cli(
        "validate",
        "contacts.csv",
        "--checks",
        "syntax",
        "--keep",
        "valid",
        cwd=tmp_path,
        env={"EMAILCLEAN_KEEP": "invalid"},
    )

    assert first_cells(result.stdout) == ["name", "Ann", "Ann again"]


def test_validate_drop_flagged_and_dedupe(tmp_path: Path) -> None:
    contacts(tmp_path)

    result = run_cli(
        "validate",
        "contacts.csv",
        "--checks",
        "syntax",
        "--drop-flagged",
        "role,disposable",
        "--dedupe",
        cwd=tmp_path,
    )

    assert result.rc == 0
    assert first_cells(result.stdout) == ["name", "Ann"]
    assert "1 duplicate(s) dropped (--dedupe)." in result.stderr


def test_validate_split_dir_and_output_written(tmp_path: Path) -> None:
    contacts(tmp_path)

    result = run_cli(
        "validate",
        "contacts.csv",
        "--checks",
        "syntax",
        "-o",
        "clean.csv",
        "--split-dir",
        "parts",
        cwd=tmp_path,
    )

    assert result.rc == 0
    assert first_cells((tmp_path / "clean.csv").read_bytes())[1:] == [
        "Ann",
        "Info",
        "Temp",
        "Ann again",
    ]
    parts = tmp_path / "parts"
    assert first_cells((parts / "invalid.csv").read_bytes()) == ["name", "Bad"]
    assert first_cells((parts / "unknown.csv").read_bytes()) == ["name"]
    assert sorted(os.listdir(parts)) == [
        "invalid.csv",
        "risky.csv",
        "unknown.csv",
        "valid.csv",
    ]


def test_validate_force_replaces_existing_output(tmp_path: Path) -> None:
    contacts(tmp_path)
    (tmp_path / "clean.csv").write_bytes(b"old\n")

    result = run_cli(
        "validate",
        "contacts.csv",
        "--checks",
        "syntax",
        "-o",
        "clean.csv",
        "--force",
        cwd=tmp_path,
    )

    assert result.rc == 0
    assert (tmp_path / "clean.csv").read_bytes().startswith(b"name,email,status,")


def test_validate_stdin_kind_sniffed_gzip_and_delimiter(tmp_path: Path) -> None:
    data = gzip.compress(b"name;email\nAnn;ann@acme.com\n")

    result = run_cli("validate", "-", "--checks", "syntax", stdin=data)

    assert result.rc == 0
    assert result.stdout.splitlines() == [
        b"name;email;" + VERDICT_HEADER.replace(b",", b";"),
        b"Ann;ann@acme.com;valid;syntax_ok;ann@acme.com;;;;;",
    ]


def test_validate_txt_stdin_txt_out(tmp_path: Path) -> None:
    data = b"\xef\xbb\xbfAnn <ann@acme.com>\r\n\r\nbob@acme.com\r\nnope\r\n"

    result = run_cli("validate", "-", "--checks", "syntax", stdin=data)

    assert result.stdout == b"ann@acme.com\nbob@acme.com\n"
    assert "1 blank line(s) skipped." in result.stderr


def test_validate_latin1_encoding_output_in_utf8(tmp_path: Path) -> None:
    (tmp_path / "people.csv").write_bytes(
        "name,email\nJosé,jose@acme.com\n".encode("latin-1")
    )

    result = run_cli(
        "validate",
        "people.csv",
        "--checks",
        "syntax",
        "--encoding",
        "latin-1",
        cwd=tmp_path,
    )

    assert result.rc == 0
    assert result.stdout.splitlines()[1] == (
        "José,jose@acme.com,valid,syntax_ok,jose@acme.com,,,,,".encode()
    )


def test_validate_pipe_closed_early_quiet_exit_141(tmp_path: Path) -> None:
    big = tmp_path / "big.csv"
    big.write_bytes(
        b"name,email\n"
        + b"".join(b"n%d,user%d@acme.com\n" % (n, n) for n in range(60_000))
    )
    with open(tmp_path / "stderr", "wb") as stderr:
        child = subprocess.Popen(
            cli_command("validate", str(big), "--checks", "syntax"),
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=cli_env(),
        )
        assert child.stdout is not None
        first = child.stdout.readline()
        child.stdout.close()  # what `| head -1` does
        rc = child.wait(timeout=60)

    assert first == b"name,email," + VERDICT_HEADER + b"\n"
    assert rc == 141
    assert (tmp_path / "stderr").read_text() == ""
