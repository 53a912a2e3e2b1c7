"""Generate a realistic contact export to benchmark emailclean on.

The file looks like what a CRM or newsletter tool exports: one row per
contact with id, first_name, last_name, email, company, country,
signup_date and a free-text notes column (sometimes quoted because it holds
commas or quotes, now and then spanning two lines).

The email column is shaped like real lists, because that is what decides
how much work a checker does and how much it can share:

- a few big mailbox providers hold most addresses (about 60 %), then ISPs
  and regional providers, then a long Zipf-distributed tail of company
  domains; the tail grows with the row count, as it does in real lists, so
  a 5M-row file has more distinct domains than a 1M-row file;
- some addresses are disposable, some are role accounts (info@, sales@),
  some carry typos of big providers (gmial.com);
- a few are unusual but legal (plus tags, mixed case, non-ASCII local parts
  and domains, quoted local parts);
- about 5 % are malformed: no @, two @, double dots, spaces, bad characters,
  leading or trailing dots, no top-level domain, local parts over 64
  octets, reserved names (RFC 2606 / RFC 6761) and empty cells.

Output is deterministic: the same --seed and --rows give the same bytes.

    python benchmarks/generate.py --rows 1000000
    python benchmarks/generate.py --rows 1000000 --format txt
"""

from __future__ import annotations

import argparse
import bisect
import csv
import itertools
import random
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TextIO

DATA_DIR = Path(__file__).resolve().parent / "data"
HEADER = (
    "id",
    "first_name",
    "last_name",
    "email",
    "company",
    "country",
    "signup_date",
    "notes",
)

# Share of rows whose address is deliberately malformed.
MALFORMED_SHARE = 0.05
# Share of well-formed addresses at each kind of domain; the rest go to the
# Zipf tail of company domains.
PROVIDER_SHARE = 0.62
DISPOSABLE_SHARE = 0.008
TYPO_SHARE = 0.005
ROLE_SHARE = 0.03
# The company-domain tail is Zipf-Mandelbrot: rank k has weight
# 1 / (k + ZIPF_OFFSET) ** ZIPF_EXPONENT; the offset keeps the biggest company
# near 0.3 % of all rows rather than several percent.
ZIPF_EXPONENT = 1.0
ZIPF_OFFSET = 20
TAIL_DOMAINS_PER_ROW = 0.2
MIN_TAIL_DOMAINS = 2_000

