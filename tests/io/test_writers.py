"""Writers: what each output format holds, through the API with syntax only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emailclean.api import JobConfig, validate_file
from emailclean.errors import UsageError
from emailclean.models import Check, Flag, Status
from emailclean.pipeline import JobSummary

SYNTAX_ONLY = frozenset({Check.SYNTAX})
EVERY_STATUS = frozenset(Status)
VERDICT_HEADER = "status,reason,normalized,suggestion,flags,mx,smtp_code,smtp_reply"
JSON_KEYS = {
    "row",
    "email",
    "normalized",
    "status",
    "reason",
    "message",
    "flags",
    "suggestion",
    "mx",
    "smtp",
    "fields",
}


def run(
    tmp_path: Path,
    data: bytes,
    *,
    name: str = "in.csv",
    output: str = "out.csv",
    **options: object,
) -> tuple[JobSummary, bytes]:
    """Run a syntax-only job over `data`; the summary and the output's bytes."""
    source = tmp_path / name
    source.write_bytes(data)
    target = tmp_path / output
    options.setdefault("keep", EVERY_STATUS)
    config = JobConfig(
        input=str(source), output=str(target), checks=SYNTAX_ONLY, **options
    )  # type: ignore[arg-type]
    summary = validate_file(config)
    return summary, target.read_bytes()


def lines(data: bytes) -> list[str]:
    return data.decode("utf-8").splitlines()


# -- CSV ---------------------------------------------------------------------


def test_csv_writer_input_columns_byte_for_byte_then_verdict_columns(
    tmp_path: Path,
) -> None:
    data = (
        b'"Name" , Email ,note\r\n'
        b'"Lee, Ann",ann@acme.com,"said ""hi"""\r\n'
        b"Bob , bob@acme.com ,  \r\n"
    )

    _, out = run(tmp_path, data, column="2")

    assert out.split(b"\r\n") == [
        b'"Name" , Email ,note,' + VERDICT_HEADER.encode(),
        b'"Lee, Ann",ann@acme.com,"said ""hi""",valid,syntax_ok,ann@acme.com,,,,,',
        b"Bob , bob@acme.com ,  ,valid,syntax_ok,bob@acme.com,,,,,",
        b"",
    ]


@pytest.mark.parametrize(
    "delimiter",
    [
        pytest.param(";", id="semicolon"),
        pytest.param("\t", id="tab"),
        pytest.param("|", id="pipe"),
    ],
)
def test_csv_writer_verdict_columns_use_input_delimiter(
    tmp_path: Path, delimiter: str
) -> None:
    data = f"name{delimiter}email\nAnn{delimiter}ann@acme.com\n".encode()

    _, out = run(tmp_path, data)

    assert lines(out)[1] == delimiter.join(
        [
            "Ann",
            "ann@acme.com",
            "valid",
            "syntax_ok",
            "ann@acme.com",
            "",
            "",
            "",
            "",
            "",
        ]
    )


def test_csv_writer_taken_column_name_gets_prefix(tmp_path: Path) -> None:
    data = b"email,status,flags\nann@acme.com,customer,x\n"

    _, out = run(tmp_path, data)

    assert lines(out)[0] == (
        "email,status,flags,emailclean_status,reason,normalized,suggestion,"
        "emailclean_flags,mx,smtp_code,smtp_reply"
    )


def test_csv_writer_no_input_header_no_output_header(tmp_path: Path) -> None:
    _, out = run(tmp_path, b"Ann,ann@acme.com\nBob,bob@acme.com\n")

    assert lines(out) == [
        "Ann,ann@acme.com,valid,syntax_ok,ann@acme.com,,,,,",
        "Bob,bob@acme.com,valid,syntax_ok,bob@acme.com,,,,,",
    ]


def test_csv_writer_txt_input_email_column_first(tmp_path: Path) -> None:
    data = b"Ann <ann@gmial.com>\n"

    _, out = run(tmp_path, data, name="in.txt", output="out.csv")

    assert lines(out) == [
        "email," + VERDICT_HEADER,
        (
            "Ann <ann@gmial.com>,risky,disposable,ann@gmial.com,ann@gmail.com,"
            "disposable,,,"
        ),
    ]


