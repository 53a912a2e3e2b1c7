"""Benchmark: the DNS layer against a caching email-validator loop (issue 4).

What is measured, side by side in one run, against one loopback DNS server
(tests/world/dns_server.py) that answers every query after a fixed 20 ms,
what a recursive resolver costs on a cache miss:

(a) the product: `emailclean validate LIST --checks syntax,dns
    --nameserver 127.0.0.1:PORT --allow-private-mx --format jsonl` in a
    subprocess (wall, CPU and peak RSS from `os.wait4`);
(b) the baseline most scripts start from: a loop of
    `email_validator.validate_email(addr, check_deliverability=True,
    dns_resolver=caching_resolver(...))`, the dnspython resolver pointed at
    the same server, in its own subprocess measured the same way.

For each we report the queries the server received, per unique domain (bar
for (a): at most 1.5 on average), client CPU per query (the process's CPU
time divided by its queries; for (a) also net of a syntax-only run of the
same list), and addresses per second (bar: (a) at least 10 times (b)).

The list: 50k addresses over 5k domains whose mail hosts are shared the way
real lists share them. A few consumer providers hold half the addresses;
most company domains point their MX at a handful of shared hosts (a
workspace suite, hosting companies, filtering gateways), some at a
per-tenant host name, a long tail at their own host; some domains do not
exist, publish a null MX, have only an A record (at a public or a loopback
address), point their MX at a name that does not exist, or are parked (A
record plus "v=spf1 -all"). Mail hosts resolve to loopback addresses, hence
--allow-private-mx; the public addresses of A-only domains are never
contacted (no SMTP check runs here).

Verdicts must agree per domain (valid or risky = deliverable) except where
DESIGN.md §3 decides otherwise; every difference is listed by kind.

    python benchmarks/bench_dns.py                     # 3 rounds, 50k/5k
    python benchmarks/bench_dns.py --addresses 5000 --domains 500 --rounds 1
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import dns.rdatatype
import dns.resolver
import email_validator
from benchlib import (
    BENCH_DIR,
    DATA_DIR,
    ProcessRun,
    emailclean_command,
    median,
    run_measured,
    say,
    words,
    write_result,
)

from tests.world.dns_server import DnsServer, Zone, to_name

DNS_DELAY_S = 0.020
MX = dns.rdatatype.MX
QUERIES_PER_DOMAIN_BAR = 1.5
SPEED_BAR = 10.0
CONSUMER_ADDRESS_SHARE = 0.5
# Share of the non-consumer domains of each kind; the kinds are explained
# in the module docstring and in `add_domain`.
COMPANY_KINDS: tuple[tuple[str, float], ...] = (
    ("workspace", 0.38),
    ("tenant", 0.12),
    ("hosting", 0.12),
    ("gateway", 0.06),
    ("own_mx", 0.18),
    ("nxdomain", 0.05),
    ("null_mx", 0.02),
    ("a_only_public", 0.02),
    ("a_only_loopback", 0.02),
    ("dangling_mx", 0.01),
    ("parked_spf", 0.02),
)
CONSUMERS = (
    "quillmail.com",
    "owlpost.net",
    "mailorchard.com",
    "bluejaymail.com",
    "inboxly.net",
    "parcelpost-mail.com",
    "lanternmail.com",
    "fernpost.net",
    "kitemail.net",
    "harbormail.com",
)
WORKSPACE_HOSTS = (
    (1, "aspmx.l.workcloud-mail.net"),
    (5, "alt1.aspmx.l.workcloud-mail.net"),
    (5, "alt2.aspmx.l.workcloud-mail.net"),
    (10, "alt3.aspmx.l.workcloud-mail.net"),
    (10, "alt4.aspmx.l.workcloud-mail.net"),
)
HOSTING_PROVIDERS = ("bluehostly", "gandara", "ovhost", "strato-mx", "ionic", "hetz")
GATEWAY_HOSTS = (
    (10, "eu-smtp-inbound-1.mailshield-gw.net"),
    (20, "eu-smtp-inbound-2.mailshield-gw.net"),
)
RESERVED_DOMAINS = ("example.com", "corp.test", "mail.example.org", "host.invalid")
RESERVED_ADDRESS_SHARE = 0.002
PUBLIC_BLOCK = "101.53"  # global unicast; never contacted, DNS answers only
SYLLABLES = words("ka lo mi ren tor vex bri dal fen gor hal jun lum nar pel qua")
TLDS = ("com", "com", "com", "net", "io", "de", "co.uk", "fr", "nl", "org")
FIRST = words("ann ben cara dev eli fay gus hana ivo jon kim leo mara nils")
LAST = words("adler berg cole diaz evans ford gray hill ito jha kerr lund")


# -- the world -----------------------------------------------------------------


@dataclass(frozen=True)
class Domain:
    name: str
    kind: str


@dataclass
class World:
    zone: Zone
    domains: list[Domain]
    hosts: dict[str, str] = field(default_factory=dict)  # mail host -> address

    def host(self, name: str) -> str:
        """The mail host's A record, created once: hosts are shared."""
        if name not in self.hosts:
            index = len(self.hosts)
            address = f"127.0.{2 + index // 250}.{1 + index % 250}"
            self.hosts[name] = address
            self.zone.a(name, address)
        return name