# Big providers first, then ISPs and regional providers; weights are rough
# shares of consumer addresses in Western contact lists.
PROVIDERS: tuple[tuple[str, float], ...] = (
    ("gmail.com", 40.0),
    ("yahoo.com", 10.0),
    ("hotmail.com", 8.0),
    ("outlook.com", 5.0),
    ("aol.com", 3.0),
    ("icloud.com", 3.0),
    ("live.com", 2.0),
    ("msn.com", 1.0),
    ("hotmail.co.uk", 1.5),
    ("yahoo.co.uk", 1.0),
    ("googlemail.com", 0.8),
    ("me.com", 0.7),
    ("comcast.net", 1.2),
    ("verizon.net", 0.6),
    ("att.net", 0.6),
    ("sbcglobal.net", 0.5),
    ("btinternet.com", 0.6),
    ("gmx.de", 1.0),
    ("web.de", 1.0),
    ("t-online.de", 0.8),
    ("orange.fr", 0.8),
    ("free.fr", 0.5),
    ("laposte.net", 0.4),
    ("libero.it", 0.5),
    ("mail.ru", 0.7),
    ("yandex.ru", 0.6),
    ("qq.com", 0.6),
    ("163.com", 0.4),
    ("naver.com", 0.3),
    ("protonmail.com", 0.5),
    ("proton.me", 0.3),
    ("zoho.com", 0.2),
    ("fastmail.com", 0.2),
    ("shaw.ca", 0.2),
    ("bigpond.com", 0.2),
    ("wp.pl", 0.2),
    ("seznam.cz", 0.2),
)
DISPOSABLE = (
    "mailinator.com",
    "guerrillamail.com",
    "10minutemail.com",
    "yopmail.com",
    "trashmail.com",
    "temp-mail.org",
    "sharklasers.com",
    "dispostable.com",
    "maildrop.cc",
    "getnada.com",
)
TYPOS = (
    "gmial.com",
    "gmai.com",
    "gamil.com",
    "gnail.com",
    "gmail.co",
    "gmail.con",
    "yaho.com",
    "yahooo.com",
    "hotmial.com",
    "hotmail.con",
    "outlok.com",
    "icloud.co",
)
ROLE_LOCALS = (
    "info",
    "sales",
    "support",
    "admin",
    "contact",
    "office",
    "hello",
    "billing",
    "noreply",
    "marketing",
    "hr",
    "jobs",
)
RESERVED = (
    "example.com",
    "example.org",
    "mail.example.net",
    "acme.test",
    "host.invalid",
    "localhost",
    "printer.local",
)


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# (as written, as used in a local part); some names keep non-ASCII letters.
FIRST_NAMES: tuple[tuple[str, str], ...] = tuple(
    (name, name.lower())
    for name in _words(
        "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth "
        "William Barbara Richard Susan Joseph Jessica Thomas Sarah Charles Karen "
        "Daniel Lisa Matthew Nancy Anthony Betty Mark Sandra Paul Ashley Steven "
        "Emily Andrew Kimberly Kevin Donna Brian Michelle George Carol Emma Liam "
        "Olivia Noah Sophia Lucas Mia Hugo Lea Luca Giulia Jan Anna Piotr Olga "
        "Ivan Wei Mei Hiroshi Yuki Priya Arjun Fatima Omar Ngozi Kwame"
    )
) + (
    ("José", "jose"),
    ("Zoë", "zoe"),
    ("Søren", "soren"),
    ("Björn", "bjorn"),
    ("Chloé", "chloe"),
    ("Łukasz", "lukasz"),
)
LAST_NAMES: tuple[tuple[str, str], ...] = tuple(
    (name, name.lower())
    for name in _words(
        "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez "
        "Hernandez Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson "
        "Martin Lee Perez Thompson White Harris Clark Lewis Robinson Walker Young "
        "Allen King Wright Scott Hill Green Adams Baker Nelson Carter Schmidt "
        "Schneider Fischer Weber Dubois Moreau Rossi Russo Ferrari Kowalski "
        "Nowak Ivanov Petrov Wang Li Zhang Chen Sato Suzuki Patel Sharma Khan "
        "Okafor Mensah Jensen Hansen Nielsen"
    )
) + (
    ("Müller", "muller"),
    ("Álvarez", "alvarez"),
    ("Øster", "oster"),
    ("Çelik", "celik"),
    ("O'Brien", "obrien"),
)
COUNTRIES: tuple[tuple[str, float], ...] = (
    ("US", 40.0),
    ("GB", 10.0),
    ("DE", 8.0),
    ("FR", 7.0),
    ("CA", 5.0),
    ("IT", 4.0),
    ("ES", 4.0),
    ("NL", 3.0),
    ("AU", 3.0),
    ("BR", 3.0),
    ("IN", 3.0),
    ("PL", 2.0),
    ("SE", 2.0),
    ("JP", 2.0),
    ("", 4.0),
)
_SYLLABLES = _words(
    "ac me bright wave nor th star lo gic tech sys data cloud blue red green "
    "peak sum mit core link net ware soft hard way point field stone bridge "
    "river lake oak pine ever true nova astra vert ion tri quad hex ona ra"
)
_WORDS = _words(
    "logistics consulting partners labs digital media foods health capital "
    "energy group studio systems software solutions design works"
)
_TLDS: tuple[tuple[str, float], ...] = (
    ("com", 55.0),
    ("net", 5.0),
    ("org", 4.0),
    ("io", 5.0),
    ("co", 3.0),
    ("de", 6.0),
    ("co.uk", 6.0),
    ("fr", 4.0),
    ("nl", 2.0),
    ("it", 2.0),
    ("es", 2.0),
    ("com.au", 2.0),
    ("ca", 2.0),
    ("ch", 1.0),
    ("se", 1.0),
)
_NOTES = (
    "Met at trade show",
    "VIP",
    "Prefers email",
    "Referred by partner",
    "Call back next quarter",
    "Unsubscribed from SMS",
)
_NOTES_WITH_COMMAS = (
    "Interested in pricing, wants a demo",
    "Met in Berlin, Paris and Rome",
    "Account manager: Kim, backup: Lee",
    "Lead source: webinar, Q3, EMEA",
)
_FIRST_SIGNUP = date(2014, 1, 1)
_SIGNUP_SPAN_DAYS = 4_400