def test_csv_writer_ragged_rows_padded_so_verdicts_line_up(tmp_path: Path) -> None:
    data = b"name,email,city\nAnn,ann@acme.com\nBob,bob@acme.com,Rome\n"

    _, out = run(tmp_path, data)

    assert lines(out)[1:] == [
        "Ann,ann@acme.com,,valid,syntax_ok,ann@acme.com,,,,,",
        "Bob,bob@acme.com,Rome,valid,syntax_ok,bob@acme.com,,,,,",
    ]


def test_csv_writer_no_header_short_rows_padded_to_usual_width(
    tmp_path: Path,
) -> None:
    data = b"Ann,ann@acme.com,Oslo\nBob,bob@acme.com\nCy,cy@acme.com,Rome\n"

    _, out = run(tmp_path, data)

    assert lines(out) == [
        "Ann,ann@acme.com,Oslo,valid,syntax_ok,ann@acme.com,,,,,",
        "Bob,bob@acme.com,,valid,syntax_ok,bob@acme.com,,,,,",
        "Cy,cy@acme.com,Rome,valid,syntax_ok,cy@acme.com,,,,,",
    ]


def test_csv_writer_flags_joined_in_fixed_order(tmp_path: Path) -> None:
    _, out = run(tmp_path, b"email\ninfo@gmail.com\n")

    assert (
        lines(out)[1]
        == "info@gmail.com,risky,role_account,info@gmail.com,,role;free,,,"
    )


@pytest.mark.parametrize(
    "address",
    [
        pytest.param("=ann@acme.com", id="equals"),
        pytest.param("+ann@acme.com", id="plus"),
        pytest.param("-ann@acme.com", id="minus"),
    ],
)
def test_csv_writer_own_cells_never_start_with_formula_char(
    tmp_path: Path, address: str
) -> None:
    _, out = run(tmp_path, f"email\n{address}\n".encode())

    assert lines(out)[1] == f"{address},valid,syntax_ok,'{address},,,,,"


def test_csv_writer_excel_safe_defuses_input_cells(tmp_path: Path) -> None:
    data = b'name,email,note\n=1+1,ann@acme.com,@SUM(A1)\n"+1",bob@acme.com,-2\n'

    _, out = run(tmp_path, data, excel_safe=True)

    assert lines(out)[1:] == [
        "'=1+1,ann@acme.com,'@SUM(A1),valid,syntax_ok,ann@acme.com,,,,,",
        "'+1,bob@acme.com,'-2,valid,syntax_ok,bob@acme.com,,,,,",
    ]


def test_csv_writer_without_excel_safe_input_cells_untouched(tmp_path: Path) -> None:
    _, out = run(tmp_path, b"name,email\n=1+1,ann@acme.com\n")

    assert lines(out)[1].startswith("=1+1,ann@acme.com,")


def test_csv_writer_undecodable_row_bytes_kept(tmp_path: Path) -> None:
    data = b"name,email\nJos\xe9,jose@acme.com\n"

    _, out = run(tmp_path, data)

    assert out.splitlines()[1] == (b"Jos\xe9,jose@acme.com,invalid,unreadable,,,,,,")


# -- JSON Lines and JSON ---------------------------------------------------


def test_jsonl_writer_record_has_exactly_design_keys(tmp_path: Path) -> None:
    data = b"name,email\nAnn,Ann.Lee@GMIAL.com\n"

    _, out = run(tmp_path, data, output="out.jsonl")

    (record,) = [json.loads(line) for line in lines(out)]
    assert set(record) == JSON_KEYS
    assert record == {
        "row": 1,
        "email": "Ann.Lee@GMIAL.com",
        "normalized": "Ann.Lee@gmial.com",
        "status": "risky",
        "reason": "disposable",
        "message": "The domain is a disposable-address service. "
        "Did you mean Ann.Lee@gmail.com?",
        "flags": {
            "disposable": True,
            "role": False,
            "free": False,
            "catch_all": False,
            "duplicate": False,
            "smtputf8": False,
        },
        "suggestion": "Ann.Lee@gmail.com",
        "mx": None,
        "smtp": None,
        "fields": {"name": "Ann", "email": "Ann.Lee@GMIAL.com"},
    }