def company_name(rng: random.Random, taken: set[str]) -> str:
    while True:
        stem = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        name = f"{stem}{rng.randint(1, 99)}.{rng.choice(TLDS)}"
        if name not in taken:
            taken.add(name)
            return name


def build_world(rng: random.Random, domains: int) -> World:
    world = World(Zone(), [])
    for name in CONSUMERS:
        hosts = [(5 * i, world.host(f"mx{i}.{name}")) for i in range(1, 4)]
        world.zone.mx(name, hosts)
        world.domains.append(Domain(name, "consumer"))

    taken = set(CONSUMERS)
    kinds = [kind for kind, _ in COMPANY_KINDS]
    weights = [share for _, share in COMPANY_KINDS]
    for _ in range(domains - len(CONSUMERS)):
        kind = rng.choices(kinds, weights)[0]
        domain = Domain(company_name(rng, taken), kind)
        add_domain(world, rng, domain)
        world.domains.append(domain)
    return world


def add_domain(world: World, rng: random.Random, domain: Domain) -> None:
    zone, name, kind = world.zone, domain.name, domain.kind
    if kind == "workspace":
        zone.mx(name, [(p, world.host(h)) for p, h in WORKSPACE_HOSTS])
    elif kind == "tenant":  # one host name per customer, as some suites do
        tenant = name.replace(".", "-") + ".mail.protection.officecloud-mx.net"
        zone.mx(name, [(0, world.host(tenant))])
    elif kind == "hosting":
        provider = rng.choice(HOSTING_PROVIDERS)
        hosts = [(10, f"mx1.{provider}.net"), (20, f"mx2.{provider}.net")]
        zone.mx(name, [(p, world.host(h)) for p, h in hosts])
    elif kind == "gateway":
        zone.mx(name, [(p, world.host(h)) for p, h in GATEWAY_HOSTS])
    elif kind == "own_mx":
        zone.mx(name, [(10, world.host(f"mail.{name}"))])
    elif kind == "null_mx":
        zone.null_mx(name)
    elif kind in ("a_only_public", "parked_spf"):
        zone.a(name, f"{PUBLIC_BLOCK}.{rng.randint(0, 255)}.{rng.randint(1, 254)}")
        if kind == "parked_spf":
            zone.txt(name, "v=spf1 -all")
    elif kind == "a_only_loopback":
        zone.a(name, f"127.1.{rng.randint(0, 255)}.{rng.randint(1, 254)}")
    elif kind == "dangling_mx":
        zone.mx(name, [(10, f"mail.{name}")])  # the host has no records


