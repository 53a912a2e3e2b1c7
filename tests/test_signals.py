"""Stopping a running job: SIGINT, SIGTERM, a second Ctrl-C, kill -9 (DESIGN §7, §8).

The jobs here are large enough (100k generated rows, syntax checks) that a
signal lands in the middle of the work. A stopped job commits what it
wrote, exits 130/143 and prints the exact command that finishes it; kill -9
at random moments, again and again, loses nothing either. Every finished
output is compared byte for byte with an uninterrupted run.
"""

from __future__ import annotations

import random
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import run_cli
from tests.resume_helpers import (
    child_env,
    committed,
    resume,
    start_cli,
    validate,
    write_csv,
)
from tests.world.dns_fixtures import StartDnsServer
from tests.world.dns_server import DnsServer, Zone

ROWS = 100_000
ARGS = ("in.csv", "-o", "out.csv", "--checks", "syntax", "--no-progress")


@pytest.fixture(scope="module")
def big_job(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    """A large input and its output from one uninterrupted run."""
    folder = tmp_path_factory.mktemp("big")
    source = write_csv(folder / "in.csv", ROWS, seed=7)
    result = run_cli("validate", *ARGS, "-q", "--dedupe", cwd=folder, timeout=120)
    assert result.rc == 0, result.stderr
    return source, (folder / "out.csv").read_bytes()


def copy_input(source: Path, folder: Path) -> None:
    (folder / "in.csv").write_bytes(source.read_bytes())


def wait_for_output(folder: Path, process: subprocess.Popen[bytes]) -> None:
    """Until the job has written some rows (or died)."""
    partial = folder / "out.csv.partial"
    deadline = time.monotonic() + 30
    while not (partial.exists() and partial.stat().st_size > 100_000):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the job wrote nothing in 30 s"
        time.sleep(0.02)


def wait_for_growth(path: Path, size: int, process: subprocess.Popen[bytes]) -> None:
    """Until `path` holds `size` bytes, the process ends, or 30 s pass."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        if path.exists() and path.stat().st_size >= size:
            return
        time.sleep(0.005)


def stopped(process: subprocess.Popen[bytes]) -> tuple[int, str]:
    _, stderr = process.communicate(timeout=30)
    return process.returncode, stderr.decode()


@pytest.mark.slow
@pytest.mark.parametrize(
    "signal_number, code",
    [(signal.SIGINT, 130), (signal.SIGTERM, 143)],
    ids=["sigint", "sigterm"],
)
def test_signal_mid_job_commits_prints_resume_command(
    tmp_path: Path,
    big_job: tuple[Path, bytes],
    signal_number: signal.Signals,
    code: int,
) -> None:
    tmp_path = tmp_path / "my jobs"  # a space: the printed command must still work
    tmp_path.mkdir()
    copy_input(big_job[0], tmp_path)
    checkpoint = tmp_path / "out.csv.ckpt"
    process = start_cli("validate", *ARGS, "--dedupe", cwd=tmp_path)
    wait_for_output(tmp_path, process)
    busy = validate(tmp_path, *ARGS, "--dedupe")
    also_busy = resume(tmp_path, str(checkpoint))

    process.send_signal(signal_number)
    rc, stderr = stopped(process)

    assert rc == code, stderr
    assert stderr == (
        "emailclean: stopped; progress saved. Finish the job with: "
        f"emailclean resume {shlex.quote(str(checkpoint))}\n"
    )
    partial = tmp_path / "out.csv.partial"
    offsets = committed(checkpoint)["outputs"]
    assert offsets[str(tmp_path / "out.csv")]["offset"] == partial.stat().st_size
    for refusal in (busy, also_busy):
        assert refusal.rc == 4
        assert refusal.stderr == (
            f"emailclean: {checkpoint}: another emailclean process is working on "
            "this job\n"
        )

    command = shlex.split(stderr.split("Finish the job with: ")[1])
    assert command[:2] == ["emailclean", "resume"]
    finished = resume(tmp_path.parent, command[2])
    assert finished.rc == 0, finished.stderr
    assert (tmp_path / "out.csv").read_bytes() == big_job[1]


@pytest.mark.slow
def test_sigkill_random_moments_then_resume_byte_identical(
    tmp_path: Path, big_job: tuple[Path, bytes]
) -> None:
    copy_input(big_job[0], tmp_path)
    checkpoint = tmp_path / "out.csv.ckpt"
    partial = tmp_path / "out.csv.partial"
    env = {"EMAILCLEAN_COMMIT_INTERVAL": "0.25"}
    # How long a run takes to get going on this machine, so that the kills
    # land both while starting up and in the middle of the work.
    started = time.monotonic()
    process = start_cli("validate", *ARGS, "-q", "--dedupe", cwd=tmp_path, env=env)
    wait_for_growth(partial, 200_000, process)  # never read SQLite under a writer
    assert process.poll() is None, process.communicate()
    warm_up = time.monotonic() - started
    process.kill()
    process.communicate(timeout=30)
    delays = random.Random(20261203)
    kills, progress = 1, [committed(checkpoint)["next_row"]]
    while kills < 24:
        size = partial.stat().st_size
        process = start_cli("resume", str(checkpoint), "-q", cwd=tmp_path, env=env)
        if kills % 2:
            time.sleep(delays.uniform(0.0, warm_up))  # mostly while starting
        else:
            # In the middle of the work, but only a few batches further on,
            # however fast this machine is: the job must outlive 20 kills.
            wait_for_growth(partial, size + delays.randrange(50_000, 300_000), process)
            time.sleep(delays.uniform(0.0, 0.05))
        process.kill()
        _, stderr = process.communicate(timeout=30)
        if process.returncode == 0:
            break  # the job finished before this kill
        assert process.returncode == -signal.SIGKILL, stderr
        kills += 1
        progress.append(committed(checkpoint)["next_row"])
    if checkpoint.exists():
        finished = resume(tmp_path, str(checkpoint))
        assert finished.rc == 0, finished.stderr

    assert kills >= 20, f"the job finished after {kills} kills"
    assert progress == sorted(progress), "committed progress went backwards"
    assert progress[-1] > progress[0], "no kill after the first left progress"
    assert (tmp_path / "out.csv").read_bytes() == big_job[1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "out.csv"]


def slow_dns_job(
    tmp_path: Path, start_dns_server: StartDnsServer
) -> tuple[subprocess.Popen[bytes], DnsServer, Zone]:
    """A job whose last row waits 6 s for DNS, started and waiting for it."""
    zone = Zone().mx("slow-mail.com", [(10, "mx.slow-mail.com")])
    zone.a("mx.slow-mail.com", "127.0.0.2").delay("slow-mail.com", 6.0)
    zone.mx("fast-mail.com", [(10, "mx.fast-mail.com")])
    zone.a("mx.fast-mail.com", "127.0.0.2")
    server = start_dns_server(zone)
    lines = [f"u{n}@fast-mail.com" for n in range(600)] + ["late@slow-mail.com"]
    (tmp_path / "in.txt").write_text("\n".join(lines) + "\n")
    process = start_cli(
        "validate", "in.txt", "-o", "out.jsonl", "--checks", "syntax,dns",
        "--nameserver", server.nameserver, "--allow-private-mx", "--timeout", "8",
        cwd=tmp_path, env={"EMAILCLEAN_COMMIT_INTERVAL": "0"},
    )  # fmt: skip
    deadline = time.monotonic() + 20
    while server.count("slow-mail.com", "MX") == 0:
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    time.sleep(0.2)
    return process, server, zone


def finish_slow_job(tmp_path: Path, server: DnsServer, zone: Zone) -> None:
    server.set_zone(zone.delay("slow-mail.com", 0.0))
    finished = resume(tmp_path, "out.jsonl.ckpt")
    assert finished.rc == 0, finished.stderr
    rows = (tmp_path / "out.jsonl").read_bytes().splitlines()
    assert len(rows) == 601
    assert b'"row": 601' in rows[-1] and b'"domain_ok"' in rows[-1]


def test_sigint_row_in_flight_stops_after_grace(
    tmp_path: Path, start_dns_server: StartDnsServer
) -> None:
    """A row still waiting on the network gets a short grace (3 s), not the
    rest of its wait: the job stops, keeps what finished, and resumes."""
    process, server, zone = slow_dns_job(tmp_path, start_dns_server)
    sent = time.monotonic()

    process.send_signal(signal.SIGINT)
    rc, stderr = stopped(process)
    took = time.monotonic() - sent

    assert rc == 130, stderr
    assert 2.5 < took < 8.0  # a 3 s grace (rc 0 would mean it waited 6 s)
    assert stderr.endswith(
        "emailclean: stopped; progress saved. Finish the job with: emailclean "
        f"resume {tmp_path / 'out.jsonl.ckpt'}\n"
    )
    assert committed(tmp_path / "out.jsonl.ckpt")["next_row"] == 513
    finish_slow_job(tmp_path, server, zone)


def test_second_sigint_exits_at_once_last_commit_valid(
    tmp_path: Path, start_dns_server: StartDnsServer
) -> None:
    process, server, zone = slow_dns_job(tmp_path, start_dns_server)

    process.send_signal(signal.SIGINT)
    time.sleep(0.3)
    assert process.poll() is None, "the first SIGINT should wait for rows in flight"
    second = time.monotonic()
    process.send_signal(signal.SIGINT)
    rc, _ = stopped(process)
    took = time.monotonic() - second

    assert rc == 130
    assert took < 2.0  # at once, not after the 3 s grace
    assert committed(tmp_path / "out.jsonl.ckpt")["next_row"] == 513
    finish_slow_job(tmp_path, server, zone)


def test_sigint_while_spooling_stdin_leaves_nothing_behind(tmp_path: Path) -> None:
    """Stopped before the job state exists: nothing to resume, so no spool
    (a copy of the user's list) may stay on disk."""
    process = subprocess.Popen(
        [sys.executable, "-m", "emailclean", "validate", "-", "-o", "out.csv",
         "--checkpoint", "job.ckpt", "--checks", "syntax", "--no-progress"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        cwd=tmp_path, env=child_env(),
    )  # fmt: skip
    assert process.stdin is not None
    process.stdin.write(b"ann@acme-corp.io\n" * 10_000)
    process.stdin.flush()
    wait_for_growth(tmp_path / "job.ckpt.spool", 0, process)  # stdin stays open
    time.sleep(0.1)

    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)

    assert process.returncode == 130
    assert stderr.decode().endswith("emailclean: stopped.\n")
    assert list(tmp_path.iterdir()) == []