def test_jsonl_writer_no_header_fields_named_by_position(tmp_path: Path) -> None:
    _, out = run(tmp_path, b"Ann,ann@acme.com\n", output="out.jsonl")

    assert json.loads(out)["fields"] == {"1": "Ann", "2": "ann@acme.com"}


def test_jsonl_writer_row_counts_data_rows_only(tmp_path: Path) -> None:
    data = b"email\na@acme.com\n\nb@acme.com\nnot-an-address\n"

    _, out = run(tmp_path, data, output="out.jsonl")

    records = [json.loads(line) for line in lines(out)]
    assert [(r["row"], r["status"]) for r in records] == [
        (1, "valid"),
        (2, "valid"),
        (3, "invalid"),
    ]


def test_jsonl_writer_email_is_cell_exactly_as_given(tmp_path: Path) -> None:
    data = b"  Ann <ann@acme.com> \n"

    _, out = run(tmp_path, data, name="in.txt", output="out.jsonl")

    record = json.loads(out)
    assert record["email"] == "  Ann <ann@acme.com> "
    assert record["normalized"] == "ann@acme.com"


def test_jsonl_writer_unreadable_row_message_names_line(tmp_path: Path) -> None:
    data = b"email\nann@acme.com\n\xff\xfe@acme.com\n"

    _, out = run(tmp_path, data, output="out.jsonl")

    record = json.loads(lines(out)[1])
    assert (record["status"], record["reason"]) == ("invalid", "unreadable")
    assert record["message"] == (
        "Line 3: the row has bytes that are not valid in the input encoding."
    )
    assert record["email"] == "\ufffd\ufffd@acme.com"


def test_json_writer_output_parses_as_one_array(tmp_path: Path) -> None:
    data = b"email\nann@acme.com\nbad\n"

    run(tmp_path, data, output="out.json")

    with open(tmp_path / "out.json", encoding="utf-8") as stream:
        records = json.load(stream)
    assert [record["email"] for record in records] == ["ann@acme.com", "bad"]
    assert all(set(record) == JSON_KEYS for record in records)


def test_json_writer_no_rows_empty_array(tmp_path: Path) -> None:
    _, out = run(tmp_path, b"email\n", output="out.json")

    assert json.loads(out) == []


# -- TXT -------------------------------------------------------------------


def test_txt_writer_one_address_a_line(tmp_path: Path) -> None:
    data = b"name,email\nAnn,Ann Lee <ann@acme.com>\nBob, bob@acme.com \n"

    _, out = run(tmp_path, data, output="out.txt")

    assert out == b"ann@acme.com\nbob@acme.com\n"


# -- which rows go where ---------------------------------------------------

MIXED = (
    b"email\n"
    b"ann@acme.com\n"  # valid
    b"info@acme.com\n"  # risky/role_account
    b"x@mailinator.com\n"  # risky/disposable
    b"not-an-address\n"  # invalid/bad_syntax
    b"bob@example.com\n"  # invalid/reserved_domain
)


def test_writer_default_keep_drops_only_invalid(tmp_path: Path) -> None:
    summary, out = run(tmp_path, MIXED, keep=JobConfig("-").keep)

    assert lines(out)[1:] == [
        "ann@acme.com,valid,syntax_ok,ann@acme.com,,,,,",
        "info@acme.com,risky,role_account,info@acme.com,,role,,,",
        "x@mailinator.com,risky,disposable,x@mailinator.com,,disposable,,,",
    ]
    assert (summary.rows_in, summary.rows_written) == (5, 3)


def test_writer_keep_valid_only(tmp_path: Path) -> None:
    _, out = run(tmp_path, MIXED, keep=frozenset({Status.VALID}))

    assert [line.split(",")[0] for line in lines(out)[1:]] == ["ann@acme.com"]