# -- the list ------------------------------------------------------------------


def make_addresses(rng: random.Random, world: World, count: int) -> list[str]:
    """Every domain at least once; consumers half; companies Zipf-skewed."""
    consumers = [d.name for d in world.domains if d.kind == "consumer"]
    companies = [d.name for d in world.domains if d.kind != "consumer"]
    picks = [d.name for d in world.domains]
    spare = max(count - len(picks), 0)
    consumer_weights = [1 / rank for rank in range(1, len(consumers) + 1)]
    company_weights = [1 / (rank + 5) for rank in range(1, len(companies) + 1)]
    to_consumers = int(spare * CONSUMER_ADDRESS_SHARE)
    picks += rng.choices(consumers, consumer_weights, k=to_consumers)
    picks += rng.choices(companies, company_weights, k=spare - to_consumers)

    addresses = [f"{local_part(rng)}@{domain}" for domain in picks]
    for position in range(0, len(addresses), int(1 / RESERVED_ADDRESS_SHARE)):
        addresses[position] = f"{local_part(rng)}@{rng.choice(RESERVED_DOMAINS)}"
    rng.shuffle(addresses)
    return addresses


def local_part(rng: random.Random) -> str:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    return f"{first}.{last}{rng.randint(1, 9999)}"


# -- (a) the product -----------------------------------------------------------


def product_argv(source: Path, out: Path, server: DnsServer, checks: str) -> list[str]:
    return [
        *emailclean_command(),
        "validate",
        str(source),
        "-o",
        str(out),
        "--format",
        "jsonl",
        "--keep",
        "valid,risky,invalid,unknown",
        "--checks",
        checks,
        "--nameserver",
        server.nameserver,
        "--allow-private-mx",
        "--no-checkpoint",
        "--force",
        "-q",
        "--no-progress",
    ]


def product_verdicts(out: Path) -> list[tuple[str, str, str]]:
    """(email, status, reason) for each row, in input order."""
    with open(out, encoding="utf-8") as stream:
        records = [json.loads(line) for line in stream]
    records.sort(key=lambda record: record["row"])
    return [(r["email"], r["status"], r["reason"]) for r in records]


# -- (b) the loop, run in its own process as `bench_dns.py loop ...` -----------


def run_loop_worker(port: int, source: Path, out: Path) -> None:
    """validate_email with a caching resolver over every address."""
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = port
    caching = email_validator.caching_resolver(dns_resolver=resolver)
    addresses = source.read_text(encoding="utf-8").splitlines()

    started = time.perf_counter()
    verdicts = [loop_verdict(address, caching) for address in addresses]
    elapsed = time.perf_counter() - started
    out.write_text(json.dumps({"verdicts": verdicts, "loop_s": elapsed}))


def loop_verdict(address: str, resolver: dns.resolver.Resolver) -> list[str]:
    try:
        info = email_validator.validate_email(
            address, check_deliverability=True, dns_resolver=resolver
        )
    except email_validator.EmailUndeliverableError as error:
        return ["invalid", str(error)]
    except email_validator.EmailNotValidError as error:
        return ["invalid", f"syntax: {error}"]
    # validate_email drops the "unknown-deliverability" note; a timeout or
    # dead resolver shows as a result without MX information.
    if getattr(info, "mx", None) is None:
        return ["unknown", "no MX information (DNS timeout or no nameserver)"]
    return ["valid", ""]


def loop_argv(port: int, source: Path, out: Path) -> list[str]:
    script = str(BENCH_DIR / "bench_dns.py")
    return [sys.executable, script, "loop", str(port), str(source), str(out)]


# -- one round: (a), (b) and a syntax-only run of (a) for CPU ------------------


@dataclass
class Measured:
    """One run of one side, with the DNS queries the server received for it."""

    run: ProcessRun
    queries: int
    query_types: dict[str, int]


