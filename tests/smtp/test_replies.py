"""Reply classification, rule by rule (DESIGN.md §6, RFC 5321, RFC 3463)."""

from __future__ import annotations

import pytest

from emailclean.models import Reason, SmtpReply
from emailclean.smtp.replies import Action, Stage, classify_reply, parse_reply

RCPT_CASES = [
    pytest.param(250, "2.1.5 Ok", Reason.MAILBOX_EXISTS, id="250-accepted"),
    pytest.param(
        251,
        "User not local; will forward",
        Reason.MAILBOX_EXISTS,
        id="251-will-forward",
    ),
    pytest.param(
        550, "5.1.1 <x@acme.com>: user unknown", Reason.MAILBOX_NOT_FOUND, id="5.1.1"
    ),
    pytest.param(
        550,
        "5.1.0 Address rejected: user unknown",
        Reason.MAILBOX_NOT_FOUND,
        id="5.1.0-user-unknown-text",
    ),
    pytest.param(
        550,
        "5.1.0 Address rejected",
        Reason.TEMPORARY_FAILURE,
        id="5.1.0-without-user-text-is-unknown",
    ),
    pytest.param(
        550,
        "5.1.2 Bad destination system address",
        Reason.MAILBOX_NOT_FOUND,
        id="5.1.2",
    ),
    pytest.param(
        553,
        "5.1.3 Bad destination mailbox address syntax",
        Reason.MAILBOX_NOT_FOUND,
        id="5.1.3",
    ),
    pytest.param(550, "5.1.6 Mailbox has moved", Reason.MAILBOX_NOT_FOUND, id="5.1.6"),
    pytest.param(
        556,
        "5.1.10 Recipient address has null MX",
        Reason.MAILBOX_NOT_FOUND,
        id="5.1.10-null-mx",
    ),
    pytest.param(
        550, "User unknown", Reason.MAILBOX_NOT_FOUND, id="bare-550-user-unknown"
    ),
    pytest.param(
        550, "no such user here", Reason.MAILBOX_NOT_FOUND, id="bare-550-no-such-user"
    ),
    pytest.param(
        550,
        "Mailbox does not exist",
        Reason.MAILBOX_NOT_FOUND,
        id="bare-550-does-not-exist",
    ),
    pytest.param(
        550,
        "Requested action not taken: mailbox unavailable",
        Reason.TEMPORARY_FAILURE,
        id="bare-550-mailbox-unavailable-alone",
    ),
    pytest.param(
        550,
        "Mailbox unavailable: no such user",
        Reason.MAILBOX_NOT_FOUND,
        id="bare-550-unavailable-no-such-user",
    ),
    pytest.param(
        550,
        "5.2.1 The email account is disabled",
        Reason.MAILBOX_DISABLED,
        id="5.2.1-disabled",
    ),
    pytest.param(
        550,
        "Account has been disabled",
        Reason.MAILBOX_DISABLED,
        id="bare-550-disabled-text",
    ),
    pytest.param(552, "5.2.2 Mailbox full", Reason.MAILBOX_FULL, id="552-5.2.2-full"),
    pytest.param(
        552, "Requested mail action aborted", Reason.MAILBOX_FULL, id="bare-552-full"
    ),
    pytest.param(550, "5.2.2 Over quota", Reason.MAILBOX_FULL, id="550-5.2.2-full"),
    pytest.param(452, "4.2.2 Mailbox full", Reason.MAILBOX_FULL, id="452-4.2.2-full"),
    pytest.param(550, "5.7.1 Client host blocked", Reason.BLOCKED, id="5.7.1-policy"),
    pytest.param(554, "5.7.0 Rejected", Reason.BLOCKED, id="5.7.0-policy"),
    pytest.param(
        550, "5.1.7 Bad sender address syntax", Reason.BLOCKED, id="5.1.7-sender"
    ),
    pytest.param(
        550, "5.1.8 Sender domain does not exist", Reason.BLOCKED, id="5.1.8-sender"
    ),
    pytest.param(
        550,
        "5.1.1 Service unavailable; client blocked using zen.spamhaus.org",
        Reason.BLOCKED,
        id="5.1.1-with-spamhaus-text",
    ),
    pytest.param(
        550, "Your IP is on a blacklist", Reason.BLOCKED, id="bare-550-blacklist"
    ),
    pytest.param(554, "Rejected by policy", Reason.BLOCKED, id="554-policy-text"),
    pytest.param(
        550, "Poor sender reputation", Reason.BLOCKED, id="550-reputation-text"
    ),
    pytest.param(550, "Message looks like spam", Reason.BLOCKED, id="550-spam-text"),
    pytest.param(
        550,
        "5.4.1 Recipient address rejected: Access denied",
        Reason.BLOCKED,
        id="5.4.1-access-denied",
    ),
    pytest.param(
        554,
        "Transaction failed",
        Reason.TEMPORARY_FAILURE,
        id="554-unrecognised-is-unknown",
    ),
    pytest.param(
        550,
        "5.3.0 Something odd",
        Reason.TEMPORARY_FAILURE,
        id="5.3.0-unrecognised-is-unknown",
    ),
    pytest.param(
        553, "Sorry", Reason.TEMPORARY_FAILURE, id="553-unrecognised-is-unknown"
    ),
]


