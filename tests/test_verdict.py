"""Verdict precedence (DESIGN §3), from real per-layer outcomes."""

from __future__ import annotations

import pytest

from emailclean.models import (
    AddressInfo,
    DomainOutcome,
    Flag,
    MailboxOutcome,
    MailHost,
    Reason,
    SmtpReply,
    Status,
)
from emailclean.verdict import decide

MX = MailHost("mx1.acme.com", 10, ("192.0.2.25",))
DOMAIN_OK = DomainOutcome(None, "acme.com has a mail host.", (MX,))
ACCEPTED = SmtpReply(250, "2.1.5", "Recipient ok")


def sound(*flags: Flag, suggestion: str | None = None) -> AddressInfo:
    """A well-formed address carrying the given list flags."""
    return AddressInfo(
        reason=None,
        message="The address is well formed.",
        normalized="ann@acme.com",
        local_part="ann",
        ascii_domain="acme.com",
        flags=frozenset(flags),
        suggestion=suggestion,
    )


def exists(catch_all: bool | None = False) -> MailboxOutcome:
    return MailboxOutcome(
        Reason.MAILBOX_EXISTS,
        "mx1.acme.com accepted the recipient.",
        mx="mx1.acme.com",
        reply=ACCEPTED,
        catch_all=catch_all,
    )


def refused(reason: Reason, catch_all: bool | None = False) -> MailboxOutcome:
    return MailboxOutcome(
        reason,
        f"mx1.acme.com said {reason.value}.",
        mx="mx1.acme.com",
        reply=SmtpReply(550, "5.1.1", "No such user"),
        catch_all=catch_all,
    )


ALL_LIST_FLAGS = (Flag.DISPOSABLE, Flag.ROLE, Flag.FREE)


@pytest.mark.parametrize(
    ("info", "domain", "mailbox", "reason"),
    [
        pytest.param(
            AddressInfo(Reason.BAD_SYNTAX, "The address has no @-sign."),
            None,
            None,
            Reason.BAD_SYNTAX,
            id="bad-syntax",
        ),
        pytest.param(
            sound(*ALL_LIST_FLAGS),
            DomainOutcome(Reason.NO_DOMAIN, "acme.com does not exist."),
            None,
            Reason.NO_DOMAIN,
            id="no-domain-beats-list-risks",
        ),
        pytest.param(
            sound(Flag.DISPOSABLE, Flag.ROLE),
            DOMAIN_OK,
            refused(Reason.MAILBOX_NOT_FOUND, catch_all=None),
            Reason.MAILBOX_NOT_FOUND,
            id="not-found-beats-list-risks",
        ),
        pytest.param(
            sound(Flag.ROLE),
            DOMAIN_OK,
            refused(Reason.MAILBOX_DISABLED, catch_all=True),
            Reason.MAILBOX_DISABLED,
            id="disabled-beats-catch-all",
        ),
    ],
)
def test_decide_invalid_evidence_beats_risky(
    info: AddressInfo,
    domain: DomainOutcome | None,
    mailbox: MailboxOutcome | None,
    reason: Reason,
) -> None:
    verdict = decide(info, domain, mailbox)

    assert verdict.status is Status.INVALID
    assert verdict.reason is reason


@pytest.mark.parametrize(
    ("flags", "mailbox", "reason"),
    [
        pytest.param(
            (Flag.DISPOSABLE, Flag.ROLE),
            refused(Reason.MAILBOX_FULL, True),
            Reason.MAILBOX_FULL,
            id="mailbox-full-beats-catch-all",
        ),
        pytest.param(
            (Flag.DISPOSABLE, Flag.ROLE),
            exists(catch_all=True),
            Reason.CATCH_ALL,
            id="catch-all-beats-disposable",
        ),
        pytest.param(
            (Flag.DISPOSABLE, Flag.ROLE),
            exists(),
            Reason.DISPOSABLE,
            id="disposable-beats-role",
        ),
        pytest.param(
            (Flag.ROLE, Flag.FREE), exists(), Reason.ROLE_ACCOUNT, id="role-alone"
        ),
        pytest.param(
            (Flag.DISPOSABLE, Flag.ROLE),
            None,
            Reason.DISPOSABLE,
            id="disposable-beats-role-without-smtp",
        ),
    ],
)
def test_decide_risky_reasons_in_precedence_order(
    flags: tuple[Flag, ...], mailbox: MailboxOutcome | None, reason: Reason
) -> None:
    verdict = decide(sound(*flags), DOMAIN_OK, mailbox)

    assert verdict.status is Status.RISKY
    assert verdict.reason is reason