def test_writer_drop_flagged_role_disposable(tmp_path: Path) -> None:
    _, out = run(tmp_path, MIXED, drop_flagged=frozenset({Flag.ROLE, Flag.DISPOSABLE}))

    assert [line.split(",")[0] for line in lines(out)[1:]] == [
        "ann@acme.com",
        "not-an-address",
        "bob@example.com",
    ]


def test_writer_every_status_kept_rows_in_equal_rows_out(tmp_path: Path) -> None:
    data = MIXED + b"\xff@acme.com\nc\x00@acme.com\n"

    summary, out = run(tmp_path, data)

    assert summary.rows_in == summary.rows_written == 7
    assert len(out.splitlines()) == 1 + 7


def test_writer_split_dir_four_files_by_status(tmp_path: Path) -> None:
    split = tmp_path / "split"

    run(tmp_path, MIXED, split_dir=str(split))

    assert sorted(path.name for path in split.iterdir()) == [
        "invalid.csv",
        "risky.csv",
        "unknown.csv",
        "valid.csv",
    ]

    def emails(status: str) -> list[str]:
        rows = lines((split / f"{status}.csv").read_bytes())
        assert rows[0] == "email," + VERDICT_HEADER
        return [row.split(",")[0] for row in rows[1:]]

    assert emails("valid") == ["ann@acme.com"]
    assert emails("risky") == ["info@acme.com", "x@mailinator.com"]
    assert emails("invalid") == ["not-an-address", "bob@example.com"]
    assert emails("unknown") == []


def test_writer_dedupe_later_duplicates_dropped(tmp_path: Path) -> None:
    data = b"email\nann@acme.com\nbob@acme.com\nANN@Acme.com\nann@ACME.COM\n"

    summary, out = run(tmp_path, data, dedupe=True)

    assert [line.split(",")[0] for line in lines(out)[1:]] == [
        "ann@acme.com",
        "bob@acme.com",
    ]
    assert summary.duplicates == 2


def test_writer_dedupe_off_duplicates_kept_unflagged(tmp_path: Path) -> None:
    _, out = run(tmp_path, b"email\nann@acme.com\nann@acme.com\n", output="o.jsonl")

    records = [json.loads(line) for line in lines(out)]
    assert [record["flags"]["duplicate"] for record in records] == [False, False]


# -- the output file itself ------------------------------------------------


def test_writer_output_same_as_input_refused(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(b"email\nann@acme.com\n")

    with pytest.raises(UsageError) as caught:
        JobConfig(input=str(source), output=str(tmp_path / "." / "in.csv"))

    assert str(caught.value) == (
        f"the output {tmp_path / '.' / 'in.csv'} is the input; choose another -o path"
    )
    assert source.read_bytes() == b"email\nann@acme.com\n"


def test_writer_existing_output_refused_without_force(tmp_path: Path) -> None:
    (tmp_path / "out.csv").write_bytes(b"precious\n")

    with pytest.raises(UsageError) as caught:
        run(tmp_path, b"email\nann@acme.com\n")

    assert str(caught.value) == (
        f"{tmp_path / 'out.csv'} already exists; add --force to overwrite it"
    )
    assert (tmp_path / "out.csv").read_bytes() == b"precious\n"


def test_writer_existing_output_replaced_with_force(tmp_path: Path) -> None:
    (tmp_path / "out.csv").write_bytes(b"precious\n")

    _, out = run(tmp_path, b"email\nann@acme.com\n", force=True)

    assert lines(out)[0] == "email," + VERDICT_HEADER


def test_writer_output_appears_only_when_complete(tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_bytes(b"".join(b"user%d@acme.com\n" % n for n in range(3000)))
    final = tmp_path / "out.csv"
    partial = tmp_path / "out.csv.partial"
    seen: list[tuple[bool, bool]] = []

    def progress(rows: int, bytes_read: int) -> None:
        seen.append((partial.exists(), final.exists()))

    validate_file(
        JobConfig(input=str(source), output=str(final), checks=SYNTAX_ONLY),
        progress=progress,
    )

    assert seen and all(state == (True, False) for state in seen)
    assert final.exists() and not partial.exists()
    assert len(lines(final.read_bytes())) == 3001