@dataclass(frozen=True)
class Weighted:
    """Items with cumulative weights, sampled with one random() and a bisect."""

    items: tuple[str, ...]
    cumulative: tuple[float, ...]

    @classmethod
    def of(cls, pairs: tuple[tuple[str, float], ...]) -> Weighted:
        items = tuple(item for item, _ in pairs)
        return cls(items, tuple(itertools.accumulate(w for _, w in pairs)))

    def pick(self, rng: random.Random) -> str:
        point = rng.random() * self.cumulative[-1]
        return self.items[bisect.bisect_right(self.cumulative, point)]


@dataclass(frozen=True)
class Contact:
    first: tuple[str, str]
    last: tuple[str, str]
    domain: str
    company: str


class ContactFactory:
    """Draws contacts, with their addresses, from one seeded random stream."""

    def __init__(self, seed: int, rows: int) -> None:
        self.rng = random.Random(seed)
        self.providers = Weighted.of(PROVIDERS)
        self.countries = Weighted.of(COUNTRIES)
        self.tlds = Weighted.of(_TLDS)
        tail_size = max(MIN_TAIL_DOMAINS, int(rows * TAIL_DOMAINS_PER_ROW))
        self.tail = self._company_tail(tail_size)
        self.malformers = _malformers()

    def _company_tail(self, size: int) -> Weighted:
        names: dict[str, None] = {}
        while len(names) < size:
            names.setdefault(self._company_domain(), None)
        ranks = range(1, size + 1)
        weights = tuple(1.0 / (rank + ZIPF_OFFSET) ** ZIPF_EXPONENT for rank in ranks)
        return Weighted.of(tuple(zip(names, weights, strict=True)))

    def _company_domain(self) -> str:
        rng = self.rng
        stem = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3)))
        if rng.random() < 0.3:
            stem += "-" + rng.choice(_WORDS)
        if rng.random() < 0.002:
            stem = stem.replace("o", "ö", 1).replace("e", "é", 1)
        return f"{stem}.{self.tlds.pick(rng)}"

    def row(self, row_id: int) -> list[str]:
        contact = self._contact()
        return [
            str(row_id),
            contact.first[0],
            contact.last[0],
            self._email(contact),
            contact.company,
            self.countries.pick(self.rng),
            self._signup_date(),
            self._notes(),
        ]

    def _contact(self) -> Contact:
        rng = self.rng
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        if rng.random() < PROVIDER_SHARE:
            domain = self.providers.pick(rng)
            employer = "" if rng.random() < 0.6 else self.tail.pick(rng)
            return Contact(first, last, domain, _company_name(employer))
        domain = self.tail.pick(rng)
        return Contact(first, last, domain, _company_name(domain))

    def _email(self, contact: Contact) -> str:
        rng = self.rng
        draw = rng.random()
        if draw < MALFORMED_SHARE:
            local = _personal_local(rng, contact)
            return rng.choice(self.malformers)(rng, local, contact.domain)
        draw = rng.random()
        if draw < DISPOSABLE_SHARE:
            return f"{_personal_local(rng, contact)}@{rng.choice(DISPOSABLE)}"
        if draw < DISPOSABLE_SHARE + TYPO_SHARE:
            return f"{_personal_local(rng, contact)}@{rng.choice(TYPOS)}"
        if draw < DISPOSABLE_SHARE + TYPO_SHARE + ROLE_SHARE:
            return f"{rng.choice(ROLE_LOCALS)}@{self.tail.pick(rng)}"
        return _decorate(rng, _personal_local(rng, contact), contact.domain)

    def _signup_date(self) -> str:
        offset = self.rng.randrange(_SIGNUP_SPAN_DAYS)
        return (_FIRST_SIGNUP + timedelta(days=offset)).isoformat()

    def _notes(self) -> str:
        draw = self.rng.random()
        if draw < 0.70:
            return ""
        if draw < 0.88:
            return self.rng.choice(_NOTES)
        if draw < 0.975:
            return self.rng.choice(_NOTES_WITH_COMMAS)
        if draw < 0.995:
            return 'Said "call me after 5pm", in person'
        return "Two addresses on file,\nsee CRM history"