def test_decide_every_applicable_flag_kept() -> None:
    verdict = decide(
        sound(Flag.DISPOSABLE, Flag.ROLE, Flag.FREE, Flag.SMTPUTF8),
        DOMAIN_OK,
        refused(Reason.MAILBOX_FULL, catch_all=True),
    )

    assert verdict.flags == {
        Flag.DISPOSABLE,
        Flag.ROLE,
        Flag.FREE,
        Flag.SMTPUTF8,
        Flag.CATCH_ALL,
    }


def test_decide_flags_kept_when_invalid() -> None:
    verdict = decide(
        sound(Flag.DISPOSABLE, Flag.ROLE),
        DOMAIN_OK,
        refused(Reason.MAILBOX_NOT_FOUND),
    )

    assert verdict.flags == {Flag.DISPOSABLE, Flag.ROLE}


def test_decide_catch_all_undecided_risky_message_says_so() -> None:
    verdict = decide(sound(), DOMAIN_OK, exists(catch_all=None))

    assert verdict.status is Status.RISKY
    assert verdict.reason is Reason.CATCH_ALL
    assert verdict.message == (
        "mx1.acme.com accepted the address, but whether the domain accepts "
        "every address (catch-all) could not be decided."
    )
    assert Flag.CATCH_ALL not in verdict.flags


def test_decide_catch_all_domain_risky_message_says_catch_all() -> None:
    verdict = decide(sound(), DOMAIN_OK, exists(catch_all=True))

    assert verdict.reason is Reason.CATCH_ALL
    assert verdict.message == (
        "mx1.acme.com accepts any address at this domain (catch-all), "
        "so this mailbox cannot be confirmed."
    )
    assert Flag.CATCH_ALL in verdict.flags


def test_decide_accepted_not_catch_all_valid_with_reply() -> None:
    verdict = decide(sound(Flag.FREE), DOMAIN_OK, exists(catch_all=False))

    assert verdict.status is Status.VALID
    assert verdict.reason is Reason.MAILBOX_EXISTS
    assert verdict.mx == "mx1.acme.com"
    assert verdict.smtp == ACCEPTED
    assert verdict.flags == {Flag.FREE}


@pytest.mark.parametrize(
    ("domain", "reason", "message"),
    [
        pytest.param(
            None, Reason.SYNTAX_OK, "The address is well formed.", id="syntax-only"
        ),
        pytest.param(
            DOMAIN_OK,
            Reason.DOMAIN_OK,
            "acme.com has a mail host.",
            id="dns-without-smtp",
        ),
    ],
)
def test_decide_fewer_checks_valid_reason_names_deepest_layer(
    domain: DomainOutcome | None, reason: Reason, message: str
) -> None:
    verdict = decide(sound(), domain)

    assert verdict.status is Status.VALID
    assert verdict.reason is reason
    assert verdict.message == message
    assert verdict.normalized == "ann@acme.com"


def test_decide_dns_only_mx_is_first_mail_host() -> None:
    backup = MailHost("mx2.acme.com", 20, ("192.0.2.26",))
    domain = DomainOutcome(None, "acme.com has mail hosts.", (MX, backup))

    assert decide(sound(), domain).mx == "mx1.acme.com"


@pytest.mark.parametrize(
    "reason",
    [
        pytest.param(Reason.GREYLISTED, id="greylisted"),
        pytest.param(Reason.BLOCKED, id="blocked"),
        pytest.param(Reason.SMTP_TIMEOUT, id="smtp-timeout"),
    ],
)
def test_decide_undecided_probe_unknown_even_if_disposable(reason: Reason) -> None:
    verdict = decide(sound(Flag.DISPOSABLE), DOMAIN_OK, refused(reason))

    assert verdict.status is Status.UNKNOWN
    assert verdict.reason is reason
    assert Flag.DISPOSABLE in verdict.flags


def test_decide_suggestion_appended_to_message_never_applied() -> None:
    verdict = decide(sound(suggestion="ann@gmail.com"))

    assert verdict.message == "The address is well formed. Did you mean ann@gmail.com?"
    assert verdict.suggestion == "ann@gmail.com"
    assert verdict.normalized == "ann@acme.com"


def test_decide_invalid_with_suggestion_says_possible_typo() -> None:
    domain = DomainOutcome(Reason.NO_DOMAIN, "acme.com does not exist.")

    verdict = decide(sound(suggestion="ann@gmail.com"), domain)

    assert (
        verdict.message == "acme.com does not exist. (Possible typo of ann@gmail.com.)"
    )
