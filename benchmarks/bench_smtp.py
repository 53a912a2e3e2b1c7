"""Benchmark: SMTP probing with shared sessions vs one connection per address.

Issue 5. What is measured, side by side in one run, against the same
loopback world and the same politeness caps:

(a) the product: `emailclean validate LIST --checks syntax,dns,smtp
    --per-host 2 --nameserver ... --smtp-port ... --allow-private-mx`, in a
    subprocess timed by `os.wait4`;
(b) the baseline most open-source verifiers amount to: one connection per
    address (connect, EHLO, MAIL FROM, RCPT TO, QUIT) with aiosmtplib, the
    same per-host cap and total cap (benchmarks/smtp_probe_loop.py), also a
    subprocess.

The world: about 20 aiosmtpd servers (tests/world/smtp_servers.py) on
127.0.0.2+, most of them mailboxes with 1,500 real-looking users each and
two catch-all hosts, serving about 500 domains through the loopback DNS
server (no delay). Domains are Zipf-skewed: the five biggest, each on its
own host, hold about half the addresses; the tail shares hosts. About a
quarter of the addresses at mailbox hosts do not exist.

The servers record every connection's commands, so we report, for each
side: connections per address (bar for (a): at most 0.1), recipients per
session, peak concurrent connections per host (bar: never above
--per-host), and that DATA was never sent; and addresses per second, as
the median over rounds of the paired ratio (bar: (a) at least 3 times (b)).
Verdicts are compared too: a 250 from the baseline should be valid (or
risky/catch_all at a catch-all host) and a 550 invalid.

    python benchmarks/bench_smtp.py --addresses 5000 --rounds 1   # first
    python benchmarks/bench_smtp.py --addresses 50000 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

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

from tests.world.dns_server import DnsServer, Zone
from tests.world.smtp_servers import (
    RunningServers,
    ServerRecord,
    ServerSpec,
    SmtpWorld,
    catch_all,
    mailbox,
)

MAILBOX_SERVERS = 18
CATCH_ALL_SERVERS = 2
OWN_HOST_DOMAINS = 5  # the biggest domains each have a host of their own
USERS_PER_SERVER = 1_500
MISSING_SHARE = 0.25
ZIPF_EXPONENT = 1.1
PER_HOST = 2
MAX_CONNECTIONS = 20  # emailclean's default --max-connections
CONNECTIONS_PER_ADDRESS_BAR = 0.1
SPEED_BAR = 3.0
FIRST = words("ann ben cara dev eli fay gus hana ivo jon kim leo mara nils")
LAST = words("adler berg cole diaz evans ford gray hill ito jha kerr lund")
SYLLABLES = words("ka lo mi ren tor vex bri dal fen gor hal jun lum nar")


# -- the world -------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """Which server each domain uses and which users each server has."""

    specs: dict[str, ServerSpec]
    users: dict[str, list[str]]  # server key -> existing local parts
    domains: dict[str, str]  # domain -> server key
    weights: dict[str, float]  # domain -> share of addresses


def user_names(rng: random.Random, count: int) -> list[str]:
    names: set[str] = set()
    while len(names) < count:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        names.add(f"{first}.{last}{rng.randint(1, 999)}")
    return sorted(names)


def plan_world(rng: random.Random, domain_count: int) -> Plan:
    specs: dict[str, ServerSpec] = {}
    users: dict[str, list[str]] = {}
    for index in range(MAILBOX_SERVERS):
        key = f"mbox{index:02d}"
        users[key] = user_names(rng, USERS_PER_SERVER)
        specs[key] = mailbox(*users[key])
    for index in range(CATCH_ALL_SERVERS):
        specs[f"catchall{index}"] = catch_all()
        users[f"catchall{index}"] = user_names(rng, USERS_PER_SERVER)

    names = domain_names(rng, domain_count)
    own = list(specs)[:OWN_HOST_DOMAINS]
    shared = list(specs)[OWN_HOST_DOMAINS:]
    domains = {name: own[rank] for rank, name in enumerate(names[:OWN_HOST_DOMAINS])}
    domains.update({name: rng.choice(shared) for name in names[OWN_HOST_DOMAINS:]})
    weights = {
        name: 1 / rank**ZIPF_EXPONENT for rank, name in enumerate(names, start=1)
    }
    return Plan(specs, users, domains, weights)


def domain_names(rng: random.Random, count: int) -> list[str]:
    names: dict[str, None] = {}
    while len(names) < count:
        stem = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3)))
        names.setdefault(f"{stem}{rng.randint(1, 99)}-mail.com", None)
    return list(names)


def make_zone(plan: Plan, servers: RunningServers) -> Zone:
    zone = Zone()
    for key in plan.specs:
        zone.a(servers[key].mx_name, servers[key].address)
    for domain, key in plan.domains.items():
        zone.mx(domain, [(10, servers[key].mx_name)])
    return zone


def make_addresses(rng: random.Random, plan: Plan, count: int) -> list[str]:
    """Unique addresses; a quarter of those at mailbox hosts do not exist."""
    domains = list(plan.weights)
    weights = list(plan.weights.values())
    chosen: dict[str, None] = {}
    while len(chosen) < count:
        domain = rng.choices(domains, weights)[0]
        key = plan.domains[domain]
        if rng.random() < MISSING_SHARE:
            local = f"{rng.choice(FIRST)}{rng.choice(LAST)}.x{rng.randint(1, 99999)}"
        else:
            local = rng.choice(plan.users[key])
        chosen.setdefault(f"{local}@{domain}", None)
    return list(chosen)


# -- what the servers saw ------------------------------------------------------------


def reset_records(servers: RunningServers) -> None:
    """Fresh records between runs (no connection is open then)."""
    for server in servers:
        server.record = ServerRecord()
    servers.concurrency.current = 0
    servers.concurrency.max_concurrent = 0


def command_shape(verbs: list[str]) -> str:
    """`EHLO MAIL RCPT RCPT RCPT QUIT` -> `EHLO MAIL RCPT*3 QUIT`."""
    text = " ".join(verbs)
    return re.sub(r"(RCPT)( RCPT)+", lambda m: f"RCPT*{m.group(0).count('RCPT')}", text)


@dataclass
class Seen:
    """The servers' records of one run, reduced to what the bars need."""

    connections: int
    rcpt_commands: int
    data_commands: int
    recipients_per_session: list[int]
    peak_per_host: dict[str, int]
    peak_total: int
    verbs: dict[str, int]
    shapes: dict[str, int]
    example_connections: list[list[tuple[str, str]]]


