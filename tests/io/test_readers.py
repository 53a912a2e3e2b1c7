"""Readers: TXT and CSV sniffing, line endings, quoting, encodings, gzip."""

from __future__ import annotations

import gzip
import io
from collections.abc import Callable
from pathlib import Path

import pytest

from emailclean.errors import InputError, UsageError
from emailclean.io import readers
from emailclean.io.readers import ListReader, Record, open_input


def read_all(
    data: bytes, name: str = "list.csv", **options: str | None
) -> tuple[ListReader, list[Record]]:
    """Every record of `data`, and the reader (for its format and counters).

    The kind comes from `name`'s extension, as the pipeline does it.
    """
    kind = {"csv": "csv", "tsv": "tsv", "txt": "txt"}.get(name.rsplit(".", 1)[-1])
    options.setdefault("kind_hint", kind)
    reader = ListReader(io.BytesIO(data), name, **options)  # type: ignore[arg-type]
    records = [record for batch in reader.batches() for record in batch]
    return reader, records


def cells(records: list[Record]) -> list[str]:
    return [record.cell for record in records]


# -- TXT ------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"ann@acme.com\nbob@acme.com\n", id="lf"),
        pytest.param(b"ann@acme.com\r\nbob@acme.com\r\n", id="crlf"),
        pytest.param(b"ann@acme.com\rbob@acme.com\r", id="cr"),
        pytest.param(b"ann@acme.com\nbob@acme.com", id="no-trailing-newline"),
        pytest.param(b"\xef\xbb\xbfann@acme.com\nbob@acme.com\n", id="utf8-bom"),
    ],
)
def test_txt_reader_any_line_ending_same_cells(data: bytes) -> None:
    reader, records = read_all(data, "list.txt")

    assert reader.format.kind == "txt"
    assert cells(records) == ["ann@acme.com", "bob@acme.com"]
    assert [record.raw for record in records] == ["ann@acme.com", "bob@acme.com"]


def test_txt_reader_blank_lines_skipped_and_counted() -> None:
    reader, records = read_all(b"ann@acme.com\n\n   \nbob@acme.com\n\n", "list.txt")

    assert cells(records) == ["ann@acme.com", "bob@acme.com"]
    assert [record.index for record in records] == [1, 2]
    assert [record.line for record in records] == [1, 4]
    assert reader.blank_lines == 3


def test_txt_reader_display_name_and_whitespace_kept_in_cell() -> None:
    _, records = read_all(b"  Ann Lee <ann@acme.com>\t\n", "list.txt")

    assert cells(records) == ["  Ann Lee <ann@acme.com>\t"]


def test_txt_reader_undecodable_line_is_a_row_problem() -> None:
    _, records = read_all(b"ann@acme.com\n\xff\xfe@acme.com\nbob@acme.com\n", "l.txt")

    assert [record.problem for record in records] == [
        None,
        "the row has bytes that are not valid in the input encoding",
        None,
    ]
    # The raw text still holds the original bytes, for a faithful copy.
    assert records[1].raw.encode("utf-8", "surrogateescape") == b"\xff\xfe@acme.com"


def test_txt_reader_nul_byte_is_a_row_problem() -> None:
    _, records = read_all(b"ann@acme.com\nb\x00b@acme.com\n", "list.txt")

    assert records[1].problem == "the row contains NUL bytes"


# -- CSV: delimiters, header, column --------------------------------------


@pytest.mark.parametrize(
    "delimiter",
    [
        pytest.param(",", id="comma"),
        pytest.param(";", id="semicolon"),
        pytest.param("\t", id="tab"),
        pytest.param("|", id="pipe"),
    ],
)
def test_csv_reader_delimiter_sniffed(delimiter: str) -> None:
    text = "\n".join(
        delimiter.join(row)
        for row in [
            ("name", "email", "city"),
            ("Ann", "ann@acme.com", "Oslo"),
            ("Bob", "bob@acme.com", "Rome"),
        ]
    )
    reader, records = read_all(text.encode() + b"\n", "list.csv")

    assert reader.format.delimiter == delimiter
    assert reader.format.header == ["name", "email", "city"]
    assert cells(records) == ["ann@acme.com", "bob@acme.com"]
    assert records[0].fields == ["Ann", "ann@acme.com", "Oslo"]


