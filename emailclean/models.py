"""The vocabulary every layer shares: statuses, reasons, flags and results.

Each check layer reports what it found as a small frozen result
(`AddressInfo`, `DomainOutcome`, `MailboxOutcome`); `verdict.decide` turns
those into the one `Verdict` a row gets.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple


class Status(StrEnum):
    VALID = "valid"
    RISKY = "risky"
    INVALID = "invalid"
    UNKNOWN = "unknown"


class Reason(StrEnum):
    # valid
    MAILBOX_EXISTS = "mailbox_exists"
    DOMAIN_OK = "domain_ok"
    SYNTAX_OK = "syntax_ok"
    # risky
    MAILBOX_FULL = "mailbox_full"
    CATCH_ALL = "catch_all"
    DISPOSABLE = "disposable"
    ROLE_ACCOUNT = "role_account"
    # invalid
    BAD_SYNTAX = "bad_syntax"
    UNREADABLE = "unreadable"
    RESERVED_DOMAIN = "reserved_domain"
    NO_DOMAIN = "no_domain"
    NO_MAIL_HOST = "no_mail_host"
    NULL_MX = "null_mx"
    MAILBOX_NOT_FOUND = "mailbox_not_found"
    MAILBOX_DISABLED = "mailbox_disabled"
    # unknown
    DNS_TIMEOUT = "dns_timeout"
    DNS_ERROR = "dns_error"
    PRIVATE_MX = "private_mx"
    SMTP_TIMEOUT = "smtp_timeout"
    SMTP_UNREACHABLE = "smtp_unreachable"
    GREYLISTED = "greylisted"
    BLOCKED = "blocked"
    TEMPORARY_FAILURE = "temporary_failure"
    RATE_LIMITED = "rate_limited"
    PORT25_BLOCKED = "port25_blocked"

    @property
    def status(self) -> Status:
        return REASON_STATUS[self]


REASON_STATUS: dict[Reason, Status] = {
    **dict.fromkeys(
        (Reason.MAILBOX_EXISTS, Reason.DOMAIN_OK, Reason.SYNTAX_OK), Status.VALID
    ),
    **dict.fromkeys(
        (
            Reason.MAILBOX_FULL,
            Reason.CATCH_ALL,
            Reason.DISPOSABLE,
            Reason.ROLE_ACCOUNT,
        ),
        Status.RISKY,
    ),
    **dict.fromkeys(
        (
            Reason.BAD_SYNTAX,
            Reason.UNREADABLE,
            Reason.RESERVED_DOMAIN,
            Reason.NO_DOMAIN,
            Reason.NO_MAIL_HOST,
            Reason.NULL_MX,
            Reason.MAILBOX_NOT_FOUND,
            Reason.MAILBOX_DISABLED,
        ),
        Status.INVALID,
    ),
    **dict.fromkeys(
        (
            Reason.DNS_TIMEOUT,
            Reason.DNS_ERROR,
            Reason.PRIVATE_MX,
            Reason.SMTP_TIMEOUT,
            Reason.SMTP_UNREACHABLE,
            Reason.GREYLISTED,
            Reason.BLOCKED,
            Reason.TEMPORARY_FAILURE,
            Reason.RATE_LIMITED,
            Reason.PORT25_BLOCKED,
        ),
        Status.UNKNOWN,
    ),
}


class Flag(StrEnum):
    DISPOSABLE = "disposable"
    ROLE = "role"
    FREE = "free"
    CATCH_ALL = "catch_all"
    DUPLICATE = "duplicate"
    SMTPUTF8 = "smtputf8"


# Column order of flags in output: fixed, so output is stable.
FLAG_ORDER: tuple[Flag, ...] = tuple(Flag)


class Check(StrEnum):
    """A layer of checks the user can switch on."""

    SYNTAX = "syntax"
    DNS = "dns"
    SMTP = "smtp"


@dataclass(frozen=True, slots=True)
class SmtpReply:
    """One server reply: code, RFC 3463 enhanced status (if any), first line."""

    code: int
    enhanced: str | None
    text: str


class AddressInfo(NamedTuple):
    """What the syntax and list checks learned about one address.

    `reason` is None when the syntax is sound; otherwise it is
    `BAD_SYNTAX` or `RESERVED_DOMAIN` and `message` says why. (A named
    tuple rather than a frozen dataclass: one is built per row, and tuples
    build several times faster.)
    """

    reason: Reason | None
    message: str
    normalized: str | None = None
    local_part: str | None = None
    ascii_domain: str | None = None
    flags: frozenset[Flag] = frozenset()
    suggestion: str | None = None


@dataclass(frozen=True, slots=True)
class MailHost:
    """One MX target, with the addresses it resolved to."""

    name: str
    preference: int
    addresses: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DomainOutcome:
    """What DNS says about a domain's ability to receive mail.

    `reason` is None when the domain takes mail; `mail_hosts` are then in
    preference order.
    """

    reason: Reason | None
    message: str
    mail_hosts: tuple[MailHost, ...] = ()


@dataclass(frozen=True, slots=True)
class MailboxOutcome:
    """What the SMTP probe says about one recipient.

    `catch_all` is True, False, or None when the domain's catch-all probe
    could not be decided. `rule` names the classification rule that decided
    (shown with -v).
    """

    reason: Reason
    message: str
    mx: str | None = None
    reply: SmtpReply | None = None
    catch_all: bool | None = None
    rule: str = ""


class Verdict(NamedTuple):
    """The one verdict a row gets (immutable; a named tuple for speed)."""

    status: Status
    reason: Reason
    message: str
    normalized: str | None = None
    flags: frozenset[Flag] = frozenset()
    suggestion: str | None = None
    mx: str | None = None
    smtp: SmtpReply | None = None