def read_records(servers: RunningServers) -> Seen:
    connections = [c for server in servers for c in server.record.connections]
    shapes = Counter(command_shape(c.verbs) for c in connections)
    verbs = Counter(verb for c in connections for verb in c.verbs)
    busiest = max(servers, key=lambda s: len(s.record.connections))
    return Seen(
        connections=len(connections),
        rcpt_commands=verbs["RCPT"],
        data_commands=sum(s.record.data_commands for s in servers),
        recipients_per_session=[len(c.recipients) for c in connections],
        peak_per_host={s.key: s.record.max_concurrent for s in servers},
        peak_total=servers.concurrency.max_concurrent,
        verbs=dict(verbs),
        shapes=dict(shapes.most_common(8)),
        example_connections=[c.commands for c in busiest.record.connections[:2]],
    )


# -- the two sides ---------------------------------------------------------------


@dataclass
class Measured:
    run: ProcessRun
    seen: Seen
    no_reply: int  # addresses without an answer: unknown, or no RCPT reply
    server_cpu_s: float  # this process's CPU meanwhile: the servers' share


@dataclass
class Rounds:
    product: list[Measured] = field(default_factory=list)
    loop: list[Measured] = field(default_factory=list)


def product_argv(
    source: Path, out: Path, dns: DnsServer, servers: RunningServers
) -> list[str]:
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
        "syntax,dns,smtp",
        "--nameserver",
        dns.nameserver,
        "--smtp-port",
        str(servers.port),
        "--allow-private-mx",
        "--per-host",
        str(PER_HOST),
        "--max-connections",
        str(MAX_CONNECTIONS),
        "--no-checkpoint",
        "--force",
        "-q",
        "--no-progress",
    ]


def loop_argv(
    source: Path, out: Path, dns: DnsServer, servers: RunningServers
) -> list[str]:
    return [
        sys.executable,
        str(BENCH_DIR / "smtp_probe_loop.py"),
        str(source),
        str(out),
        "--nameserver",
        dns.nameserver,
        "--smtp-port",
        str(servers.port),
        "--per-host",
        str(PER_HOST),
        "--max-connections",
        str(MAX_CONNECTIONS),
    ]


