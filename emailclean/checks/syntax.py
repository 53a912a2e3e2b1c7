"""Syntax checks: is this string an address mail can be sent to?

email-validator (deliverability off) is the authority. Options we chose:

- quoted local parts (`"john smith"@acme.com`) are accepted: RFC 5321 §4.1.2
  allows them and rejecting a legal address is the costliest error;
- domain literals (`user@[192.0.2.1]`) are rejected: they bypass DNS, no
  mailbox provider issues them, and sending platforms refuse them;
- the RFC 5321 §4.5.3.1.1 limit of 64 octets for the local part is enforced
  (email-validator only enforces it in strict mode, counting characters);
- special-use and reserved names (RFC 2606, RFC 6761: .test, .invalid,
  .localhost, .example, example.com/net/org, plus .local, .onion, .arpa) are
  `reserved_domain`, never sent to DNS.

Speed: lists repeat domains, so the domain part is validated once per
distinct domain and cached. A local part that is plain ASCII dot-atom text
(RFC 5322 §3.2.3), the vast majority, is accepted by one regular expression;
anything else goes through email-validator whole, so both paths agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import email_validator
from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES
from email_validator.syntax import validate_email_domain_name

from emailclean.checks import lists
from emailclean.models import AddressInfo, Flag, Reason

# RFC 5321 §4.5.3.1.1: local part at most 64 octets.
LOCAL_PART_MAX_OCTETS = 64
# RFC 5321 §4.5.3.1.3 (path of 256 octets including "<" and ">"), as
# clarified by RFC 3696 errata 1690: an address is at most 254 octets.
ADDRESS_MAX_OCTETS = 254
# RFC 1035 §2.3.4: a name of at most 253 octets in its text form.
DOMAIN_MAX_OCTETS = 253
# Anything longer than this cannot be an address in any encoding; give up
# before spending time on it (a 2 MB cell must not cost 2 MB of regex work).
_HOPELESS_LENGTH = 4 * ADDRESS_MAX_OCTETS

# RFC 2606 §2-3 and RFC 6761 §6: names reserved for documentation and tests,
# beyond the special-use TLDs email-validator already refuses.
_RESERVED_SUFFIXES = ("example", "example.com", "example.net", "example.org")

# RFC 5322 §3.2.3 atext, as dot-atom-text.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_DOT_ATOM = re.compile(rf"{_ATEXT}+(?:\.{_ATEXT}+)*\Z")
_CASE_INSENSITIVE = frozenset(CASE_INSENSITIVE_MAILBOX_NAMES)
_PLAIN_HOSTNAME = re.compile(
    r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}\Z"
)
_SPECIAL_USE_TLDS = frozenset(email_validator.SPECIAL_USE_DOMAIN_NAMES)
_WELL_FORMED = "The address is well formed."
_SMTPUTF8 = frozenset({Flag.SMTPUTF8})
_ROLE = frozenset({Flag.ROLE})
_DISPLAY_NAME = re.compile(r"^[^<>]*<([^<>]*)>\s*\Z")


@dataclass(frozen=True, slots=True)
class _DomainFacts:
    """Everything about a domain part that does not depend on the local part."""

    error: AddressInfo | None
    ascii_domain: str = ""
    unicode_domain: str = ""
    flags: frozenset[Flag] = frozenset()
    suggestion: str | None = None


def extract_address(cell: str) -> str:
    """The address in a cell: surrounding whitespace and `Name <...>` removed."""
    text = cell.strip()
    if text.endswith(">") and "<" in text:
        match = _DISPLAY_NAME.match(text)
        if match:
            return match.group(1).strip()
    return text


def check_address(cell: str) -> AddressInfo:
    """Syntax and list checks for one cell of input."""
    text = extract_address(cell)
    if not text:
        return _bad("The address is empty.")
    if len(text) > _HOPELESS_LENGTH:
        return _bad(f"The address is too long ({len(text)} characters).")

    at = text.rfind("@")
    if at < 0:
        return _bad("The address has no @-sign.")
    local, domain = text[:at], text[at + 1 :]

    facts = _domain_facts(domain)
    if facts.error is not None:
        return facts.error
    if not (_DOT_ATOM.match(local) and len(local) <= LOCAL_PART_MAX_OCTETS):
        return _check_unusual(text, facts)
    if local.lower() in _CASE_INSENSITIVE:
        local = local.lower()
    if len(local) + 1 + len(facts.ascii_domain) > ADDRESS_MAX_OCTETS:
        return _check_unusual(text, facts)
    return _accepted(local, facts, smtputf8=False)


def _check_unusual(text: str, facts: _DomainFacts) -> AddressInfo:
    """Full email-validator check for anything off the fast path."""
    try:
        result = email_validator.validate_email(
            text,
            check_deliverability=False,
            allow_quoted_local=True,
            allow_domain_literal=False,
            allow_display_name=False,
            allow_smtputf8=True,
        )
    except email_validator.EmailNotValidError as error:
        return _bad(str(error))

    local = result.local_part
    if len(local.encode("utf-8")) > LOCAL_PART_MAX_OCTETS:
        octets = len(local.encode("utf-8"))
        return _bad(
            f"The part before the @-sign is {octets} octets long; "
            f"the limit is {LOCAL_PART_MAX_OCTETS} (RFC 5321 §4.5.3.1.1)."
        )
    return _accepted(local, facts, smtputf8=bool(result.smtputf8))


def _accepted(local: str, facts: _DomainFacts, *, smtputf8: bool) -> AddressInfo:
    flags = facts.flags
    if smtputf8:
        flags = flags | _SMTPUTF8
    if lists.is_role_account(local):
        flags = flags | _ROLE
    suggestion = f"{local}@{facts.suggestion}" if facts.suggestion else None
    return AddressInfo(
        None,
        _WELL_FORMED,
        f"{local}@{facts.unicode_domain}",
        local,
        facts.ascii_domain,
        flags,
        suggestion,
    )


@lru_cache(maxsize=65_536)
def _domain_facts(domain: str) -> _DomainFacts:
    if domain.startswith("["):
        return _DomainFacts(
            error=_bad(
                "The part after the @-sign is an IP address in brackets; "
                "mailbox providers do not issue such addresses."
            )
        )
    plain = _plain_hostname(domain)
    if plain is not None:
        ascii_domain = unicode_domain = plain
    else:
        try:
            parts = validate_email_domain_name(domain, test_environment=False)
        except email_validator.EmailNotValidError as error:
            if "special-use" in str(error):
                return _DomainFacts(error=_reserved(domain.lower()))
            return _DomainFacts(error=_bad(str(error)))
        ascii_domain, unicode_domain = parts["ascii_domain"], parts["domain"]

    if _is_reserved(ascii_domain):
        return _DomainFacts(error=_reserved(ascii_domain))
    return _DomainFacts(
        error=None,
        ascii_domain=ascii_domain,
        unicode_domain=unicode_domain,
        flags=_domain_flags(ascii_domain),
        suggestion=lists.suggest_domain(ascii_domain),
    )


def _plain_hostname(domain: str) -> str | None:
    """The lower-cased domain if it is a plain ASCII host name, else None.

    Plain means what email-validator accepts without needing IDNA: letters,
    digits and single inner hyphens per label (RFC 1035 §2.3.1, RFC 5890
    reserving "--" for A-labels), labels of 1-63 octets, at most 253 in all,
    an alphabetic top-level label that is not special-use. Anything else is
    left to email-validator, so both paths give the same verdicts.
    """
    lowered = domain.lower()
    if lowered == domain:
        lowered = domain  # one string, not two, in the domain cache
    if len(lowered) > DOMAIN_MAX_OCTETS or "--" in lowered:
        return None
    if not _PLAIN_HOSTNAME.match(lowered):
        return None
    if lowered.rsplit(".", 1)[-1] in _SPECIAL_USE_TLDS:
        return None
    return lowered


def _domain_flags(ascii_domain: str) -> frozenset[Flag]:
    if lists.is_disposable(ascii_domain):
        return frozenset({Flag.DISPOSABLE})
    if lists.is_free_provider(ascii_domain):
        return frozenset({Flag.FREE})
    return frozenset()


def _is_reserved(ascii_domain: str) -> bool:
    return any(
        ascii_domain == suffix or ascii_domain.endswith("." + suffix)
        for suffix in _RESERVED_SUFFIXES
    )


def _reserved(ascii_domain: str) -> AddressInfo:
    return _bad(
        f"{ascii_domain} is a reserved or special-use name (RFC 2606, "
        "RFC 6761); it never receives mail.",
        Reason.RESERVED_DOMAIN,
    )


def _bad(message: str, reason: Reason = Reason.BAD_SYNTAX) -> AddressInfo:
    return AddressInfo(reason=reason, message=message)
