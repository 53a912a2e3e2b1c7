"""Turning classified replies and failures into `MailboxOutcome`s.

Every outcome names the mail host, keeps the deciding reply and the rule,
and says in plain words what happened, so a user reading one row (or -v)
can tell "the server said no" from "we could not ask".
"""

from __future__ import annotations

from emailclean.models import MailboxOutcome, MailHost, Reason, SmtpReply
from emailclean.smtp.client import ServerAnswer
from emailclean.smtp.replies import Classification

__all__ = [
    "accepted_outcome",
    "closed_outcome",
    "format_reply",
    "no_usable_host_outcome",
    "port25_outcome",
    "prefer_timeout",
    "reply_outcome",
    "simple_outcome",
    "unreachable_outcome",
    "written_off_outcome",
]

_SAYS = {
    Reason.MAILBOX_EXISTS: "{mx} accepted the mailbox: {reply}",
    Reason.MAILBOX_NOT_FOUND: "{mx} says the mailbox does not exist: {reply}",
    Reason.MAILBOX_DISABLED: "{mx} says the mailbox is disabled: {reply}",
    Reason.MAILBOX_FULL: "{mx} says the mailbox is full: {reply}",
    Reason.BLOCKED: (
        "{mx} refused us, not the address (policy, reputation or blocklist): {reply}"
    ),
    Reason.GREYLISTED: "{mx} kept greylisting the address{waited}: {reply}",
    Reason.TEMPORARY_FAILURE: "{mx} kept deferring the address{waited}: {reply}",
    Reason.RATE_LIMITED: (
        "{mx} kept closing the connection (421), so we stopped asking: {reply}"
    ),
}
_UNRECOGNISED = (
    "{mx} refused with a reply that says nothing sure about the address: {reply}"
)


def format_reply(reply: SmtpReply) -> str:
    """ "550 5.1.1 user unknown": code, enhanced code, first line."""
    parts = [str(reply.code), reply.enhanced or "", reply.text]
    return " ".join(part for part in parts if part)


def reply_outcome(
    mx: str,
    answer: ServerAnswer,
    classification: Classification,
    waited: float | None = None,
) -> MailboxOutcome:
    """The outcome a classified reply decides (never MAILBOX_EXISTS here)."""
    reason = classification.reason or Reason.TEMPORARY_FAILURE
    template = _SAYS.get(reason, _UNRECOGNISED)
    if classification.rule == "unrecognised-permanent":
        template = _UNRECOGNISED

    waited_text = f" for {waited:.0f} s" if waited is not None else ""
    message = template.format(
        mx=mx, reply=format_reply(answer.reply), waited=waited_text
    )
    return MailboxOutcome(
        reason=reason,
        message=message,
        mx=mx,
        reply=answer.reply,
        rule=classification.rule,
    )


def accepted_outcome(
    mx: str, domain: str, answer: ServerAnswer, catch_all: bool | None
) -> MailboxOutcome:
    """A recipient the server accepted, read with what the catch-all probe says."""
    reply = format_reply(answer.reply)
    if catch_all:
        message = (
            f"{mx} accepts any address at {domain} (catch-all), so this one "
            f"cannot be proven: {reply}"
        )
        reason, rule = Reason.CATCH_ALL, "catch-all-probe-accepted"
    elif catch_all is None:
        message = (
            f"{mx} accepted the mailbox, but whether {domain} accepts any "
            f"address (catch-all) could not be decided: {reply}"
        )
        reason, rule = Reason.MAILBOX_EXISTS, "accepted-catch-all-undecided"
    else:
        message = f"{mx} accepted the mailbox: {reply}"
        reason, rule = Reason.MAILBOX_EXISTS, "accepted"
    return MailboxOutcome(
        reason=reason,
        message=message,
        mx=mx,
        reply=answer.reply,
        catch_all=catch_all,
        rule=rule,
    )


def simple_outcome(
    reason: Reason, message: str, rule: str, mx: str | None = None
) -> MailboxOutcome:
    """An outcome with no deciding reply: timeouts, refusals, our own limits."""
    return MailboxOutcome(reason=reason, message=message, mx=mx, rule=rule)


def prefer_timeout(
    earlier: MailboxOutcome | None, later: MailboxOutcome
) -> MailboxOutcome:
    """Across MX hosts, a timeout is the more telling failure to report."""
    if earlier is not None and earlier.reason is Reason.SMTP_TIMEOUT:
        return earlier
    return later


def written_off_outcome(mx: str) -> MailboxOutcome:
    message = (
        f"{mx} timed out repeatedly earlier in this job, so it was not asked again"
    )
    return simple_outcome(Reason.SMTP_TIMEOUT, message, "host-written-off", mx)


def unreachable_outcome() -> MailboxOutcome:
    message = "no mail host of the domain could be reached"
    return simple_outcome(Reason.SMTP_UNREACHABLE, message, "unreachable")


def port25_outcome() -> MailboxOutcome:
    message = (
        "not checked: outbound SMTP connections from this network time out "
        "(port 25 looks blocked)"
    )
    return simple_outcome(Reason.PORT25_BLOCKED, message, "port25-blocked")


def closed_outcome() -> MailboxOutcome:
    message = "not checked: the SMTP prober was closed before an answer came"
    return simple_outcome(Reason.TEMPORARY_FAILURE, message, "prober-closed")


def no_usable_host_outcome(mail_hosts: tuple[MailHost, ...]) -> MailboxOutcome:
    """No MX host left to ask: private addresses refused, or none at all."""
    names = ", ".join(h.name for h in mail_hosts)
    if not any(h.addresses for h in mail_hosts):
        message = f"mail host {names} has no address to connect to"
        return simple_outcome(Reason.SMTP_UNREACHABLE, message, "no-address")

    message = (
        f"mail host {names} is at a private, loopback or otherwise non-global "
        "address; not probed (use --allow-private-mx to allow it)"
    )
    return simple_outcome(Reason.PRIVATE_MX, message, "private-mx")