@dataclass
class Rounds:
    product: list[Measured] = field(default_factory=list)
    loop: list[Measured] = field(default_factory=list)
    syntax_only: list[Measured] = field(default_factory=list)


def measure(server: DnsServer, argv: list[str]) -> Measured:
    server.clear()
    # Exit 3 would mean "some checks could not run" (e.g. DNS timeouts).
    run = run_measured(argv, allowed_exits=(0, 3))
    types = Counter(query.rdtype for query in server.queries)
    return Measured(run, len(server.queries), dict(types))


def run_rounds(server: DnsServer, paths: dict[str, Path], rounds: int) -> Rounds:
    source, out = paths["list"], paths["product_out"]
    sides = {
        "product": product_argv(source, out, server, "syntax,dns"),
        "loop": loop_argv(server.port, paths["list"], paths["loop_out"]),
    }
    syntax_argv = product_argv(source, paths["syntax_out"], server, "syntax")
    result = Rounds()
    for index in range(rounds):
        order = ("product", "loop") if index % 2 == 0 else ("loop", "product")
        for side in order:
            getattr(result, side).append(measure(server, sides[side]))
        result.syntax_only.append(measure(server, syntax_argv))
        product, loop = result.product[-1], result.loop[-1]
        say(
            f"round {index + 1}/{rounds}: product {product.run.wall_s:.1f} s "
            f"({product.queries} queries), loop {loop.run.wall_s:.1f} s "
            f"({loop.queries} queries)"
        )
    return result


# -- comparing verdicts --------------------------------------------------------


def verdict_class(status: str) -> str:
    """valid and risky both mean deliverable as far as DNS can tell."""
    return "deliverable" if status in ("valid", "risky") else status


def loop_class(verdict: str) -> str:
    return "deliverable" if verdict == "valid" else verdict


# Why a kind of domain gets a different verdict from each side, and whether
# DESIGN.md decides it.
DIFFERENCES = {
    "dangling_mx": "DESIGN §3: every MX name NXDOMAIN is invalid/no_mail_host; "
    "email-validator never resolves MX host names, so it says deliverable",
    "a_only_loopback": "DESIGN §3: a mail host at a non-global address is "
    "probed only with --allow-private-mx (without it: unknown/private_mx, never "
    "invalid); email-validator rejects an A fallback with no global address",
    "parked_spf": "NOT in DESIGN: email-validator rejects a domain with no MX "
    'whose SPF is "v=spf1 -all" ("does not send email"); emailclean accepts '
    "the implicit MX (RFC 5321 §5.1), since SPF is about sending",
    "reserved": "DESIGN §3: RFC 2606/6761 names are invalid/reserved_domain "
    "without a query; email-validator rejects them too (by syntax or DNS)",
}


def domain_kinds(world: World) -> dict[str, str]:
    kinds = {domain.name: domain.kind for domain in world.domains}
    kinds.update({name: "reserved" for name in RESERVED_DOMAINS})
    return kinds


def compare(
    addresses: list[str],
    product: list[tuple[str, str, str]],
    loop: list[list[str]],
    kinds: dict[str, str],
) -> dict[str, object]:
    """Per kind of domain: which verdicts each side gave, for how many."""
    table: dict[str, Counter[str]] = {}
    domains: dict[str, set[str]] = {}
    for address, (email, status, reason), (loop_verdict, _) in zip(
        addresses, product, loop, strict=True
    ):
        assert email == address, f"row order differs at {address!r}"
        theirs = loop_class(loop_verdict)
        domain = address.rpartition("@")[2].lower()
        kind = kinds[domain]
        ours = f"{verdict_class(status)} ({status}/{reason})"
        key = f"emailclean {ours} | email-validator {theirs}"
        table.setdefault(kind, Counter())[key] += 1
        if verdict_class(status) != theirs:
            domains.setdefault(kind, set()).add(domain)
    return {
        "by_kind": {kind: dict(counter) for kind, counter in sorted(table.items())},
        "differing_domains_by_kind": {k: len(v) for k, v in sorted(domains.items())},
        "differing_examples": {k: sorted(v)[:3] for k, v in sorted(domains.items())},
        "explained": {k: DIFFERENCES.get(k, "UNEXPLAINED") for k in domains},
    }