def measure(servers: RunningServers, argv: list[str], out: Path) -> Measured:
    reset_records(servers)
    cpu_before = time.process_time()
    # Exit 3: finished, but some checks could not run as asked.
    run = run_measured(argv, allowed_exits=(0, 3))
    server_cpu = time.process_time() - cpu_before
    return Measured(run, read_records(servers), count_unanswered(out), server_cpu)


def count_unanswered(out: Path) -> int:
    """Product rows left unknown, or baseline addresses without a reply."""
    if out.suffix == ".json":
        codes = json.loads(out.read_text(encoding="utf-8"))["codes"]
        return sum(1 for code in codes if code == 0)
    with open(out, encoding="utf-8") as stream:
        return sum(1 for line in stream if json.loads(line)["status"] == "unknown")


def run_rounds(
    sides: dict[str, tuple[list[str], Path]], servers: RunningServers, rounds: int
) -> Rounds:
    result = Rounds()
    for index in range(rounds):
        order = ("product", "loop") if index % 2 == 0 else ("loop", "product")
        for side in order:
            argv, out = sides[side]
            getattr(result, side).append(measure(servers, argv, out))
        product, loop = result.product[-1], result.loop[-1]
        say(
            f"round {index + 1}/{rounds}: product {product.run.wall_s:.1f} s, "
            f"{product.seen.connections} connections, {product.no_reply} unknown; "
            f"loop {loop.run.wall_s:.1f} s, {loop.seen.connections} connections, "
            f"{loop.no_reply} without reply"
        )
    return result


# -- verdicts --------------------------------------------------------------------


def compare(
    addresses: list[str], plan: Plan, product_out: Path, loop_out: Path
) -> dict[str, int]:
    """Counts of (host kind, product status/reason, baseline RCPT code)."""
    with open(product_out, encoding="utf-8") as stream:
        records = sorted((json.loads(line) for line in stream), key=lambda r: r["row"])
    codes = json.loads(loop_out.read_text(encoding="utf-8"))["codes"]
    table: Counter[str] = Counter()
    for address, record, code in zip(addresses, records, codes, strict=True):
        assert record["email"] == address, f"row order differs at {address!r}"
        key = plan.domains[address.rpartition("@")[2]]
        kind = "catch-all host" if key.startswith("catchall") else "mailbox host"
        table[
            f"{kind}: emailclean {record['status']}/{record['reason']}, "
            f"baseline RCPT {code}"
        ] += 1
    return dict(table.most_common())


# -- summary ---------------------------------------------------------------------


def side_summary(runs: list[Measured], addresses: int) -> dict[str, object]:
    wall = median([m.run.wall_s for m in runs])
    sessions = [n for m in runs for n in m.seen.recipients_per_session]
    connections = median([m.seen.connections for m in runs])
    return {
        "median_wall_s": wall,
        "median_cpu_s": median([m.run.cpu_s for m in runs]),
        "median_server_cpu_s": median([m.server_cpu_s for m in runs]),
        "addresses_per_s": addresses / wall,
        "median_connections": connections,
        "connections_per_address": connections / addresses,
        "recipients_per_session_mean": sum(sessions) / max(len(sessions), 1),
        "recipients_per_session_max": max(sessions, default=0),
        "rcpt_commands_median": median([m.seen.rcpt_commands for m in runs]),
        "peak_per_host_max": max(max(m.seen.peak_per_host.values()) for m in runs),
        "peak_total_max": max(m.seen.peak_total for m in runs),
        "data_commands_total": sum(m.seen.data_commands for m in runs),
    }


def summarize(rounds: Rounds, addresses: int) -> dict[str, object]:
    product = side_summary(rounds.product, addresses)
    loop = side_summary(rounds.loop, addresses)
    paired = [
        b.run.wall_s / a.run.wall_s
        for a, b in zip(rounds.product, rounds.loop, strict=True)
    ]
    per_address = product["connections_per_address"]
    peak = product["peak_per_host_max"]
    assert isinstance(per_address, float) and isinstance(peak, int)
    return {
        "addresses": addresses,
        "loop_without_reply_last_round": rounds.loop[-1].no_reply,
        "product_unknown_last_round": rounds.product[-1].no_reply,
        "product": product,
        "loop": loop,
        "speed_paired_ratios": paired,
        "speed_median_paired_ratio": median(paired),
        "connections_bar_met": per_address <= CONNECTIONS_PER_ADDRESS_BAR,
        "per_host_bar_met": peak <= PER_HOST,
        "no_data_met": product["data_commands_total"] == 0,
        "speed_bar_met": median(paired) >= SPEED_BAR,
    }


