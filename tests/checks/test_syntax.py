"""Syntax checks: RFC 5321/5322/6531 edge cases, one table per concern."""

from __future__ import annotations

import pytest

from emailclean.checks.syntax import check_address, extract_address
from emailclean.models import Flag, Reason

# A domain of 189 octets (labels of 63, 63, 57 and "com"): with a local part
# of 64 octets and the "@" the address is exactly 254 octets.
DOMAIN_189 = f"{'a' * 63}.{'b' * 63}.{'c' * 57}.com"
DOMAIN_190 = f"{'a' * 63}.{'b' * 63}.{'c' * 58}.com"


@pytest.mark.parametrize(
    ("cell", "normalized"),
    [
        pytest.param("ann@acme.com", "ann@acme.com", id="plain"),
        pytest.param(
            '"john smith"@acme.com', '"john smith"@acme.com', id="quoted-local-part"
        ),
        pytest.param(
            '"ann@home"@acme.com',
            '"ann@home"@acme.com',
            id="quoted-local-part-with-at-sign",
        ),
        pytest.param(
            '"ann"@acme.com', "ann@acme.com", id="needlessly-quoted-local-part-unquoted"
        ),
        pytest.param(
            "x" * 64 + "@acme.com", "x" * 64 + "@acme.com", id="local-part-64-octets"
        ),
        pytest.param(
            "x" * 64 + "@" + DOMAIN_189,
            "x" * 64 + "@" + DOMAIN_189,
            id="address-254-octets",
        ),
        pytest.param(
            "ann@" + "d" * 63 + ".com", "ann@" + "d" * 63 + ".com", id="label-63-octets"
        ),
        pytest.param("  ann@acme.com \t", "ann@acme.com", id="surrounding-whitespace"),
        pytest.param("Ann Lee <ann@acme.com>", "ann@acme.com", id="display-name"),
        pytest.param(
            '"Lee, Ann" <ann@acme.com>',
            "ann@acme.com",
            id="quoted-display-name-with-comma",
        ),
        pytest.param("<ann@acme.com>", "ann@acme.com", id="angle-brackets-only"),
        pytest.param(
            "Ann.Lee@ACME.COM",
            "Ann.Lee@acme.com",
            id="uppercase-domain-lowered-local-kept",
        ),
        pytest.param(
            "Postmaster@acme.com", "postmaster@acme.com", id="postmaster-lowered"
        ),
        pytest.param("ann+tag@acme.com", "ann+tag@acme.com", id="plus-tag"),
        pytest.param("o'brien@acme.com", "o'brien@acme.com", id="apostrophe"),
        pytest.param(
            "a!#$%&*/=?^_`{|}~-@acme.com",
            "a!#$%&*/=?^_`{|}~-@acme.com",
            id="every-atext-symbol",
        ),
        pytest.param("ann@acme.c0m", "ann@acme.c0m", id="tld-with-digit"),
        pytest.param(
            "ann@sub.mail.acme.co.uk", "ann@sub.mail.acme.co.uk", id="many-labels"
        ),
    ],
)
def test_check_address_well_formed_accepted(cell: str, normalized: str) -> None:
    info = check_address(cell)

    assert info.reason is None
    assert info.message == "The address is well formed."
    assert info.normalized == normalized


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        pytest.param("", "The address is empty.", id="empty"),
        pytest.param("   ", "The address is empty.", id="whitespace-only"),
        pytest.param("ann.acme.com", "The address has no @-sign.", id="no-at-sign"),
        pytest.param(
            "ann@bob@acme.com",
            "The part after the @-sign contains invalid characters: '@'.",
            id="two-at-signs",
        ),
        pytest.param(
            "@acme.com",
            "There must be something before the @-sign.",
            id="empty-local-part",
        ),
        pytest.param(
            "ann@",
            "The part after the @-sign is invalid (Empty Label).",
            id="empty-domain",
        ),
        pytest.param(
            "ann@acme.com.",
            "An email address cannot end with a period.",
            id="trailing-dot",
        ),
        pytest.param(
            "ann..lee@acme.com",
            "An email address cannot have two periods in a row.",
            id="consecutive-dots-local",
        ),
        pytest.param(
            "ann@acme..com",
            "An email address cannot have two periods in a row.",
            id="consecutive-dots-domain",
        ),
        pytest.param(
            ".ann@acme.com",
            "An email address cannot start with a period.",
            id="leading-dot",
        ),
        pytest.param(
            "ann.@acme.com",
            "An email address cannot have a period immediately before the @-sign.",
            id="dot-before-at-sign",
        ),
        pytest.param(
            "ann lee@acme.com",
            "The email address contains invalid characters before the @-sign: SPACE.",
            id="unquoted-space",
        ),
        pytest.param(
            "ann@-acme.com",
            "An email address cannot have a hyphen immediately after the @-sign.",
            id="label-leading-hyphen",
        ),
        pytest.param(
            "ann@acme.123",
            "The part after the @-sign is not valid. It is not within a "
            "valid top-level domain.",
            id="numeric-tld",
        ),
        pytest.param(
            "ann@acme",
            "The part after the @-sign is not valid. It should have a period.",
            id="single-label-domain",
        ),
        pytest.param(
            "ann@[192.0.2.1]",
            "The part after the @-sign is an IP address in brackets; "
            "mailbox providers do not issue such addresses.",
            id="domain-literal-ipv4",
        ),
        pytest.param(
            "ann@[IPv6:2001:db8::1]",
            "The part after the @-sign is an IP address in brackets; "
            "mailbox providers do not issue such addresses.",
            id="domain-literal-ipv6",
        ),
        pytest.param(
            "x" * 65 + "@acme.com",
            "The part before the @-sign is 65 octets long; the limit is 64 "
            "(RFC 5321 §4.5.3.1.1).",
            id="local-part-65-octets",
        ),
        pytest.param(
            "é" * 32 + "a@acme.com",
            "The part before the @-sign is 65 octets long; the limit is 64 "
            "(RFC 5321 §4.5.3.1.1).",
            id="local-part-33-characters-65-octets",
        ),
        pytest.param(
            "x" * 64 + "@" + DOMAIN_190,
            "The email address is too long (1 character too many).",
            id="address-255-octets",
        ),
        pytest.param(
            "ann@" + "d" * 64 + ".com",
            "After the @-sign, periods cannot be separated by so many "
            "characters (1 character too many).",
            id="label-64-octets",
        ),
        pytest.param(
            "x" * 2000,
            "The address is too long (2000 characters).",
            id="hopelessly-long",
        ),
        pytest.param(
            "Ann Lee <ann@acme.com",
            "An open angle bracket at the start of the email address has "
            "to be followed by a close angle bracket at the end.",
            id="unclosed-angle-bracket",
        ),
    ],
)
def test_check_address_malformed_bad_syntax(cell: str, message: str) -> None:
    info = check_address(cell)

    assert info.reason is Reason.BAD_SYNTAX
    assert info.message == message
    assert info.normalized is None