def read_loop_verdicts(path: Path) -> tuple[list[list[str]], float]:
    document = json.loads(path.read_text(encoding="utf-8"))
    return document["verdicts"], document["loop_s"]


# -- summary ---------------------------------------------------------------------


def listed_domains(world: World, addresses: list[str]) -> list[Domain]:
    """The world's domains that the list holds (reserved names left out)."""
    listed = {address.rpartition("@")[2].lower() for address in addresses}
    return [domain for domain in world.domains if domain.name in listed]


def mail_hosts(world: World, domain: str) -> set[str]:
    """The MX host names of `domain` that have an address record."""
    node = world.zone.records.get(to_name(domain), {})
    names = {text.split()[1].rstrip(".") for text in node.get(MX, [])}
    return {name for name in names if name in world.hosts}


def query_floor(world: World, domains: list[Domain]) -> int:
    """The fewest queries that can decide these domains (no additional data).

    One MX query per domain, one A query per distinct mail host name (shared
    hosts once), one A query per domain without MX and per dangling MX name.
    """
    fallbacks = ("a_only_public", "a_only_loopback", "parked_spf", "dangling_mx")
    extra = sum(1 for domain in domains if domain.kind in fallbacks)
    hosts = set().union(*(mail_hosts(world, domain.name) for domain in domains))
    return len(domains) + len(hosts) + extra


def side_summary(
    runs: list[Measured], addresses: int, domains: int
) -> dict[str, float]:
    wall = median([m.run.wall_s for m in runs])
    cpu = median([m.run.cpu_s for m in runs])
    queries = median([m.queries for m in runs])
    return {
        "median_wall_s": wall,
        "median_cpu_s": cpu,
        "addresses_per_s": addresses / wall,
        "median_queries": queries,
        "queries_per_unique_domain": queries / domains,
        "cpu_ms_per_query": 1000 * cpu / queries if queries else float("nan"),
    }


def summarize(rounds: Rounds, world: World, addresses: list[str]) -> dict[str, object]:
    listed = listed_domains(world, addresses)
    domains, floor = len(listed), query_floor(world, listed)
    product = side_summary(rounds.product, len(addresses), domains)
    loop = side_summary(rounds.loop, len(addresses), domains)
    syntax_cpu = median([m.run.cpu_s for m in rounds.syntax_only])
    net_cpu = product["median_cpu_s"] - syntax_cpu
    paired = [
        b.run.wall_s / a.run.wall_s
        for a, b in zip(rounds.product, rounds.loop, strict=True)
    ]
    speed = loop["median_wall_s"] / product["median_wall_s"]
    return {
        "addresses": len(addresses),
        "unique_domains": domains,
        "distinct_mail_hosts": len(world.hosts),
        "query_floor": floor,
        "query_floor_per_domain": floor / domains,
        "product": product,
        "loop": loop,
        "product_syntax_only_cpu_s": syntax_cpu,
        "product_dns_cpu_ms_per_query": 1000 * net_cpu / product["median_queries"],
        "product_query_types": rounds.product[-1].query_types,
        "loop_query_types": rounds.loop[-1].query_types,
        "speed_ratio_of_medians": speed,
        "speed_paired_ratios": paired,
        "speed_median_paired_ratio": median(paired),
        "queries_bar_met": product["queries_per_unique_domain"]
        <= QUERIES_PER_DOMAIN_BAR,
        "speed_bar_met": median(paired) >= SPEED_BAR,
    }


