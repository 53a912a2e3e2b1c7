"""Benchmark: the syntax-only pipeline against a bare email-validator loop.

What is measured, on one input file, in one run:

(a) the whole product, as a user runs it:
    `emailclean validate FILE --checks syntax -o OUT --force --no-progress -q`
    in a subprocess: start-up, reading and parsing the file, syntax and list
    checks, verdicts, writing every kept row. Wall and CPU time (user +
    system) come from `os.wait4`, peak RSS from GNU time (see run_pipeline).
(b) the floor a naive tool would start from: a bare Python loop calling
    `email_validator.validate_email(addr, check_deliverability=False,
    allow_quoted_local=True, allow_domain_literal=False)` on the same
    addresses, read from the file beforehand (only the loop is timed).

The two alternate, (a) first on even repetitions and (b) first on odd ones,
so that a burst of load from other processes on a shared machine hits both
alike; we report medians, the ratio of addresses per second (a)/(b) from
the medians, and the median of the per-repetition ratios. The bar is a
ratio of at least 2: sharing work per domain must more than pay for reading
and writing the whole file.

Speed is worthless if the answers differ, so the run also checks that (a)
and (b) agree on valid/invalid for every address. A syntax-only run drops
exactly the invalid rows (default `--keep`), so an address is "valid" for
(a) when its row is in the output. Two differences are documented choices
of emailclean (see emailclean/checks/syntax.py) and are counted apart:
local parts over 64 octets (RFC 5321 §4.5.3.1.1) and RFC 2606 example
names. Anything else is a disagreement, listed in full (up to a cap).

Peak RSS must stay flat as the input grows (bar: under 150 MB, and the
largest file within 10 % of the smallest): pass several files, e.g. 1M and
5M rows, to compare them in one run.

    python benchmarks/bench_syntax.py benchmarks/data/contacts-1000000.csv
    python benchmarks/bench_syntax.py FILE_1M FILE_5M --repeat 5
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import email_validator

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
DATA_DIR = BENCH_DIR / "data"
GNU_TIME = "/usr/bin/time"

SPEED_BAR = 2.0
RSS_BAR_MB = 150.0
RSS_FLAT_TOLERANCE = 0.10
EXAMPLES_KEPT = 25
DISAGREEMENTS_KEPT = 1_000

LOCAL_PART_MAX_OCTETS = 64
EXAMPLE_NAMES = ("example", "example.com", "example.net", "example.org")
EXTRA_LONG_LOCAL = "local part over 64 octets"
EXTRA_EXAMPLE = "RFC 2606 example name"


@dataclass(frozen=True)
class PipelineRun:
    wall_s: float
    cpu_s: float
    peak_rss_mb: float


@dataclass(frozen=True)
class LoopRun:
    wall_s: float
    cpu_s: float


@dataclass
class Agreement:
    """How the pipeline's verdicts compare with the bare loop's."""

    addresses: int = 0
    agree: int = 0
    extras: dict[str, int] = field(default_factory=dict)
    extra_examples: dict[str, list[str]] = field(default_factory=dict)
    disagreements: list[dict[str, str]] = field(default_factory=list)
    disagreement_count: int = 0
    statuses_written: dict[str, int] = field(default_factory=dict)


@dataclass
class FileResult:
    path: str
    kind: str
    size_mb: float
    addresses: int
    distinct_domains: int
    pipeline: list[PipelineRun]
    loop: list[LoopRun]
    agreement: Agreement


# -- reading the input -------------------------------------------------------


def input_kind(path: Path) -> str:
    return "txt" if path.suffix == ".txt" else "csv"


def read_addresses(path: Path, column: str) -> list[str]:
    """The cells emailclean checks, in input order, one per data row."""
    with open(path, encoding="utf-8", newline="") as stream:
        if input_kind(path) == "txt":
            return [line.rstrip("\r\n") for line in stream if line.strip()]
        rows = csv.reader(stream)
        index = _column_index(next(rows), column)
        return [row[index] if index < len(row) else "" for row in rows if row]


def _column_index(header: list[str], column: str) -> int:
    lowered = [name.lower() for name in header]
    if column.lower() not in lowered:
        raise SystemExit(f"no column {column!r} in the header {header}")
    return lowered.index(column.lower())


# -- (a) the pipeline --------------------------------------------------------


def emailclean_command() -> list[str]:
    beside = Path(sys.executable).with_name("emailclean")
    found = str(beside) if beside.exists() else shutil.which("emailclean")
    if found is None:
        raise SystemExit("emailclean is not installed in this environment")
    return [found]


def pipeline_argv(command: list[str], source: Path, out: Path) -> list[str]:
    return [
        *command,
        "validate",
        str(source),
        "--checks",
        "syntax",
        "-o",
        str(out),
        "--force",
        "--no-progress",
        "-q",
    ]


def run_pipeline(argv: list[str], rss_file: Path) -> PipelineRun:
    """Run one validate job; time it and read its own resource usage.

    Peak RSS comes from GNU time, not from our own `os.wait4`: a child
    spawned by this (large) process inherits our high-water mark until it
    execs, so its ru_maxrss would report our address list, not emailclean.
    GNU time is small and forks emailclean afresh. Its CPU time is counted
    in ours (wait4 includes waited-for descendants); its cost is negligible.
    """
    timed = [GNU_TIME, "-f", "%M", "-o", str(rss_file), *argv]
    started = time.perf_counter()
    process = subprocess.Popen(timed, stdin=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)

    if process.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited with {process.returncode}")
    peak_kib = int(rss_file.read_text().split()[-1])
    return PipelineRun(
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=peak_kib * 1024 / 1e6,
    )


# -- (b) the bare loop -------------------------------------------------------


def run_loop(addresses: list[str]) -> tuple[LoopRun, bytearray]:
    """validate_email over every address; 1 in the verdicts means valid."""
    verdicts = bytearray(len(addresses))
    validate = email_validator.validate_email
    not_valid = email_validator.EmailNotValidError
    wall_start, cpu_start = time.perf_counter(), time.process_time()

    for position, address in enumerate(addresses):
        try:
            validate(
                address,
                check_deliverability=False,
                allow_quoted_local=True,
                allow_domain_literal=False,
            )
        except not_valid:
            continue
        verdicts[position] = 1

    wall = time.perf_counter() - wall_start
    return LoopRun(wall, time.process_time() - cpu_start), verdicts


# -- comparing verdicts ------------------------------------------------------


def pipeline_verdicts(
    out: Path, addresses: list[str], email_index: int, agreement: Agreement
) -> bytearray:
    """1 for each address whose row the pipeline kept (it found it valid)."""
    verdicts = bytearray(len(addresses))
    position = 0
    for cell, status in _output_rows(out, email_index):
        written = agreement.statuses_written
        written[status] = written.get(status, 0) + 1
        while position < len(addresses) and addresses[position] != cell:
            position += 1
        if position == len(addresses):
            raise SystemExit(f"{out}: row for {cell!r} is not in input order")
        verdicts[position] = 1
        position += 1
    return verdicts


def _output_rows(out: Path, email_index: int) -> Iterator[tuple[str, str]]:
    with open(out, encoding="utf-8", newline="") as stream:
        rows = csv.reader(stream)
        header = next(rows)
        status_index = max(
            i for i, name in enumerate(header) if name.endswith("status")
        )
        for row in rows:
            yield row[email_index], row[status_index]


def documented_extra(address: str) -> str | None:
    """Which documented emailclean rule rejects an address the validator takes."""
    local, _, domain = address.strip().rpartition("@")
    if len(local.encode("utf-8")) > LOCAL_PART_MAX_OCTETS:
        return EXTRA_LONG_LOCAL
    domain = domain.lower().rstrip(".")
    if any(domain == name or domain.endswith("." + name) for name in EXAMPLE_NAMES):
        return EXTRA_EXAMPLE
    return None


def compare(
    addresses: list[str], ours: bytearray, theirs: bytearray, agreement: Agreement
) -> None:
    agreement.addresses = len(addresses)
    for position, address in enumerate(addresses):
        if ours[position] == theirs[position]:
            agreement.agree += 1
            continue
        extra = None if ours[position] else documented_extra(address)
        if extra is not None:
            agreement.extras[extra] = agreement.extras.get(extra, 0) + 1
            examples = agreement.extra_examples.setdefault(extra, [])
            if len(examples) < EXAMPLES_KEPT:
                examples.append(address)
            continue
        agreement.disagreement_count += 1
        if len(agreement.disagreements) < DISAGREEMENTS_KEPT:
            agreement.disagreements.append(_disagreement(address, ours[position]))


def _disagreement(address: str, ours: int) -> dict[str, str]:
    return {
        "address": address,
        "emailclean": "valid" if ours else "invalid",
        "email_validator": "invalid" if ours else "valid",
    }


# -- one file ----------------------------------------------------------------


def bench_file(path: Path, args: argparse.Namespace) -> FileResult:
    addresses = read_addresses(path, args.column)
    out = DATA_DIR / f"{path.stem}.syntax-out-{os.getpid()}.csv"
    argv = pipeline_argv(args.command or emailclean_command(), path, out)
    rss_file = out.with_suffix(".rss")
    pipeline: list[PipelineRun] = []
    loop: list[LoopRun] = []
    loop_verdicts = bytearray()

    for repetition in range(args.repeat):
        if repetition % 2 == 0:
            pipeline.append(run_pipeline(argv, rss_file))
        loop_run, loop_verdicts = run_loop(addresses)
        loop.append(loop_run)
        if repetition % 2 == 1:
            pipeline.append(run_pipeline(argv, rss_file))
        _progress(path, repetition, pipeline[-1], loop_run)

    agreement = Agreement()
    email_index = _output_email_index(path, args.column)
    ours = pipeline_verdicts(out, addresses, email_index, agreement)
    compare(addresses, ours, loop_verdicts, agreement)
    rss_file.unlink()
    if not args.keep_output:
        out.unlink()
    size_mb = path.stat().st_size / 1e6
    kind = input_kind(path)
    domains = len({address.rpartition("@")[2].lower() for address in addresses})
    return FileResult(
        str(path), kind, size_mb, len(addresses), domains, pipeline, loop, agreement
    )


def _output_email_index(path: Path, column: str) -> int:
    if input_kind(path) == "txt":
        return 0
    with open(path, encoding="utf-8", newline="") as stream:
        return _column_index(next(csv.reader(stream)), column)


def _progress(path: Path, repetition: int, run: PipelineRun, loop: LoopRun) -> None:
    print(
        f"{path.name} rep {repetition + 1}: pipeline {run.wall_s:.1f} s "
        f"({run.peak_rss_mb:.0f} MB), loop {loop.wall_s:.1f} s",
        file=sys.stderr,
        flush=True,
    )


# -- summary -----------------------------------------------------------------


def summarize(result: FileResult) -> dict[str, object]:
    pipeline_wall = [run.wall_s for run in result.pipeline]
    loop_wall = [run.wall_s for run in result.loop]
    paired = [b / a for a, b in zip(pipeline_wall, loop_wall, strict=True)]
    median_pipeline = statistics.median(pipeline_wall)
    median_loop = statistics.median(loop_wall)
    ratio = median_loop / median_pipeline
    pipeline_cpu = statistics.median(run.cpu_s for run in result.pipeline)
    loop_cpu = statistics.median(run.cpu_s for run in result.loop)
    return {
        "pipeline_median_s": median_pipeline,
        "pipeline_cpu_median_s": pipeline_cpu,
        "pipeline_addresses_per_s": result.addresses / median_pipeline,
        "loop_median_s": median_loop,
        "loop_cpu_median_s": loop_cpu,
        "loop_addresses_per_s": result.addresses / median_loop,
        "ratio_of_medians": ratio,
        "median_paired_ratio": statistics.median(paired),
        "cpu_ratio_of_medians": loop_cpu / pipeline_cpu,
        "median_paired_cpu_ratio": statistics.median(
            b.cpu_s / a.cpu_s for a, b in zip(result.pipeline, result.loop, strict=True)
        ),
        "peak_rss_mb_max": max(run.peak_rss_mb for run in result.pipeline),
        "peak_rss_mb_median": statistics.median(r.peak_rss_mb for r in result.pipeline),
        "speed_bar_met": ratio >= SPEED_BAR,
    }


def rss_verdict(results: list[FileResult]) -> dict[str, object]:
    peaks = [max(run.peak_rss_mb for run in r.pipeline) for r in results]
    by_size = sorted(zip((r.addresses for r in results), peaks, strict=True))
    smallest, largest = by_size[0][1], by_size[-1][1]
    growth = largest / smallest - 1
    return {
        "peak_rss_mb_by_addresses": dict(by_size),
        "growth_smallest_to_largest": growth,
        "under_bar": max(peaks) < RSS_BAR_MB,
        "flat": len(results) > 1 and growth <= RSS_FLAT_TOLERANCE,
    }


def print_table(result: FileResult, summary: dict[str, object]) -> None:
    s = summary
    agreement = result.agreement
    print(
        f"\n{Path(result.path).name}: {result.addresses:,} addresses, "
        f"{result.distinct_domains:,} distinct domains, {result.size_mb:.0f} MB, "
        f"{len(result.pipeline)} repetitions"
    )
    print(f"{'':16}{'median s':>10}{'addr/s':>12}{'CPU s':>9}{'peak RSS':>11}")
    print(
        f"{'(a) pipeline':16}{s['pipeline_median_s']:>10.1f}"
        f"{s['pipeline_addresses_per_s']:>12,.0f}{s['pipeline_cpu_median_s']:>9.1f}"
        f"{s['peak_rss_mb_max']:>8.0f} MB"
    )
    print(
        f"{'(b) bare loop':16}{s['loop_median_s']:>10.1f}"
        f"{s['loop_addresses_per_s']:>12,.0f}{s['loop_cpu_median_s']:>9.1f}"
    )
    met = "met" if s["speed_bar_met"] else "NOT met"
    print(
        f"ratio (a)/(b) addr/s: {s['ratio_of_medians']:.2f} of medians, "
        f"{s['median_paired_ratio']:.2f} median of pairs "
        f"(bar >= {SPEED_BAR}: {met}); in CPU time: "
        f"{s['cpu_ratio_of_medians']:.2f} and {s['median_paired_cpu_ratio']:.2f}"
    )
    extras = ", ".join(f"{name}: {count:,}" for name, count in agreement.extras.items())
    print(
        f"verdicts: {agreement.agree:,} agree; documented extras: "
        f"{extras or 'none'}; other disagreements: {agreement.disagreement_count:,}"
    )
    for item in agreement.disagreements[:5]:
        print(
            f"  {item['address']!r}: emailclean {item['emailclean']}, "
            f"email-validator {item['email_validator']}"
        )


def _flat_word(verdict: dict[str, object]) -> str:
    if verdict["flat"]:
        return "met"
    peaks = verdict["peak_rss_mb_by_addresses"]
    return "NOT met" if isinstance(peaks, dict) and len(peaks) > 1 else "needs 2 files"


def print_rss(verdict: dict[str, object]) -> None:
    peaks = verdict["peak_rss_mb_by_addresses"]
    assert isinstance(peaks, dict)
    listed = ", ".join(f"{rows:,} rows: {mb:.0f} MB" for rows, mb in peaks.items())
    print(
        f"\npeak RSS: {listed}; growth {verdict['growth_smallest_to_largest']:+.0%}"
        f" (bar < {RSS_BAR_MB:.0f} MB: {'met' if verdict['under_bar'] else 'NOT met'}"
        f"; flat within {RSS_FLAT_TOLERANCE:.0%}: "
        f"{_flat_word(verdict)})"
    )


# -- the run -----------------------------------------------------------------


def machine() -> dict[str, object]:
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "emailclean_commit": _git(["rev-parse", "HEAD"]),
        # Other work may be uncommitted in the tree; the run measured it too.
        "emailclean_uncommitted": _git(["status", "--porcelain", "emailclean"]),
        "email_validator": version("email-validator"),
        "children_max_rss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    }


def _git(arguments: list[str]) -> str:
    completed = subprocess.run(
        ["git", "-C", str(BENCH_DIR), *arguments],
        capture_output=True,
        text=True,
        check=False,
    )
    return completed.stdout.strip()


def write_json(
    results: list[FileResult], rss: dict[str, object], at_start: dict[str, object]
) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    target = RESULTS_DIR / f"syntax-{stamp}.json"
    document = {
        "benchmark": "syntax pipeline vs bare email-validator loop",
        "finished_utc": stamp,
        # The tree may change while a long run goes on: both ends are kept.
        "machine_at_start": at_start,
        "machine": machine(),
        "files": [
            {**asdict(result), "summary": summarize(result)} for result in results
        ],
        "rss": rss,
    }
    target.write_text(json.dumps(document, indent=2, default=str) + "\n")
    return target


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path, help="CSV or TXT inputs")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--column", default="email", help="CSV address column")
    parser.add_argument("--keep-output", action="store_true")
    parser.add_argument(
        "--command", nargs="+", help="how to start emailclean (default: this venv's)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    at_start = machine()
    results = [bench_file(path, args) for path in args.files]
    for result in results:
        print_table(result, summarize(result))
    rss = rss_verdict(results)
    print_rss(rss)
    print(f"\nwrote {write_json(results, rss, at_start)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
