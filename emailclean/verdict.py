"""Turn what each layer found into the one verdict a row gets (DESIGN §3).

Order of evidence, strongest first:

1. evidence about the address itself that proves it undeliverable
   (syntax, DNS, the mail server's "no such user") → `invalid`;
2. a check that could not decide (timeouts, blocks, greylisting) → `unknown`.
   This beats the list-based risky reasons on purpose: a disposable address
   whose server never answered is first of all unverified;
3. risky reasons, in the order mailbox_full > catch_all > disposable >
   role_account;
4. otherwise `valid`, with the reason naming the deepest layer that ran.

Every flag that applies is kept, whichever reason wins.
"""

from __future__ import annotations

from functools import lru_cache

from emailclean.models import (
    REASON_STATUS,
    AddressInfo,
    DomainOutcome,
    Flag,
    MailboxOutcome,
    Reason,
    Status,
    Verdict,
)

_LIST_RISKS: tuple[tuple[Flag, Reason, str], ...] = (
    (Flag.DISPOSABLE, Reason.DISPOSABLE, "The domain is a disposable-address service."),
    (
        Flag.ROLE,
        Reason.ROLE_ACCOUNT,
        "The address reaches a role or team, not a person.",
    ),
)


def decide(
    info: AddressInfo,
    domain: DomainOutcome | None = None,
    mailbox: MailboxOutcome | None = None,
) -> Verdict:
    """The verdict for one address given the outcome of each layer that ran.

    `domain` is None when DNS did not run, `mailbox` when SMTP did not.
    """
    if info.reason is not None:
        return Verdict(REASON_STATUS[info.reason], info.reason, info.message)
    if domain is None and mailbox is None and info.suggestion is None:
        # The common syntax-only row: its verdict depends on its flags alone.
        status, reason, message = _syntax_only(info.flags, info.message)
        return Verdict(status, reason, message, info.normalized, info.flags)

    flags = info.flags
    mx = _first_mx(domain)
    if mailbox is not None:
        mx = mailbox.mx or mx
        if mailbox.catch_all:
            flags = flags | {Flag.CATCH_ALL}

    reason, message = _deciding_reason(info, domain, mailbox)
    status = REASON_STATUS[reason]
    if info.suggestion:
        message = _with_suggestion(message, info.suggestion, status)
    return Verdict(
        status,
        reason,
        message,
        info.normalized,
        flags,
        info.suggestion,
        mx,
        mailbox.reply if mailbox is not None else None,
    )


@lru_cache(maxsize=64)
def _syntax_only(flags: frozenset[Flag], message: str) -> tuple[Status, Reason, str]:
    info = AddressInfo(None, message, flags=flags)
    reason, message = _deciding_reason(info, None, None)
    return REASON_STATUS[reason], reason, message


def _with_suggestion(message: str, suggestion: str, status: Status) -> str:
    if status is Status.INVALID:
        return f"{message} (Possible typo of {suggestion}.)"
    return f"{message} Did you mean {suggestion}?"


def _deciding_reason(
    info: AddressInfo, domain: DomainOutcome | None, mailbox: MailboxOutcome | None
) -> tuple[Reason, str]:
    if domain is not None and domain.reason is not None:
        return domain.reason, domain.message
    if mailbox is not None and mailbox.reason is not Reason.MAILBOX_EXISTS:
        return mailbox.reason, mailbox.message
    if mailbox is not None and mailbox.catch_all is not False:
        return Reason.CATCH_ALL, _catch_all_message(mailbox)
    for flag, reason, message in _LIST_RISKS:
        if flag in info.flags:
            return reason, message
    if mailbox is not None:
        return Reason.MAILBOX_EXISTS, mailbox.message
    if domain is not None:
        return Reason.DOMAIN_OK, domain.message
    return Reason.SYNTAX_OK, info.message


def _catch_all_message(mailbox: MailboxOutcome) -> str:
    if mailbox.catch_all:
        return (
            f"{mailbox.mx} accepts any address at this domain (catch-all), "
            "so this mailbox cannot be confirmed."
        )
    return (
        f"{mailbox.mx} accepted the address, but whether the domain accepts "
        "every address (catch-all) could not be decided."
    )


def _first_mx(domain: DomainOutcome | None) -> str | None:
    if domain is None or not domain.mail_hosts:
        return None
    return domain.mail_hosts[0].name