def test_csv_reader_utf8_bom_not_part_of_header_name() -> None:
    reader, records = read_all(b"\xef\xbb\xbfEmail,name\r\nann@acme.com,Ann\r\n")

    assert reader.format.header == ["Email", "name"]
    assert reader.format.column == 0
    assert cells(records) == ["ann@acme.com"]


def test_csv_reader_no_header_first_row_is_data() -> None:
    reader, records = read_all(b"Ann,ann@acme.com\nBob,bob@acme.com\n")

    assert reader.format.header is None
    assert reader.format.column == 1
    assert cells(records) == ["ann@acme.com", "bob@acme.com"]
    assert [record.index for record in records] == [1, 2]


def test_csv_reader_header_name_beats_content() -> None:
    data = b"owner,email\nann@acme.com,bob@acme.com\ncy@acme.com,dee@acme.com\n"

    reader, records = read_all(data)

    assert reader.format.column == 1
    assert cells(records) == ["bob@acme.com", "dee@acme.com"]


@pytest.mark.parametrize(
    "title",
    [
        pytest.param("Email", id="capitalised"),
        pytest.param("E-mail", id="hyphenated"),
        pytest.param("email_address", id="email-address"),
        pytest.param("Courriel", id="french"),
    ],
)
def test_csv_reader_email_like_header_chosen(title: str) -> None:
    data = f"name,notes,{title}\nAnn,call me,\nBob,,bob@acme.com\n".encode()

    reader, _ = read_all(data)

    assert reader.format.column == 2


def test_csv_reader_no_email_header_column_found_by_content() -> None:
    data = b"a,b,c\n1,x,\n2,y,bob@acme.com\n"

    reader, records = read_all(data)

    assert reader.format.header == ["a", "b", "c"]
    assert reader.format.column == 2
    assert cells(records) == ["", "bob@acme.com"]


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        pytest.param("work", ["ann@work.com"], id="by-name"),
        pytest.param("3", ["ann@work.com"], id="by-number-from-1"),
        pytest.param("1", ["Ann"], id="number-1-is-first"),
    ],
)
def test_csv_reader_column_option_chooses_column(
    column: str, expected: list[str]
) -> None:
    data = b"name,home,work\nAnn,ann@home.com,ann@work.com\n"

    _, records = read_all(data, column=column)

    assert cells(records) == expected


def test_csv_reader_unknown_column_name_usage_error() -> None:
    with pytest.raises(UsageError) as caught:
        read_all(b"name,email\nAnn,ann@acme.com\n", column="mail")

    assert str(caught.value) == (
        "--column mail: no such column (the header has: name, email)"
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(
            b"name,email\nAnn,ann@acme.com\n",
            "--column 3: there is no such column; the input has 2 column(s) "
            "(name, email)",
            id="with-header",
        ),
        pytest.param(
            b"Ann,ann@acme.com\nBob,bob@acme.com\n",
            "--column 3: there is no such column; the input has 2 column(s)",
            id="without-header",
        ),
    ],
)
def test_csv_reader_column_number_past_last_usage_error(
    data: bytes, message: str
) -> None:
    with pytest.raises(UsageError) as caught:
        read_all(data, column="3")

    assert str(caught.value) == message


def test_csv_reader_no_address_column_input_error() -> None:
    with pytest.raises(InputError) as caught:
        read_all(b"name,city\nAnn,Oslo\nBob,Rome\n", "people.csv")

    assert str(caught.value) == (
        "people.csv:1: no column holds email addresses; name one with "
        "--column NAME or --column NUMBER"
    )


def test_txt_reader_column_option_usage_error() -> None:
    with pytest.raises(UsageError, match="--column applies to CSV input"):
        read_all(b"ann@acme.com\n", "list.txt", kind_hint="txt", column="1")


# -- CSV: quoting and ragged rows ------------------------------------------


