"""The Python API as README's "From Python" section shows it (syntax only)."""

from __future__ import annotations

from pathlib import Path

import pytest

import emailclean.api
from emailclean.api import Check, JobConfig, Status, check_addresses, validate_file
from emailclean.errors import InputError, UsageError
from emailclean.models import Flag, Reason

SYNTAX_ONLY = frozenset({Check.SYNTAX})


def test_validate_file_readme_example_writes_output_and_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("contacts.csv").write_bytes(
        b"name,email\nAnn,ann@gmail.com\nBob,bob@gmial.com\nCy,nope\n"
    )

    summary = validate_file(
        JobConfig("contacts.csv", output="clean.csv", force=True, checks=SYNTAX_ONLY)
    )

    assert summary.rows_in == 3
    assert summary.rows_written == 2
    assert dict(summary.counts) == {
        (Status.VALID, Reason.SYNTAX_OK): 1,
        (Status.RISKY, Reason.DISPOSABLE): 1,
        (Status.INVALID, Reason.BAD_SYNTAX): 1,
    }
    assert Path("clean.csv").read_bytes().splitlines()[1:] == [
        b"Ann,ann@gmail.com,valid,syntax_ok,ann@gmail.com,,free,,,",
        (
            b"Bob,bob@gmial.com,risky,disposable,bob@gmial.com,bob@gmail.com,"
            b"disposable,,,"
        ),
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clean.csv", "contacts.csv"]


def test_validate_file_progress_reports_rows(tmp_path: Path) -> None:
    source = tmp_path / "list.txt"
    source.write_bytes(b"ann@acme.com\nbob@acme.com\n")
    reports: list[tuple[int, int]] = []

    validate_file(
        JobConfig(str(source), output=str(tmp_path / "out.txt"), checks=SYNTAX_ONLY),
        progress=lambda rows, bytes_read: reports.append((rows, bytes_read)),
    )

    assert reports[-1] == (2, 26)


def test_validate_file_missing_input_raises_input_error(tmp_path: Path) -> None:
    missing = tmp_path / "missing.csv"

    with pytest.raises(InputError) as caught:
        validate_file(
            JobConfig(str(missing), output=str(tmp_path / "o.csv"), checks=SYNTAX_ONLY)
        )

    assert (caught.value.path, caught.value.line) == (str(missing), None)
    assert caught.value.exit_code == 1
    assert not (tmp_path / "o.csv").exists()


def test_check_addresses_readme_example_verdicts_in_order() -> None:
    syntax_only = JobConfig("-", checks=SYNTAX_ONLY)

    verdicts = check_addresses(["ann@gmail.com", "bob@gmial.com", "x"], syntax_only)

    assert [(v.status, v.reason, v.suggestion) for v in verdicts] == [
        (Status.VALID, Reason.SYNTAX_OK, None),
        (Status.RISKY, Reason.DISPOSABLE, "bob@gmail.com"),
        (Status.INVALID, Reason.BAD_SYNTAX, None),
    ]
    assert verdicts[0].flags == {Flag.FREE}
    assert verdicts[2].message == "The address has no @-sign."


def test_check_addresses_empty_list_empty_result() -> None:
    assert check_addresses([], JobConfig("-", checks=SYNTAX_ONLY)) == []


def test_job_config_without_syntax_usage_error() -> None:
    with pytest.raises(UsageError, match="--checks must include syntax"):
        JobConfig("-", checks=frozenset({Check.DNS}))


def test_api_all_names_importable() -> None:
    for name in emailclean.api.__all__:
        assert hasattr(emailclean.api, name), name