def print_summary(summary: dict[str, object], rounds: Rounds) -> None:
    s = summary
    print(
        f"{s['addresses']:,} addresses, --per-host {PER_HOST}, "
        f"--max-connections {MAX_CONNECTIONS}"
    )
    print(
        f"{'':9}{'median s':>9}{'addr/s':>9}{'conns':>8}{'conn/addr':>10}"
        f"{'rcpt/sess':>10}{'peak/host':>10}{'peak all':>9}{'DATA':>5}"
        f"{'CPU s':>7}{'server CPU':>11}"
    )
    for side in ("product", "loop"):
        m = s[side]
        assert isinstance(m, dict)
        print(
            f"{side:9}{m['median_wall_s']:>9.1f}{m['addresses_per_s']:>9,.0f}"
            f"{m['median_connections']:>8,.0f}{m['connections_per_address']:>10.3f}"
            f"{m['recipients_per_session_mean']:>10.1f}{m['peak_per_host_max']:>10}"
            f"{m['peak_total_max']:>9}{m['data_commands_total']:>5}"
            f"{m['median_cpu_s']:>7.1f}{m['median_server_cpu_s']:>11.1f}"
        )
    print(
        f"speed: {s['speed_median_paired_ratio']:.1f}x median of pairs "
        f"(bar >= {SPEED_BAR:g}x: {_met(s['speed_bar_met'])}); connections/address "
        f"bar <= {CONNECTIONS_PER_ADDRESS_BAR}: {_met(s['connections_bar_met'])}; "
        f"per-host bar <= {PER_HOST}: {_met(s['per_host_bar_met'])}; "
        f"DATA never sent: {_met(s['no_data_met'])}"
    )
    print("product command shapes:", rounds.product[-1].seen.shapes)
    print("loop command shapes:", rounds.loop[-1].seen.shapes)


def _met(flag: object) -> str:
    return "met" if flag else "NOT met"


# -- the run ---------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--addresses", type=int, default=50_000)
    parser.add_argument("--domains", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dns-delay", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=2026)
    return parser.parse_args(argv)


def bench_paths(addresses: int) -> dict[str, Path]:
    stem = DATA_DIR / f"smtp-bench-{addresses}"
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    return {
        "list": stem.with_suffix(".txt"),
        "product_out": stem.with_suffix(".product.jsonl"),
        "loop_out": stem.with_suffix(".loop.json"),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rng = random.Random(args.seed)
    plan = plan_world(rng, args.domains)
    addresses = make_addresses(rng, plan, args.addresses)
    paths = bench_paths(args.addresses)
    paths["list"].write_text("\n".join(addresses) + "\n", encoding="utf-8")

    world = SmtpWorld()
    servers = world.start(plan.specs)
    try:
        with DnsServer(make_zone(plan, servers), delay=args.dns_delay) as dns:
            product_out, loop_out = paths["product_out"], paths["loop_out"]
            sides = {
                "product": (
                    product_argv(paths["list"], product_out, dns, servers),
                    product_out,
                ),
                "loop": (loop_argv(paths["list"], loop_out, dns, servers), loop_out),
            }
            rounds = run_rounds(sides, servers, args.rounds)
    finally:
        world.stop()

    summary = summarize(rounds, len(addresses))
    verdicts = compare(addresses, plan, paths["product_out"], paths["loop_out"])
    print_summary(summary, rounds)
    for key, count in verdicts.items():
        print(f"  {count:>7,}  {key}")
    document = {
        "benchmark": "emailclean SMTP sessions vs one connection per address",
        "domains": args.domains,
        "servers": {
            key: ("catch-all" if spec.catch_all else "mailbox")
            for key, spec in plan.specs.items()
        },
        "addresses_per_server": dict(
            Counter(plan.domains[a.rpartition("@")[2]] for a in addresses)
        ),
        "rounds": {
            name: [asdict(m) for m in getattr(rounds, name)]
            for name in ("product", "loop")
        },
        "summary": summary,
        "verdicts": verdicts,
    }
    print(f"wrote {write_result('smtp', document)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