def test_csv_reader_quoted_comma_one_field() -> None:
    data = b'name,email\n"Lee, Ann",ann@acme.com\n'

    _, records = read_all(data)

    assert records[0].fields == ["Lee, Ann", "ann@acme.com"]
    assert records[0].raw == '"Lee, Ann",ann@acme.com'


def test_csv_reader_quoted_newline_one_record_raw_kept() -> None:
    data = b'name,email,note\nAnn,ann@acme.com,"two\nlines"\nBob,bob@acme.com,\n'

    _, records = read_all(data)

    assert [record.fields for record in records] == [
        ["Ann", "ann@acme.com", "two\nlines"],
        ["Bob", "bob@acme.com", ""],
    ]
    assert records[0].raw == 'Ann,ann@acme.com,"two\nlines"'
    assert [record.line for record in records] == [2, 4]


def test_csv_reader_crlf_inside_quoted_field_raw_byte_faithful() -> None:
    data = b'name,email,note\r\nAnn,ann@acme.com,"two\r\nlines"\r\n'

    _, records = read_all(data)

    assert records[0].raw == 'Ann,ann@acme.com,"two\r\nlines"'


def test_csv_reader_ragged_rows_counted_missing_cell_is_problem() -> None:
    data = b"name,email\nAnn,ann@acme.com,extra\nBob\nCy,cy@acme.com\n"

    reader, records = read_all(data)

    assert [record.fields for record in records] == [
        ["Ann", "ann@acme.com", "extra"],
        ["Bob"],
        ["Cy", "cy@acme.com"],
    ]
    assert reader.ragged_rows == 2
    assert records[1].problem == (
        "the row has 1 column(s); the address column is number 2"
    )


def test_csv_reader_unclosed_quote_input_error_names_line() -> None:
    data = b'name,email\nAnn,ann@acme.com\nBob,"bob@acme.com\nCy,cy@acme.com\n'

    with pytest.raises(InputError) as caught:
        read_all(data, "people.csv")

    assert str(caught.value) == (
        "people.csv:3: a quoted field opened on this line never closes (unclosed quote)"
    )


def test_csv_reader_quote_inside_unquoted_field_tolerated() -> None:
    _, records = read_all(b'name,email\n5" screen,ann@acme.com\n')

    assert records[0].fields == ['5" screen', "ann@acme.com"]


# -- kinds, encodings, gzip ------------------------------------------------


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        pytest.param(b"name,email\nAnn,ann@acme.com\n", "csv", id="csv"),
        pytest.param(b"name;email\nAnn;ann@acme.com\n", "csv", id="semicolon-csv"),
        pytest.param(b"ann@acme.com\nbob@acme.com\n", "txt", id="one-a-line"),
        pytest.param(b"Ann Lee <ann@acme.com>\n", "txt", id="display-name-line"),
        pytest.param(b"", "txt", id="empty"),
    ],
)
def test_reader_no_extension_kind_sniffed_from_content(data: bytes, kind: str) -> None:
    reader, _ = read_all(data, "<stdin>")

    assert reader.format.kind == kind


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(
            b'name,email,note\nAnn,ann@acme.com,"two\nlines"\nBob,bob@acme.com,\n',
            id="quoted-newline",
        ),
        pytest.param(
            b"name,email\nAnn,ann@acme.com\nBob\nCy,cy@acme.com\n"
            b"Dee,dee@acme.com\nEd,ed@acme.com\n",
            id="one-short-row",
        ),
    ],
)
def test_reader_no_extension_csv_with_irregular_lines_sniffed_csv(data: bytes) -> None:
    reader, records = read_all(data, "<stdin>")

    assert reader.format.kind == "csv"
    assert reader.format.header is not None
    assert records[0].cell == "ann@acme.com"


def test_csv_reader_tabs_inside_quoted_cells_comma_still_chosen() -> None:
    data = (
        b'email,name,city,note\nann@acme.com,,"\t\r\t",","\nbob@acme.com,,,"\t\r\t"\n'
    )

    reader, records = read_all(data)

    assert reader.format.delimiter == ","
    assert cells(records) == ["ann@acme.com", "bob@acme.com"]