@pytest.mark.parametrize(("code", "text", "reason"), RCPT_CASES)
def test_classify_reply_rcpt_decides_reason(
    code: int, text: str, reason: Reason
) -> None:
    reply = parse_reply(code, text)

    result = classify_reply(reply, Stage.RCPT)

    assert (result.reason, result.action) == (reason, Action.DECIDE)


RETRY_CASES = [
    pytest.param(
        450,
        "4.2.0 greylisted, try again later",
        Reason.GREYLISTED,
        Action.RETRY_LATER,
        id="450-greylisted",
    ),
    pytest.param(
        451,
        "4.7.1 Greylisting in action",
        Reason.GREYLISTED,
        Action.RETRY_LATER,
        id="451-4.7.1-greylisting-text",
    ),
    pytest.param(
        450,
        "4.2.1 Mailbox busy",
        Reason.TEMPORARY_FAILURE,
        Action.RETRY_LATER,
        id="450-other",
    ),
    pytest.param(
        451,
        "4.3.0 Local error",
        Reason.TEMPORARY_FAILURE,
        Action.RETRY_LATER,
        id="451-local-error",
    ),
    pytest.param(
        452,
        "4.3.1 Insufficient system storage",
        Reason.TEMPORARY_FAILURE,
        Action.RETRY_LATER,
        id="452-other",
    ),
    pytest.param(
        452,
        "4.5.3 Too many recipients",
        None,
        Action.NEW_TRANSACTION,
        id="452-4.5.3-new-transaction",
    ),
    pytest.param(
        452, "Too many recipients", None, Action.NEW_TRANSACTION, id="452-too-many-text"
    ),
    pytest.param(
        421,
        "4.7.0 Try again later, closing connection",
        Reason.RATE_LIMITED,
        Action.BACK_OFF,
        id="421-back-off",
    ),
    pytest.param(
        450,
        "4.7.1 Client blocked using Spamhaus",
        Reason.BLOCKED,
        Action.DECIDE,
        id="450-4.7.1-blocklist",
    ),
]


@pytest.mark.parametrize(("code", "text", "reason", "action"), RETRY_CASES)
def test_classify_reply_transient_rcpt_gives_action(
    code: int, text: str, reason: Reason | None, action: Action
) -> None:
    result = classify_reply(parse_reply(code, text), Stage.RCPT)

    assert (result.reason, result.action) == (reason, action)


SESSION_CASES = [
    pytest.param(
        554, "No SMTP service here", Stage.GREETING, Reason.BLOCKED, id="554-greeting"
    ),
    pytest.param(
        550,
        "5.1.1 user unknown",
        Stage.MAIL,
        Reason.BLOCKED,
        id="5xx-at-mail-never-invalid",
    ),
    pytest.param(
        550, "5.7.1 sender blocked", Stage.MAIL, Reason.BLOCKED, id="5.7.1-at-mail"
    ),
    pytest.param(501, "bad hostname", Stage.HELLO, Reason.BLOCKED, id="5xx-at-hello"),
]


@pytest.mark.parametrize(("code", "text", "stage", "reason"), SESSION_CASES)
def test_classify_reply_before_rcpt_never_invalid(
    code: int, text: str, stage: Stage, reason: Reason
) -> None:
    result = classify_reply(parse_reply(code, text), stage)

    assert result.reason == reason
    assert result.reason.status.value == "unknown"


def test_classify_reply_multiline_text_is_read_whole() -> None:
    full = "Sorry, your message could not be delivered\nbecause: no such user"
    reply = parse_reply(550, full)

    result = classify_reply(reply, Stage.RCPT, full_text=full)

    assert result.reason == Reason.MAILBOX_NOT_FOUND


def test_classify_reply_rule_is_named() -> None:
    result = classify_reply(parse_reply(550, "5.1.1 user unknown"), Stage.RCPT)

    assert result.rule == "5.1.1-not-found"


PARSE_CASES = [
    pytest.param(
        550,
        "5.1.1 user unknown",
        SmtpReply(550, "5.1.1", "user unknown"),
        id="enhanced-split",
    ),
    pytest.param(
        550, "User unknown", SmtpReply(550, None, "User unknown"), id="no-enhanced"
    ),
    pytest.param(
        550, "4.1.1 odd", SmtpReply(550, None, "4.1.1 odd"), id="class-mismatch-ignored"
    ),
    pytest.param(
        250,
        "2.1.5 ok\nsecond line",
        SmtpReply(250, "2.1.5", "ok"),
        id="multiline-first-line",
    ),
    pytest.param(
        556,
        "5.1.10 null MX",
        SmtpReply(556, "5.1.10", "null MX"),
        id="two-digit-detail",
    ),
]


@pytest.mark.parametrize(("code", "message", "expected"), PARSE_CASES)
def test_parse_reply_splits_enhanced_code(
    code: int, message: str, expected: SmtpReply
) -> None:
    assert parse_reply(code, message) == expected
