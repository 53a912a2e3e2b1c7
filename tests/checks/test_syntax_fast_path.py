"""The syntax layer's fast paths agree with email-validator exactly."""

from __future__ import annotations

import email_validator
from email_validator.syntax import validate_email_domain_name
from hypothesis import given, settings
from hypothesis import strategies as st

from emailclean.checks.syntax import _plain_hostname

LABEL = st.from_regex(r"[A-Za-z0-9-]{1,12}", fullmatch=True)
HOSTNAMES = st.lists(LABEL, min_size=1, max_size=4).map(".".join) | st.sampled_from(
    ["gmail.com", "a.b", "x.test", "b.c1", "ab--cd.com", "A-B.Co", "1.com", "a.onion"]
)


@settings(max_examples=400, deadline=None)
@given(HOSTNAMES)
def test_plain_hostname_accepted_only_when_email_validator_accepts_same_form(
    domain: str,
) -> None:
    plain = _plain_hostname(domain)
    if plain is None:
        return

    parts = validate_email_domain_name(domain, test_environment=False)

    assert parts["ascii_domain"] == plain
    assert parts["domain"] == plain


@settings(max_examples=200, deadline=None)
@given(HOSTNAMES)
def test_plain_hostname_names_email_validator_rejects_are_not_plain(
    domain: str,
) -> None:
    try:
        validate_email_domain_name(domain, test_environment=False)
    except email_validator.EmailNotValidError:
        assert _plain_hostname(domain) is None
