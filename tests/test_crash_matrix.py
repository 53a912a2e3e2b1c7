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
    validate,
    write_csv,
    write_txt,
)

ROWS = 600  # two batches of 512 rows
PARALLEL = 3  # N values tried at once; each is its own folder and process


@dataclass(frozen=True)
class Shape:
    """One kind of job: its input and the options that shape the output."""

    input_name: str
    args: tuple[str, ...]
    outputs: tuple[str, ...]

    def prepare(self, folder: Path) -> None:
        folder.mkdir()
        if self.input_name.endswith(".txt"):
            write_txt(folder / self.input_name, ROWS, seed=3)
        else:
            write_csv(folder / self.input_name, ROWS, seed=3, newline="\r\n")

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
        # One commit per batch and one to mark the job complete.
        assert len(reached) >= 3
