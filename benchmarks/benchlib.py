"""Helpers shared by the checkpoint, DNS and SMTP benchmarks.

Each benchmark starts `emailclean validate` as a user would, in a
subprocess, and reads that one process's own resource usage from
`os.wait4`: wall time, CPU time (user + system) and peak RSS. The machine
these run on is shared and noisy, so every benchmark runs its subject and
its baseline side by side, alternating, and reports medians and ratios;
this module only provides the pieces (running, timing, writing JSON).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
DATA_DIR = BENCH_DIR / "data"
RESULTS_DIR = BENCH_DIR / "results"

# The loopback DNS and SMTP servers live in the test suite (tests/world);
# the benchmarks import them from the repository, as the tests do.
if str(REPO_DIR) not in sys.path:
    sys.path.insert(0, str(REPO_DIR))


@dataclass(frozen=True)
class ProcessRun:
    """One finished subprocess, measured by the kernel.

    Linux carries the parent's memory high-water mark into the child across
    fork and exec, so `peak_rss_mb` means something only when the parent is
    much smaller than the child (not when the parent runs test servers).
    """

    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    exit_code: int


def emailclean_command() -> list[str]:
    """This venv's `emailclean` script, else the one on PATH."""
    beside = Path(sys.executable).with_name("emailclean")
    found = str(beside) if beside.exists() else shutil.which("emailclean")
    if found is None:
        raise SystemExit("emailclean is not installed in this environment")
    return [found]


def run_measured(
    argv: Sequence[str],
    env: dict[str, str] | None = None,
    allowed_exits: tuple[int, ...] = (0,),
) -> ProcessRun:
    """Run one command to the end; time it and read its resource usage."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    exit_code = os.waitstatus_to_exitcode(status)
    process.returncode = exit_code

    if exit_code not in allowed_exits:
        raise SystemExit(f"{' '.join(argv)} exited with {exit_code}")
    # Linux reports ru_maxrss in KiB.
    return ProcessRun(
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=usage.ru_maxrss * 1024 / 1e6,
        exit_code=exit_code,
    )


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def machine() -> dict[str, object]:
    """Where and on what the numbers were taken."""
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average_at_end": os.getloadavg(),
        "emailclean_commit": git_commit(),
    }


def git_commit() -> str:
    completed = subprocess.run(
        ["git", "-C", str(REPO_DIR), "rev-parse", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    return completed.stdout.strip()


def write_result(name: str, document: Mapping[str, object]) -> Path:
    """benchmarks/results/NAME-<UTC stamp>.json (the folder is git-ignored)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    target = RESULTS_DIR / f"{name}-{stamp}.json"
    full = {"finished_utc": stamp, "machine": machine(), **document}
    target.write_text(json.dumps(full, indent=2, default=str) + "\n")
    return target


def words(text: str) -> tuple[str, ...]:
    """A tuple of names written as one string, for short word lists."""
    return tuple(text.split())


def say(text: str) -> None:
    """Progress goes to stderr, so stdout holds only the summary."""
    print(text, file=sys.stderr, flush=True)