def print_summary(summary: dict[str, object], verdicts: dict[str, object]) -> None:
    s = summary
    print(
        f"{s['addresses']:,} addresses, {s['unique_domains']:,} domains, "
        f"{s['distinct_mail_hosts']:,} mail hosts; query floor "
        f"{s['query_floor_per_domain']:.2f}/domain"
    )
    print(
        f"{'':14}{'median s':>9}{'addr/s':>9}{'queries':>9}{'q/domain':>9}"
        f"{'CPU s':>7}{'CPU ms/q':>9}"
    )
    for side in ("product", "loop"):
        m = s[side]
        assert isinstance(m, dict)
        print(
            f"{side:14}{m['median_wall_s']:>9.1f}{m['addresses_per_s']:>9,.0f}"
            f"{m['median_queries']:>9,.0f}{m['queries_per_unique_domain']:>9.2f}"
            f"{m['median_cpu_s']:>7.1f}{m['cpu_ms_per_query']:>9.2f}"
        )
    print(
        f"product CPU net of a syntax-only run: "
        f"{s['product_dns_cpu_ms_per_query']:.2f} ms/query"
    )
    print(
        f"speed: {s['speed_median_paired_ratio']:.1f}x median of pairs "
        f"(bar >= {SPEED_BAR:g}x: {'met' if s['speed_bar_met'] else 'NOT met'}); "
        f"queries/domain bar <= {QUERIES_PER_DOMAIN_BAR}: "
        f"{'met' if s['queries_bar_met'] else 'NOT met'}"
    )
    print("verdicts by kind of domain:")
    by_kind = verdicts["by_kind"]
    assert isinstance(by_kind, dict)
    for kind, counter in by_kind.items():
        for key, count in counter.items():
            print(f"  {kind:16}{count:>7,}  {key}")
    print("differences (domains):", verdicts["differing_domains_by_kind"])


# -- the run ---------------------------------------------------------------------


def prepare(args: argparse.Namespace) -> tuple[World, list[str], dict[str, Path]]:
    rng = random.Random(args.seed)
    world = build_world(rng, args.domains)
    addresses = make_addresses(rng, world, args.addresses)
    stem = DATA_DIR / f"dns-bench-{args.addresses}"
    paths = {
        "list": stem.with_suffix(".txt"),
        "product_out": stem.with_suffix(".product.jsonl"),
        "syntax_out": stem.with_suffix(".syntax.jsonl"),
        "loop_out": stem.with_suffix(".loop.json"),
    }
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    paths["list"].write_text("\n".join(addresses) + "\n", encoding="utf-8")
    return world, addresses, paths


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--addresses", type=int, default=50_000)
    parser.add_argument("--domains", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--delay", type=float, default=DNS_DELAY_S)
    parser.add_argument("--seed", type=int, default=2026)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    raw = sys.argv[1:] if argv is None else argv
    if raw[:1] == ["loop"]:
        run_loop_worker(int(raw[1]), Path(raw[2]), Path(raw[3]))
        return 0

    args = parse_args(raw)
    world, addresses, paths = prepare(args)
    with DnsServer(world.zone, delay=args.delay) as server:
        rounds = run_rounds(server, paths, args.rounds)
    summary = summarize(rounds, world, addresses)
    loop_verdicts, loop_inner_s = read_loop_verdicts(paths["loop_out"])
    product = product_verdicts(paths["product_out"])
    verdicts = compare(addresses, product, loop_verdicts, domain_kinds(world))
    summary["loop_inner_s_last"] = loop_inner_s
    print_summary(summary, verdicts)
    document = {
        "benchmark": "emailclean --checks syntax,dns vs caching email-validator loop",
        "dns_delay_s": args.delay,
        "kinds": dict(Counter(domain.kind for domain in world.domains)),
        "rounds": {
            name: [asdict(m) for m in getattr(rounds, name)]
            for name in ("product", "loop", "syntax_only")
        },
        "summary": summary,
        "verdicts": verdicts,
    }
    print(f"wrote {write_result('dns', document)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