def test_reader_no_extension_txt_with_a_comma_line_stays_txt() -> None:
    data = b"".join(f"user{n}@acme.com\n".encode() for n in range(9))
    data += b"Lee, Ann <ann@acme.com>\n"

    reader, records = read_all(data, "<stdin>")

    assert reader.format.kind == "txt"
    assert len(records) == 10


def test_reader_line_over_record_limit_input_error_names_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(readers, "MAX_RECORD_BYTES", 1000)
    monkeypatch.setattr(readers, "CHUNK_SIZE", 256)
    # Past the sniffed head, so it arrives chunk by chunk with no end in sight.
    data = b"ann@acme.com\n" * 6000 + b"x" * 5000 + b"\ncy@acme.com\n"

    with pytest.raises(InputError) as caught:
        read_all(data, "list.txt")

    assert str(caught.value) == "list.txt:6001: has a line longer than 64 MiB"


def test_reader_latin1_encoding_decodes_row() -> None:
    data = "name,email\nJosé,jose@acme.com\n".encode("latin-1")

    _, records = read_all(data, encoding="latin-1")

    assert records[0].fields == ["José", "jose@acme.com"]
    assert records[0].problem is None


def test_reader_latin1_bytes_read_as_utf8_row_problem() -> None:
    data = "name,email\nJosé,jose@acme.com\n".encode("latin-1")

    _, records = read_all(data)

    assert records[0].cell == "jose@acme.com"
    assert records[0].problem == (
        "the row has bytes that are not valid in the input encoding"
    )


def test_reader_unknown_encoding_usage_error() -> None:
    with pytest.raises(UsageError) as caught:
        read_all(b"ann@acme.com\n", encoding="klingon-8")

    assert str(caught.value) == "unknown encoding 'klingon-8'"


def test_reader_utf16_input_error_says_how_to_convert() -> None:
    data = "ann@acme.com\n".encode("utf-16")

    with pytest.raises(InputError, match="is UTF-16 encoded; convert it first"):
        read_all(data, "list.txt")


def test_reader_binary_data_input_error() -> None:
    data = bytes(range(256)) * 8

    with pytest.raises(InputError) as caught:
        read_all(data, "photo.txt")

    assert str(caught.value) == (
        "photo.txt: does not look like a text list (binary data at byte 0)"
    )


def test_open_input_gzip_by_extension(tmp_path: Path) -> None:
    path = tmp_path / "list.txt.gz"
    path.write_bytes(gzip.compress(b"ann@acme.com\nbob@acme.com\n"))

    with open_input(str(path)) as stream:
        _, records = read_all(stream.read(), str(path))

    assert cells(records) == ["ann@acme.com", "bob@acme.com"]


def test_open_input_gzip_by_magic_without_extension(tmp_path: Path) -> None:
    path = tmp_path / "list"
    path.write_bytes(gzip.compress(b"ann@acme.com\n"))

    with open_input(str(path)) as stream:
        assert stream.read() == b"ann@acme.com\n"


def test_reader_truncated_gzip_input_error(tmp_path: Path) -> None:
    path = tmp_path / "list.txt.gz"
    path.write_bytes(gzip.compress(b"ann@acme.com\n" * 1000)[:40])

    with (
        pytest.raises(InputError, match="the gzip data is truncated or corrupt"),
        open_input(str(path)) as stream,
    ):
        ListReader(stream, str(path))


def test_open_input_gzip_close_closes_file(tmp_path: Path) -> None:
    path = tmp_path / "list.txt.gz"
    path.write_bytes(gzip.compress(b"ann@acme.com\n"))

    stream = open_input(str(path))
    source = stream.fileobj  # type: ignore[attr-defined]
    stream.close()

    assert source.closed


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        pytest.param(lambda p: p, "no such file", id="missing"),
        pytest.param(
            lambda p: (p.mkdir(), p)[1],
            "is a directory, not a list file",
            id="directory",
        ),
    ],
)
def test_open_input_unopenable_input_error(
    tmp_path: Path, make: Callable[[Path], Path], problem: str
) -> None:
    path = make(tmp_path / "list.csv")

    with pytest.raises(InputError) as caught:
        open_input(str(path))

    assert str(caught.value) == f"{path}: {problem}"