def _company_name(domain: str) -> str:
    return domain.split(".")[0].replace("-", " ").title()


def _personal_local(rng: random.Random, contact: Contact) -> str:
    first, last = contact.first[1], contact.last[1]
    if rng.random() < 0.02:
        first = contact.first[0].lower()  # keeps non-ASCII letters (SMTPUTF8)
    draw = rng.random()
    if draw < 0.30:
        return f"{first}.{last}"
    if draw < 0.45:
        return f"{first}{last}"
    if draw < 0.55:
        return f"{first[0]}{last}"
    if draw < 0.62:
        return f"{first}_{last}"
    if draw < 0.80:
        return f"{first}{rng.randint(1950, 2010)}"
    if draw < 0.90:
        return f"{first}.{last}{rng.randint(1, 999)}"
    return f"{first[0]}.{last}"


def _decorate(rng: random.Random, local: str, domain: str) -> str:
    """Legal variations found in real lists: case, plus tags, quoting."""
    draw = rng.random()
    if draw < 0.04:
        return f"{local.title()}@{domain}"
    if draw < 0.05:
        return f"{local}@{domain.upper()}"
    if draw < 0.065:
        return f"{local}+{rng.choice(('news', 'shop', 'work'))}@{domain}"
    if draw < 0.0652:
        return f'"{local} {local}"@{domain}'
    return f"{local}@{domain}"


Malformer = Callable[[random.Random, str, str], str]


def _malformers() -> tuple[Malformer, ...]:
    """Ways addresses go wrong, one function each, drawn uniformly."""
    return (
        lambda rng, local, domain: f"{local}{domain}",
        lambda rng, local, domain: f"{local}@@{domain}",
        lambda rng, local, domain: f"{local}@{domain}@{domain}",
        lambda rng, local, domain: f"{local}..x@{domain}",
        lambda rng, local, domain: f"{local}@{domain.replace('.', '..', 1)}",
        lambda rng, local, domain: f"{local} x@{domain}",
        lambda rng, local, domain: f"{local}@{domain.split('.')[0]} .com",
        lambda rng, local, domain: f"{local}{rng.choice(',;()<>[]:')}x@{domain}",
        lambda rng, local, domain: f"{local}@{domain.replace('.', '!', 1)}",
        lambda rng, local, domain: f".{local}@{domain}",
        lambda rng, local, domain: f"{local}.@{domain}",
        lambda rng, local, domain: f"{local}@{domain}.",
        lambda rng, local, domain: f"{local}@{domain.split('.')[0]}",
        lambda rng, local, domain: f"{_long_local(rng, local)}@{domain}",
        lambda rng, local, domain: f"{local}@{rng.choice(RESERVED)}",
        lambda rng, local, domain: "",
    )


def _long_local(rng: random.Random, local: str) -> str:
    """A dot-atom local part of 65 to 90 octets (RFC 5321 allows 64)."""
    target = rng.randint(65, 90)
    text = local
    while len(text) < target:
        text += "." + rng.choice(_SYLLABLES)
    return text[:target].rstrip(".") + "x"


def generate_rows(seed: int, rows: int) -> Iterator[list[str]]:
    factory = ContactFactory(seed, rows)
    for row_id in range(1, rows + 1):
        yield factory.row(row_id)


def write_csv(out: TextIO, seed: int, rows: int) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(generate_rows(seed, rows))


def write_txt(out: TextIO, seed: int, rows: int) -> None:
    email = HEADER.index("email")
    out.writelines(row[email] + "\n" for row in generate_rows(seed, rows))


def default_path(rows: int, file_format: str) -> Path:
    return DATA_DIR / f"contacts-{rows}.{file_format}"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--format", choices=("csv", "txt"), default="csv")
    parser.add_argument("--out", type=Path, help="default: benchmarks/data/...")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    path: Path = args.out or default_path(args.rows, args.format)
    path.parent.mkdir(parents=True, exist_ok=True)
    write = write_csv if args.format == "csv" else write_txt
    with open(path, "w", encoding="utf-8", newline="") as out:
        write(out, args.seed, args.rows)
    print(f"wrote {args.rows} rows to {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