@pytest.mark.parametrize(
    ("cell", "domain"),
    [
        pytest.param("ann@example.com", "example.com", id="example-com"),
        pytest.param("ann@EXAMPLE.NET", "example.net", id="example-net-uppercase"),
        pytest.param(
            "ann@mail.example.org", "mail.example.org", id="subdomain-of-example-org"
        ),
        pytest.param("ann@shop.example", "shop.example", id="example-tld"),
        pytest.param("ann@x.test", "x.test", id="test-tld"),
        pytest.param("ann@acme.invalid", "acme.invalid", id="invalid-tld"),
        pytest.param("ann@box.localhost", "box.localhost", id="localhost-tld"),
        pytest.param("ann@printer.local", "printer.local", id="mdns-local"),
        pytest.param("ann@hidden.onion", "hidden.onion", id="onion"),
        pytest.param("ann@host.arpa", "host.arpa", id="arpa"),
    ],
)
def test_check_address_special_use_domain_reserved(cell: str, domain: str) -> None:
    info = check_address(cell)

    assert info.reason is Reason.RESERVED_DOMAIN
    assert info.message == (
        f"{domain} is a reserved or special-use name (RFC 2606, RFC 6761); "
        "it never receives mail."
    )


@pytest.mark.parametrize(
    "cell",
    [
        pytest.param("ann@münchen.de", id="u-label"),
        pytest.param("ann@xn--mnchen-3ya.de", id="a-label"),
        pytest.param("ann@MÜNCHEN.DE", id="u-label-uppercase"),
    ],
)
def test_check_address_idn_domain_same_ascii_domain(cell: str) -> None:
    info = check_address(cell)

    assert info.reason is None
    assert info.ascii_domain == "xn--mnchen-3ya.de"
    assert info.normalized == "ann@münchen.de"
    assert Flag.SMTPUTF8 not in info.flags


@pytest.mark.parametrize(
    ("cell", "normalized"),
    [
        pytest.param("jöhn@acme.com", "jöhn@acme.com", id="latin-accent"),
        pytest.param("用户@例子.广告", "用户@例子.广告", id="chinese"),
        pytest.param(
            "é" * 32 + "@acme.com",
            "é" * 32 + "@acme.com",
            id="32-characters-64-octets",
        ),
    ],
)
def test_check_address_utf8_local_part_flagged_smtputf8(
    cell: str, normalized: str
) -> None:
    info = check_address(cell)

    assert info.reason is None
    assert info.normalized == normalized
    assert Flag.SMTPUTF8 in info.flags


def test_check_address_ascii_local_part_not_smtputf8() -> None:
    assert Flag.SMTPUTF8 not in check_address("john@acme.com").flags


def test_check_address_same_domain_twice_same_answer() -> None:
    # The domain part is cached; a second address must not inherit the first
    # one's local-part facts.
    first = check_address("info@acme.com")
    second = check_address("ann@acme.com")

    assert Flag.ROLE in first.flags
    assert Flag.ROLE not in second.flags
    assert second.normalized == "ann@acme.com"


@pytest.mark.parametrize(
    ("cell", "address"),
    [
        pytest.param("  ann@acme.com  ", "ann@acme.com", id="whitespace"),
        pytest.param("Ann <ann@acme.com>", "ann@acme.com", id="display-name"),
        pytest.param(
            "Ann < ann@acme.com >", "ann@acme.com", id="spaces-inside-brackets"
        ),
        pytest.param("a<b>c", "a<b>c", id="not-a-display-name"),
        pytest.param("Ann <a> <b>", "Ann <a> <b>", id="two-bracket-pairs-kept"),
    ],
)
def test_extract_address_cell_address_only(cell: str, address: str) -> None:
    assert extract_address(cell) == address
