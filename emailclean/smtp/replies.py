"""What an SMTP reply says about a recipient: reply classification.

A reply is read in three passes, most reliable first (DESIGN.md §6):

1. The basic reply code (RFC 5321 §4.2): 2yz accepts, 4yz is transient,
   5yz is permanent. 421 means the server is closing the channel.
2. The RFC 3463 enhanced status code at the start of the text, when its
   class agrees with the basic code. It names the subject of the refusal:
   X.1.x addressing, X.2.x mailbox, X.7.x policy.
3. The text, for servers that send a bare 550 and for the many that say
   "blocked" or "greylisted" in words only.

Only evidence *about the address* makes it invalid. One deliberate
exception to "code first": a permanent reply whose text speaks of blocking,
blocklists, spam, policy or reputation is read as being about *us*, even
when it carries an addressing enhanced code, because some servers answer
a blocked client with "550 5.1.1 ... blocked". A false invalid is the
worst mistake this program can make, so every doubt leans to unknown.

`classify_reply` is a pure function: the pool decides what to do with the
`Action` it returns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum, IntEnum

from emailclean.models import Reason, SmtpReply

__all__ = [
    "Action",
    "Classification",
    "ReplyCode",
    "Stage",
    "classify_reply",
    "parse_reply",
]


class ReplyCode(IntEnum):
    """The basic reply codes the prober acts on (RFC 5321 §4.2.2, §4.2.3)."""

    SERVICE_READY = 220
    CLOSING = 221
    OK = 250
    WILL_FORWARD = 251
    SERVICE_UNAVAILABLE = 421
    MAILBOX_BUSY = 450
    LOCAL_ERROR = 451
    INSUFFICIENT_STORAGE = 452
    TLS_UNAVAILABLE = 454
    COMMAND_UNRECOGNIZED = 500
    COMMAND_NOT_IMPLEMENTED = 502
    STARTTLS_REQUIRED = 530
    MAILBOX_UNAVAILABLE = 550
    USER_NOT_LOCAL = 551
    STORAGE_EXCEEDED = 552
    MAILBOX_NAME_INVALID = 553
    TRANSACTION_FAILED = 554


class Stage(Enum):
    """Which command (or the greeting) a reply answers."""

    GREETING = "greeting"
    HELLO = "hello"
    MAIL = "mail"
    RCPT = "rcpt"


class Action(Enum):
    """What the pool must do with a classified reply."""

    DECIDE = "decide"  # `reason` is the verdict
    NEW_TRANSACTION = "new_transaction"  # resend the rest in a new MAIL
    RETRY_LATER = "retry_later"  # greylist path; `reason` once time is up
    BACK_OFF = "back_off"  # 421: close, wait, retry; `reason` if it repeats


@dataclass(frozen=True, slots=True)
class Classification:
    """The outcome of reading one reply; `rule` names the rule that decided."""

    reason: Reason | None
    rule: str
    action: Action = Action.DECIDE


# RFC 3463 §2: class.subject.detail, each up to three digits.
_ENHANCED = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})(?=\s|$)")

# RFC 3463 §3.2: X.1.1 bad mailbox, X.1.2 bad system, X.1.3 bad syntax,
# X.1.6 mailbox moved; RFC 7505 §4.2: X.1.10 recipient has a null MX.
_NOT_FOUND_DETAILS = frozenset({"1.1", "1.2", "1.3", "1.6", "1.10"})
# RFC 3463 §3.2: X.1.7 bad sender mailbox syntax, X.1.8 bad sender system.
_SENDER_DETAILS = frozenset({"1.7", "1.8"})

_USER_UNKNOWN_TEXT = re.compile(
    r"user unknown|unknown user|no such (user|mailbox|recipient|account)"
    r"|(does not|doesn't|not) exist|unknown (recipient|mailbox|address)"
    r"|recipient (unknown|not found)|(user|mailbox|address|account) not found"
    r"|invalid (recipient|mailbox|user)|no mailbox|not a valid mailbox",
    re.IGNORECASE,
)
_DISABLED_TEXT = re.compile(
    r"(account|mailbox|user) (is |has been )?(disabled|deactivated)",
    re.IGNORECASE,
)
_FULL_TEXT = re.compile(
    r"mailbox (is )?full|over ?quota|quota exceeded|exceeded storage"
    r"|insufficient storage",
    re.IGNORECASE,
)
_BLOCK_TEXT = re.compile(
    r"block|blacklist|black list|denylist|spam|policy|reputation|abuse"
    r"|\brbl\b|\bdnsbl\b|banned|not allowed to send|access denied",
    re.IGNORECASE,
)
_GREYLIST_TEXT = re.compile(
    r"gr[ae]y ?list|try again later|retry later|temporarily (deferred|rejected)"
    r"|deferred|please retry",
    re.IGNORECASE,
)
_TOO_MANY_TEXT = re.compile(r"too many recipients", re.IGNORECASE)


def parse_reply(code: int, message: str) -> SmtpReply:
    """Build an `SmtpReply`: the enhanced code is split off the first line."""
    first_line = message.split("\n", 1)[0].strip()
    match = _ENHANCED.match(first_line)
    if match is None or match.group(1) != str(code)[0]:
        return SmtpReply(code=code, enhanced=None, text=first_line)

    rest = first_line[match.end() :].strip()
    return SmtpReply(code=code, enhanced=match.group(0), text=rest)


def classify_reply(
    reply: SmtpReply, stage: Stage, full_text: str | None = None
) -> Classification:
    """Classify `reply` to a command at `stage`.

    `full_text` is every line of a multiline reply; texts are matched against
    it, since some servers put the telling words on a later line.
    """
    text = full_text if full_text is not None else reply.text
    if reply.code in (ReplyCode.OK, ReplyCode.WILL_FORWARD):
        return Classification(Reason.MAILBOX_EXISTS, "accepted")

    if reply.code == ReplyCode.SERVICE_UNAVAILABLE:
        # RFC 5321 §3.8: 421 means the server is closing the channel.
        return Classification(Reason.RATE_LIMITED, "421-closing", Action.BACK_OFF)

    if 400 <= reply.code < 500:
        return _classify_transient(reply, stage, text)

    if 500 <= reply.code < 600:
        if stage is Stage.RCPT:
            return _classify_permanent_rcpt(reply, text)
        return _classify_permanent_session(reply, stage)

    return Classification(Reason.TEMPORARY_FAILURE, "unexpected-reply")


def _detail(reply: SmtpReply) -> str | None:
    """The "subject.detail" part of the enhanced code, e.g. "1.1"."""
    if reply.enhanced is None:
        return None
    return reply.enhanced.split(".", 1)[1]


def _classify_transient(reply: SmtpReply, stage: Stage, text: str) -> Classification:
    detail = _detail(reply)
    if stage is Stage.RCPT and (detail == "5.3" or _TOO_MANY_TEXT.search(text)):
        # RFC 5321 §4.5.3.1.10: too many recipients; the rest go into a new
        # transaction and this reply says nothing about the address.
        return Classification(None, "452-too-many-recipients", Action.NEW_TRANSACTION)

    if stage is Stage.RCPT and (detail == "2.2" or _FULL_TEXT.search(text)):
        # RFC 3463 §3.3: X.2.2 mailbox full.
        return Classification(Reason.MAILBOX_FULL, "4.2.2-mailbox-full")

    if _GREYLIST_TEXT.search(text):
        return Classification(Reason.GREYLISTED, "greylisted", Action.RETRY_LATER)

    if detail is not None and detail.startswith("7.") and _BLOCK_TEXT.search(text):
        # A listing on a blocklist does not clear in minutes: decide now.
        return Classification(Reason.BLOCKED, "4.7.x-blocked")

    return Classification(
        Reason.TEMPORARY_FAILURE, f"{reply.code}-transient", Action.RETRY_LATER
    )


def _classify_permanent_session(reply: SmtpReply, stage: Stage) -> Classification:
    """A 5yz before any recipient was named is about us, never the address."""
    if stage is Stage.GREETING:
        # RFC 5321 §3.1: 554 in place of the greeting means "no service".
        return Classification(Reason.BLOCKED, "greeting-refused")

    if stage is Stage.MAIL:
        return Classification(Reason.BLOCKED, "sender-refused")

    return Classification(Reason.BLOCKED, "hello-refused")


def _classify_permanent_rcpt(reply: SmtpReply, text: str) -> Classification:
    detail = _detail(reply)
    if _BLOCK_TEXT.search(text):
        return Classification(Reason.BLOCKED, "block-text")

    by_enhanced = _classify_enhanced_detail(detail, text)
    if by_enhanced is not None:
        return by_enhanced

    if reply.code == ReplyCode.STORAGE_EXCEEDED:
        # RFC 5321 §4.2.3: 552 exceeded storage allocation.
        return Classification(Reason.MAILBOX_FULL, "552-storage-exceeded")

    return _classify_permanent_text(reply, text)


def _classify_enhanced_detail(detail: str | None, text: str) -> Classification | None:
    """Rules keyed on the RFC 3463 subject and detail (§3.2, §3.3, §3.8)."""
    if detail is None:
        return None

    if detail in _NOT_FOUND_DETAILS:
        return Classification(Reason.MAILBOX_NOT_FOUND, f"5.{detail}-not-found")

    if detail == "1.0" and _USER_UNKNOWN_TEXT.search(text):
        return Classification(Reason.MAILBOX_NOT_FOUND, "5.1.0-user-unknown-text")

    if detail == "2.1":
        return Classification(Reason.MAILBOX_DISABLED, "5.2.1-disabled")

    if detail == "2.2":
        return Classification(Reason.MAILBOX_FULL, "5.2.2-mailbox-full")

    if detail.startswith("7.") or detail in _SENDER_DETAILS:
        return Classification(Reason.BLOCKED, f"5.{detail}-policy")

    return None


def _classify_permanent_text(reply: SmtpReply, text: str) -> Classification:
    """Last pass: a 5yz whose codes decided nothing, read by its words."""
    bare = reply.code in (ReplyCode.MAILBOX_UNAVAILABLE, ReplyCode.USER_NOT_LOCAL)
    if bare and _USER_UNKNOWN_TEXT.search(text):
        return Classification(Reason.MAILBOX_NOT_FOUND, "550-user-unknown-text")

    if _DISABLED_TEXT.search(text):
        return Classification(Reason.MAILBOX_DISABLED, "disabled-text")

    if _FULL_TEXT.search(text):
        return Classification(Reason.MAILBOX_FULL, "full-text")

    # "550 mailbox unavailable" alone is RFC 5321's generic wording and is
    # also sent for policy refusals, so it is not evidence against the
    # address. Neither is any other 5yz nothing above recognised.
    return Classification(Reason.TEMPORARY_FAILURE, "unrecognised-permanent")
