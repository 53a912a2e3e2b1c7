"""Crash matrix (DESIGN §7): die at every step that makes a job crash-safe.

For each output shape and each fault point (`write`, `fsync`, `rename`,
`truncate`, `commit`), the job dies (`os._exit(99)`, no cleanup, like a
power cut) the 1st, 2nd, ... N-th time it reaches the point, for every N
until a run no longer reaches it. Then `emailclean resume CKPT` (again while
it keeps dying and making progress) must end with files byte-identical to
an uninterrupted run, and nothing left behind.

The job is small (two batches of rows) and commits after every batch
(EMAILCLEAN_COMMIT_INTERVAL=0), so every commit point is reached. `truncate`
happens only on resume: that scenario first dies at the 2nd commit, then
dies at the N-th truncation of the resume.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import CliResult, run_cli
from tests.resume_forkserver import ForkServer
from tests.resume_helpers import (
    CRASH_EXIT,
    Runner,
    crash_env,
    finish_after_crash,
    table_rows,
    validate,
    write_csv,
    write_txt,
)
from tests.world.dns_fixtures import StartDnsServer
from tests.world.dns_server import DnsServer, Zone
from tests.world.smtp_fixtures import StartSmtpServers
from tests.world.smtp_servers import (
    RunningServers,
    SmtpWorld,
    catch_all,
    greylisting,
    mailbox,
    mailbox_full,
    policy_block,
)

ROWS = 600  # two batches of 512 rows
BATCH = 512
PARALLEL = 3  # N values tried at once; each is its own folder and process


@dataclass(frozen=True)
class Shape:
    """One kind of job: its input and the options that shape the output."""

    input_name: str
    args: tuple[str, ...]
    outputs: tuple[str, ...]
    rows: int = ROWS

    @property
    def commits(self) -> int:
        """One per batch, one to mark the job complete."""
        return -(-self.rows // BATCH) + 1

    def prepare(self, folder: Path) -> None:
        folder.mkdir()
        if self.input_name.endswith(".txt"):
            write_txt(folder / self.input_name, self.rows, seed=3)
        else:
            write_csv(folder / self.input_name, self.rows, seed=3, newline="\r\n")

    def run(self, folder: Path, env: dict[str, str] | None, run: Runner) -> CliResult:
        result = validate(
            folder,
            self.input_name,
            *self.args,
            "--checks",
            "syntax",
            "-q",
            env=env,
            run=run,
        )
        assert "Traceback" not in result.stderr
        return result

    def files(self, folder: Path) -> dict[str, bytes]:
        """Every file the job left, by name relative to the folder."""
        return {
            str(path.relative_to(folder)): path.read_bytes()
            for path in sorted(folder.rglob("*"))
            if path.is_file() and path.name != self.input_name
        }


SPLITS = tuple(f"split/{s}.csv" for s in ("valid", "risky", "invalid", "unknown"))
SHAPES = {
    "csv": Shape("in.csv", ("-o", "out.csv"), ("out.csv",)),
    "jsonl-dedupe": Shape("in.csv", ("-o", "out.jsonl", "--dedupe"), ("out.jsonl",)),
    "json": Shape("in.csv", ("-o", "out.json"), ("out.json",)),
    "txt": Shape("in.txt", ("-o", "out.txt"), ("out.txt",)),
    "split-dir-dedupe": Shape(
        "in.csv",
        ("-o", "out.csv", "--split-dir", "split", "--dedupe"),
        ("out.csv", *SPLITS),
        rows=400,  # one batch: five files already make many steps
    ),
}
POINTS = ("write", "fsync", "commit", "rename", "truncate")


def crash_and_resume(
    run: Runner, shape: Shape, folder: Path, point: str, count: int
) -> bool:
    """Run one scenario; True when the job really died at `point`:`count`."""
    shape.prepare(folder)
    checkpoint = folder / (shape.args[1] + ".ckpt")
    env = crash_env(point, count)
    first_env = crash_env("commit", 2) if point == "truncate" else env
    first = shape.run(folder, first_env, run)
    if point == "truncate":
        assert first.rc == CRASH_EXIT, first.stderr
    elif first.rc == 0:
        return False
    codes = finish_after_crash(folder, checkpoint, first, env, run)
    if point == "truncate":
        return codes[1] == CRASH_EXIT
    return True


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[ForkServer]]:
    started = [
        ForkServer(tmp_path_factory.mktemp("forkserver")) for _ in range(PARALLEL)
    ]
    yield started
    for server in started:
        server.close()


@pytest.fixture(scope="module")
def references(
    tmp_path_factory: pytest.TempPathFactory, servers: list[ForkServer]
) -> dict[str, dict[str, bytes]]:
    """Each shape's files from one uninterrupted run (of `python -m emailclean`
    itself, so the fork server is held to the real thing)."""
    found = {}
    for name, shape in SHAPES.items():
        folder = tmp_path_factory.mktemp("reference") / name
        shape.prepare(folder)
        assert shape.run(folder, None, run_cli).rc == 0
        found[name] = shape.files(folder)
        assert sorted(found[name]) == sorted(shape.outputs)
    return found


@pytest.mark.slow
@pytest.mark.parametrize("point", POINTS)
@pytest.mark.parametrize("shape_name", SHAPES)
def test_crash_at_every_point_resume_byte_identical(
    tmp_path: Path,
    references: dict[str, dict[str, bytes]],
    servers: list[ForkServer],
    shape_name: str,
    point: str,
) -> None:
    shape = SHAPES[shape_name]
    reached: list[int] = []
    count = 1
    with ThreadPoolExecutor(PARALLEL) as pool:
        while True:
            counts = range(count, count + PARALLEL)
            folders = [tmp_path / f"{point}-{n}" for n in counts]
            outcomes = list(
                pool.map(
                    lambda server, n, f: crash_and_resume(
                        server.run, shape, f, point, n
                    ),
                    servers,
                    counts,
                    folders,
                )
            )
            for n, folder, died in zip(counts, folders, outcomes, strict=True):
                assert shape.files(folder) == references[shape_name], (point, n)
                if died:
                    reached.append(n)
                shutil.rmtree(folder)
            if not all(outcomes):
                break
            count += PARALLEL
    assert reached, f"the job never reached {point}"
    assert reached == list(range(1, len(reached) + 1))
    if point == "commit":
        assert len(reached) == shape.commits


# -- with DNS and SMTP stages on ---------------------------------------------

NETWORK_ROWS = 560  # two batches: the first commit is mid-job


def network_world(
    start_dns_server: StartDnsServer, smtp_servers: StartSmtpServers
) -> tuple[tuple[str, ...], DnsServer]:
    """Fresh loopback servers (attempt counts from zero): CLI options, DNS."""
    world = smtp_servers(NETWORK_SERVERS)
    dns = start_dns_server(network_zone(world))
    return network_options(dns, world), dns


NETWORK_SERVERS = {
    "mx": mailbox("alice", "bob", "carol"),
    "ca": catch_all(),
    "grey": greylisting(1, "dave"),
    "full": mailbox_full(),
    "block": policy_block(),
}


def network_zone(world: RunningServers) -> Zone:
    zone = Zone()
    for key, domain in DOMAIN_OF.items():
        zone.mx(domain, [(10, f"mx.{domain}")]).a(f"mx.{domain}", world[key].address)
    return zone.null_mx("nullmx-corp.com")


def network_options(dns: DnsServer, world: RunningServers) -> tuple[str, ...]:
    return (
        "--nameserver", dns.nameserver, "--smtp-port", str(world.port),
        "--allow-private-mx", "--timeout", "5", "--greylist-wait", "1",
    )  # fmt: skip


DOMAIN_OF = {
    "mx": "acme-mail.com",
    "ca": "catchall-corp.net",
    "grey": "grey-mail.org",
    "full": "full-mail.net",
    "block": "block-mail.net",
}
NETWORK_CELLS = (
    "alice@acme-mail.com", "nobody{n}@acme-mail.com", "x{n}@catchall-corp.net",
    "y@full-mail.net", "z@block-mail.net", "a{n}@nullmx-corp.com",
    "b@nxdomain-corp.net", "bob@acme-mail.com", "not an address",
)  # fmt: skip


def write_network_list(folder: Path) -> None:
    """Mostly rows decided without SMTP; SMTP rows spread over both batches;
    the greylisted mailbox in the second batch."""
    lines = []
    for n in range(1, NETWORK_ROWS + 1):
        cell = NETWORK_CELLS[n % len(NETWORK_CELLS)].format(n=n % 7)
        lines.append("dave@grey-mail.org" if n == 540 else cell)
    folder.mkdir()
    (folder / "in.txt").write_text("\n".join(lines) + "\n")


NETWORK_ARGS = ("in.txt", "-o", "out.jsonl", "--keep", "valid,risky,invalid,unknown")


@pytest.fixture(scope="module")
def network_reference(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """One uninterrupted run against servers of its own."""
    folder = tmp_path_factory.mktemp("network") / "reference"
    write_network_list(folder)
    world = SmtpWorld()
    try:
        servers = world.start(NETWORK_SERVERS)
        with DnsServer(network_zone(servers)) as dns:
            options = network_options(dns, servers)
            result = run_cli("validate", *NETWORK_ARGS, *options, "-q", cwd=folder)
    finally:
        world.stop()
    assert result.rc == 0, result.stderr
    expected = (folder / "out.jsonl").read_bytes()
    reasons = {json.loads(line)["reason"] for line in expected.splitlines()}
    assert reasons == {
        "mailbox_exists", "mailbox_not_found", "catch_all", "mailbox_full",
        "blocked", "null_mx", "no_domain", "bad_syntax",
    }  # fmt: skip
    return expected


@pytest.mark.slow
@pytest.mark.parametrize(
    "count", [1, 2, 3], ids=["first-commit", "second-commit", "final-commit"]
)
def test_crash_with_dns_and_smtp_resume_byte_identical(
    tmp_path: Path,
    start_dns_server: StartDnsServer,
    smtp_servers: StartSmtpServers,
    network_reference: bytes,
    count: int,
) -> None:
    """Killed at each commit (one per batch, then the one that marks the job
    complete), then resumed: identical output, and a domain answered before
    a commit that went through is not asked again (the job state kept it)."""
    write_network_list(tmp_path / "job")
    options, dns = network_world(start_dns_server, smtp_servers)

    died = run_cli(
        "validate", *NETWORK_ARGS, *options, "-q", cwd=tmp_path / "job",
        env=crash_env("commit", count),
    )  # fmt: skip
    asked = dns.count("acme-mail.com", "MX")
    resumed = run_cli("resume", "out.jsonl.ckpt", "-q", cwd=tmp_path / "job")

    assert died.rc == CRASH_EXIT, died.stderr
    assert resumed.rc == 0, resumed.stderr
    assert (tmp_path / "job" / "out.jsonl").read_bytes() == network_reference
    assert sorted(p.name for p in (tmp_path / "job").iterdir()) == [
        "in.txt",
        "out.jsonl",
    ]
    assert asked == 1
    assert dns.count("acme-mail.com", "MX") == (2 if count == 1 else 1)


# -- rows spilled to the job state behind a slow row ---------------------------


@pytest.mark.slow
def test_crash_with_rows_spilled_behind_slow_row_resume_byte_identical(
    tmp_path: Path, start_dns_server: StartDnsServer
) -> None:
    """The first row waits 3 s for DNS; 40,000 finished rows behind it spill
    into the job state (DESIGN §5). Killed at the second commit, with
    spilled rows committed: the resume writes them, in order, unchanged."""
    zone = Zone().mx("slow-mail.com", [(10, "mx.slow-mail.com")])
    zone.a("mx.slow-mail.com", "127.0.0.2").delay("slow-mail.com", 3.0)
    zone.mx("fast-mail.com", [(10, "mx.fast-mail.com")])
    zone.a("mx.fast-mail.com", "127.0.0.2")
    dns = start_dns_server(zone)
    lines = ["slow@slow-mail.com", *(f"u{n}@fast-mail.com" for n in range(40_000))]
    args = ("validate", "in.txt", "-o", "out.jsonl", "--checks", "syntax,dns",
            "--nameserver", dns.nameserver, "--allow-private-mx", "-q")  # fmt: skip
    for name in ("reference", "job"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "in.txt").write_text("\n".join(lines) + "\n")
    reference = run_cli(*args, cwd=tmp_path / "reference")

    died = run_cli(*args, cwd=tmp_path / "job", env=crash_env("commit", 2))
    spilled = table_rows(tmp_path / "job" / "out.jsonl.ckpt", "waiting")
    resumed = run_cli("resume", "out.jsonl.ckpt", "-q", cwd=tmp_path / "job")

    assert reference.rc == 0, reference.stderr
    assert died.rc == CRASH_EXIT, died.stderr
    assert spilled > 0
    assert resumed.rc == 0, resumed.stderr
    expected = (tmp_path / "reference" / "out.jsonl").read_bytes()
    assert (tmp_path / "job" / "out.jsonl").read_bytes() == expected
