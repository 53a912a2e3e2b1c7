"""Properties: syntax agrees with email-validator; jobs keep every row intact.

The job properties run the real API on generated files, syntax checks only,
keeping every status, so the output must hold every input row, in order,
with the input's columns byte for byte.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path

import email_validator
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emailclean.api import JobConfig, validate_file
from emailclean.checks.syntax import check_address
from emailclean.errors import EmailcleanError
from emailclean.models import Check, Reason, Status
from emailclean.pipeline import JobSummary

SYNTAX_ONLY = frozenset({Check.SYNTAX})
EVERY_STATUS = frozenset(Status)
JOB_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# -- syntax: differential against email-validator ------------------------------

_LOCAL_ALPHABET = st.sampled_from(
    list("abcdefXYZ019.+-_") * 4
    + list("!#$%&'*/=?^`{|}~\" \\@(),:;<>[]\t")
    + ["é", "ß", "Å", "中", "\u0301", "ﬁ"]
)
_LABEL_ALPHABET = st.sampled_from(
    list("abcdefz019") * 4 + ["-", "_", "ü", "ß", "İ", "中", "ﬁ"]
)
_TLDS = st.sampled_from(
    [
        "com",
        "de",
        "org",
        "c0m",
        "123",
        "xn--p1ai",
        "рф",
        "test",
        "example",
        "local",
        "onion",
        "invalid",
        "",
        "a",
    ]
)
_DOMAINS = st.one_of(
    st.builds(
        lambda labels, tld: ".".join([*labels, tld]),
        st.lists(st.text(_LABEL_ALPHABET, max_size=66), max_size=4),
        _TLDS,
    ),
    st.sampled_from(
        [
            "example.com",
            "Example.ORG",
            "sub.example.net",
            "münchen.de",
            "xn--mnchen-3ya.de",
            "[192.0.2.1]",
            "ACME.com",
            "acme.com.",
        ]
    ),
)
_LOCALS = st.one_of(
    st.text(_LOCAL_ALPHABET, max_size=70),
    st.sampled_from(
        [
            "Postmaster",
            "ABUSE",
            '"john smith"',
            '"ann"',
            '"a\\"b"',
            "é" * 32,
            "é" * 33,
            "x" * 64,
            "x" * 65,
        ]
    ),
)
ADDRESSES = st.builds(lambda local, domain: f"{local}@{domain}", _LOCALS, _DOMAINS)

EDGE_CASES = [
    pytest.param("ann@acme.com", id="plain"),
    pytest.param('"john smith"@acme.com', id="quoted-local-part"),
    pytest.param('"ann"@acme.com', id="needlessly-quoted"),
    pytest.param("ann@[192.0.2.1]", id="domain-literal"),
    pytest.param("x" * 64 + "@acme.com", id="local-64-octets"),
    pytest.param("x" * 65 + "@acme.com", id="local-65-octets"),
    pytest.param("é" * 32 + "@acme.com", id="local-64-octets-32-characters"),
    pytest.param("é" * 33 + "@acme.com", id="local-66-octets-33-characters"),
    pytest.param("ann@münchen.de", id="u-label"),
    pytest.param("ann@xn--mnchen-3ya.de", id="a-label"),
    pytest.param("jöhn@acme.com", id="smtputf8-local"),
    pytest.param("Postmaster@ACME.com", id="postmaster-uppercase"),
    pytest.param("ann@acme.com.", id="trailing-dot"),
    pytest.param("ann..b@acme.com", id="consecutive-dots"),
    pytest.param(".ann@acme.com", id="leading-dot"),
    pytest.param("ann@acme.123", id="numeric-tld"),
    pytest.param("ann@example.com", id="example-com"),
    pytest.param("ann@x.test", id="test-tld"),
    pytest.param("ann@a.invalid", id="invalid-tld"),
    pytest.param("ann@a.localhost", id="localhost-tld"),
    pytest.param("ann@a.local", id="local-tld"),
    pytest.param("ann@a.onion", id="onion-tld"),
    pytest.param("", id="empty"),
    pytest.param("ann", id="no-at-sign"),
    pytest.param("a@b@acme.com", id="two-at-signs"),
    pytest.param("ann@" + "d" * 63 + ".com", id="label-63-octets"),
    pytest.param("ann@" + "d" * 64 + ".com", id="label-64-octets"),
]


def email_validator_verdict(address: str) -> email_validator.ValidatedEmail | None:
    try:
        return email_validator.validate_email(
            address,
            check_deliverability=False,
            allow_quoted_local=True,
            allow_domain_literal=False,
        )
    except email_validator.EmailNotValidError:
        return None


def is_documented_extra(message: str, reason: Reason | None, theirs: object) -> bool:
    """Rejections of ours that email-validator (non-strict) does not make."""
    assert isinstance(theirs, email_validator.ValidatedEmail)
    if reason is Reason.BAD_SYNTAX and "(RFC 5321 §4.5.3.1.1)" in message:
        return len(theirs.local_part.encode("utf-8")) > 64
    if reason is Reason.RESERVED_DOMAIN:
        labels = theirs.ascii_domain.split(".")
        return labels[-1] == "example" or labels[-2:-1] == ["example"]
    return False


def assert_agrees_with_email_validator(address: str) -> None:
    ours = check_address(address)
    theirs = email_validator_verdict(address)

    if theirs is None:
        assert ours.reason is not None, (
            f"we accept what email-validator rejects: {address!r}"
        )
    elif ours.reason is None:
        assert ours.normalized == theirs.normalized
        assert ours.ascii_domain == theirs.ascii_domain
    else:
        assert is_documented_extra(ours.message, ours.reason, theirs), (
            f"we reject {address!r} ({ours.message}) but email-validator accepts"
        )


@pytest.mark.parametrize("address", EDGE_CASES)
def test_check_address_edge_case_agrees_with_email_validator(address: str) -> None:
    assert_agrees_with_email_validator(address)


@settings(max_examples=300, deadline=None)
@given(ADDRESSES)
def test_check_address_generated_agrees_with_email_validator(address: str) -> None:
    # Cells are stripped and `Name <addr>` unwrapped before the check; the
    # comparison is about the address itself.
    address = address.strip()
    assert_agrees_with_email_validator(address)


# -- jobs: every row comes out, intact, in order -------------------------------

_CELL_ALPHABET = st.sampled_from(
    list("abcXYZ 019@.") * 3 + list("\",;|\t\n\r=+-'") + ["é", "中", "😀", "\u00a0"]
)
_CELLS = st.text(_CELL_ALPHABET, max_size=20)
_EMAILS = st.one_of(
    st.sampled_from(
        [
            "ann@acme.com",
            "info@gmail.com",
            "x@mailinator.com",
            "bad",
            "",
            "Ann <ann@acme.com>",
            " bob@acme.com ",
            "ann@example.com",
            "jöhn@acme.com",
        ]
    ),
    _CELLS,
)


@st.composite
def csv_tables(draw: st.DrawFn) -> tuple[str, str, list[list[str]]]:
    """A delimiter, a line ending and rows (header first, "email" column)."""
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    # At least two columns: with one, no delimiter shows and any is right.
    others = draw(
        st.lists(
            st.sampled_from(["name", "city", "note", "id"]),
            unique=True,
            min_size=1,
            max_size=3,
        )
    )
    position = draw(st.integers(0, len(others)))
    header = [*others[:position], "email", *others[position:]]
    rows = draw(
        st.lists(
            st.builds(
                lambda cells, email: [*cells[:position], email, *cells[position:]],
                st.lists(_CELLS, min_size=len(others), max_size=len(others)),
                _EMAILS,
            ),
            max_size=25,
        )
    )
    return delimiter, newline, [header, *rows]


def encode_row(row: list[str], delimiter: str) -> bytes:
    # The line terminator tells csv which characters need quotes; it is
    # cut off again so the caller chooses the line ending.
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerow(row)
    return buffer.getvalue().removesuffix("\r\n").encode("utf-8")


def run_job(data: bytes, name: str, output: str) -> tuple[JobSummary, bytes]:
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / name
        source.write_bytes(data)
        target = Path(folder) / output
        summary = validate_file(
            JobConfig(
                input=str(source),
                output=str(target),
                checks=SYNTAX_ONLY,
                keep=EVERY_STATUS,
                column="email" if name.endswith(".csv") else None,
                # Job state is not under test here; its fsyncs would be
                # most of the run time.
                use_checkpoint=False,
            )
        )
        return summary, target.read_bytes()


@JOB_SETTINGS
@given(csv_tables())
def test_validate_file_csv_rows_round_trip_byte_for_byte(
    table: tuple[str, str, list[list[str]]],
) -> None:
    delimiter, newline, rows = table
    raws = [encode_row(row, delimiter) for row in rows]
    data = b"".join(raw + newline.encode() for raw in raws)

    summary, out = run_job(data, "in.csv", "out.csv")

    data_rows = raws[1:]
    assert summary.rows_in == summary.rows_written == len(data_rows)
    position = 0
    for raw in raws[:1] + data_rows:
        assert out.startswith(raw + delimiter.encode(), position)
        position = out.index(newline.encode(), position + len(raw)) + len(newline)
    assert position == len(out)


_LINE_ALPHABET = st.sampled_from(
    list("abcXYZ 019@.<>\"',;|\t") * 3 + ["é", "中", "😀", "\u00a0", "\x0b"]
)
_LINES = st.one_of(
    st.sampled_from(
        [
            "ann@acme.com",
            "Ann <ann@acme.com>",
            "  bob@acme.com\t",
            "info@gmail.com",
            "bad",
        ]
    ),
    st.text(_LINE_ALPHABET, min_size=1, max_size=30),
).filter(lambda line: line.strip() != "")  # blank lines are skipped


@JOB_SETTINGS
@given(
    st.lists(_LINES, max_size=30), st.sampled_from(["\n", "\r\n", "\r"]), st.booleans()
)
def test_validate_file_txt_every_line_one_record_in_order(
    lines: list[str], newline: str, final_newline: bool
) -> None:
    data = newline.join(lines).encode("utf-8")
    if final_newline and lines:
        data += newline.encode()

    summary, out = run_job(data, "in.txt", "out.jsonl")

    records = [json.loads(line) for line in out.splitlines()]
    assert summary.rows_in == summary.rows_written == len(lines)
    assert [record["email"] for record in records] == lines
    assert [record["row"] for record in records] == list(range(1, len(lines) + 1))


@JOB_SETTINGS
@given(st.binary(max_size=400), st.sampled_from(["in.csv", "in.txt", "in"]))
def test_validate_file_any_bytes_only_our_errors(data: bytes, name: str) -> None:
    try:
        summary, _ = run_job(data, name, "out.jsonl")
    except EmailcleanError:
        return
    assert summary.rows_in == summary.rows_written
