"""Benchmark: what checkpointing costs a syntax-only job (issue 3).

What is measured: the same job, as a user runs it,

    emailclean validate FILE --checks syntax -o OUT --force -q

once with checkpointing at its default cadence (job state committed every
2 s: rows written, outputs flushed and fsynced, SQLite committed) and once
with `--no-checkpoint`, in a subprocess each, timed by `os.wait4` (wall,
CPU, peak RSS). Syntax-only is the case where the checkpoint's share is
largest: nothing waits on the network, so every fsync and commit is time
the job could have spent checking addresses.

Why paired runs: the machine is shared. Each pair runs both variants back
to back, the order alternating from pair to pair, and the figure of merit
is the median over pairs of (time without checkpoint) / (time with it),
i.e. the share of throughput kept. The bar: checkpointing costs at most
5 % of throughput, so that median must be at least 0.95.

    python benchmarks/bench_checkpoint.py                # 5 pairs, 1M rows
    python benchmarks/bench_checkpoint.py --pairs 7 --input FILE
"""

from __future__ import annotations

import argparse
import csv
import sys
from dataclasses import asdict
from pathlib import Path

from benchlib import (
    DATA_DIR,
    ProcessRun,
    emailclean_command,
    median,
    run_measured,
    say,
    write_result,
)

DEFAULT_INPUT = DATA_DIR / "contacts-1000000.csv"
# Checkpointing may cost at most this share of throughput.
COST_BAR = 0.05
VARIANTS = ("checkpoint", "no_checkpoint")


def job_argv(source: Path, out: Path, checkpoint: bool) -> list[str]:
    argv = [*emailclean_command(), "validate", str(source), "--checks", "syntax"]
    argv += ["-o", str(out), "--force", "-q", "--no-progress"]
    return argv if checkpoint else [*argv, "--no-checkpoint"]


def run_variant(source: Path, variant: str) -> ProcessRun:
    out = DATA_DIR / f"checkpoint-bench-{variant}.csv"
    # A checkpoint left by an interrupted earlier run would make validate
    # refuse to start; this benchmark owns these paths.
    for stale in (out.with_name(out.name + ".ckpt"), out):
        stale.unlink(missing_ok=True)
    run = run_measured(job_argv(source, out, variant == "checkpoint"))
    out.unlink(missing_ok=True)
    return run


def run_pairs(source: Path, pairs: int) -> dict[str, list[ProcessRun]]:
    runs: dict[str, list[ProcessRun]] = {variant: [] for variant in VARIANTS}
    for pair in range(pairs):
        order = VARIANTS if pair % 2 == 0 else VARIANTS[::-1]
        for variant in order:
            runs[variant].append(run_variant(source, variant))
        with_it, without = runs["checkpoint"][-1], runs["no_checkpoint"][-1]
        say(
            f"pair {pair + 1}/{pairs} ({order[0]} first): checkpoint "
            f"{with_it.wall_s:.1f} s, no checkpoint {without.wall_s:.1f} s"
        )
    return runs


def summarize(runs: dict[str, list[ProcessRun]], rows: int) -> dict[str, object]:
    with_it, without = runs["checkpoint"], runs["no_checkpoint"]
    kept = [b.wall_s / a.wall_s for a, b in zip(with_it, without, strict=True)]
    cpu_kept = [b.cpu_s / a.cpu_s for a, b in zip(with_it, without, strict=True)]
    share_kept = median(kept)
    return {
        "rows": rows,
        "checkpoint_median_s": median([r.wall_s for r in with_it]),
        "no_checkpoint_median_s": median([r.wall_s for r in without]),
        "checkpoint_rows_per_s": rows / median([r.wall_s for r in with_it]),
        "no_checkpoint_rows_per_s": rows / median([r.wall_s for r in without]),
        "checkpoint_cpu_median_s": median([r.cpu_s for r in with_it]),
        "no_checkpoint_cpu_median_s": median([r.cpu_s for r in without]),
        "paired_throughput_kept": kept,
        "median_throughput_kept": share_kept,
        "median_throughput_cost": 1 - share_kept,
        "median_cpu_kept": median(cpu_kept),
        "bar_max_cost": COST_BAR,
        "bar_met": 1 - share_kept <= COST_BAR,
    }


def count_rows(source: Path) -> int:
    """Data rows as the generator writes them (one per id; header excluded)."""
    with open(source, encoding="utf-8", newline="") as stream:
        return sum(1 for _ in csv.reader(stream)) - 1


def print_summary(summary: dict[str, object]) -> None:
    s = summary
    print(
        f"checkpoint:    median {s['checkpoint_median_s']:.1f} s, "
        f"{s['checkpoint_rows_per_s']:,.0f} rows/s, "
        f"CPU {s['checkpoint_cpu_median_s']:.1f} s"
    )
    print(
        f"no checkpoint: median {s['no_checkpoint_median_s']:.1f} s, "
        f"{s['no_checkpoint_rows_per_s']:,.0f} rows/s, "
        f"CPU {s['no_checkpoint_cpu_median_s']:.1f} s"
    )
    met = "met" if s["bar_met"] else "NOT met"
    print(
        f"median of paired throughput kept: {s['median_throughput_kept']:.3f} "
        f"(cost {s['median_throughput_cost']:+.1%}; bar <= {COST_BAR:.0%}: {met}); "
        f"CPU kept {s['median_cpu_kept']:.3f}"
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", type=Path, default=DEFAULT_INPUT)
    parser.add_argument("--pairs", type=int, default=5)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.input.exists():
        raise SystemExit(
            f"{args.input} is missing: python benchmarks/generate.py --rows 1000000"
        )
    rows = count_rows(args.input)
    runs = run_pairs(args.input, args.pairs)
    summary = summarize(runs, rows)
    print_summary(summary)
    document = {
        "benchmark": "syntax job with default checkpointing vs --no-checkpoint",
        "input": str(args.input),
        "runs": {name: [asdict(r) for r in rs] for name, rs in runs.items()},
        "summary": summary,
    }
    print(f"wrote {write_result('checkpoint', document)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
