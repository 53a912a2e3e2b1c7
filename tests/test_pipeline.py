"""The streaming pipeline: order, backpressure and spilling (DESIGN §5)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from emailclean import pipeline
from emailclean.config import JobConfig
from emailclean.models import Check
from emailclean.pipeline import Job
from tests.world.dns_server import DnsServer, Zone

FAST_DOMAINS = 20


def _zone() -> Zone:
    zone = (
        Zone()
        .mx("slow-corp.com", [(10, "mx.slow-corp.com")])
        .a("mx.slow-corp.com", "192.0.2.1")
        .delay("slow-corp.com", 1.0)
    )
    for number in range(FAST_DOMAINS):
        domain = f"fast{number}-corp.com"
        zone = zone.mx(domain, [(10, f"mx.{domain}")]).a(f"mx.{domain}", "192.0.2.2")
    return zone


def _write_list(path: Path, rows: int) -> list[str]:
    addresses = ["first@slow-corp.com"] + [
        f"user{n}@fast{n % FAST_DOMAINS}-corp.com" for n in range(rows - 1)
    ]
    path.write_text("\n".join(addresses) + "\n")
    return addresses


def _run(config: JobConfig) -> Job:
    job = Job(config)
    asyncio.run(job.run())
    return job


def test_job_slow_first_row_spills_finished_rows_and_keeps_order(
    tmp_path: Path, start_dns_server: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    server: DnsServer = start_dns_server(_zone())  # type: ignore[operator]
    addresses = _write_list(tmp_path / "list.txt", 3000)
    monkeypatch.setattr(pipeline, "MAX_WINDOW_BATCHES", 2)
    config = JobConfig(
        str(tmp_path / "list.txt"),
        output=str(tmp_path / "out.txt"),
        checks=frozenset({Check.SYNTAX, Check.DNS}),
        nameservers=(server.nameserver,),
        keep=frozenset(pipeline.Status),
        timeout=5.0,
    )

    job = _run(config)

    assert job._spill is not None and job._spill.batches > 0
    written = (tmp_path / "out.txt").read_text().splitlines()
    assert written == addresses
    assert server.count("slow-corp.com", "MX") == 1


def test_job_dns_rows_share_one_query_per_domain(
    tmp_path: Path, start_dns_server: object
) -> None:
    server: DnsServer = start_dns_server(_zone())  # type: ignore[operator]
    _write_list(tmp_path / "list.txt", 2000)
    config = JobConfig(
        str(tmp_path / "list.txt"),
        output=str(tmp_path / "out.jsonl"),
        checks=frozenset({Check.SYNTAX, Check.DNS}),
        nameservers=(server.nameserver,),
        keep=frozenset(pipeline.Status),
        use_checkpoint=False,
    )

    job = _run(config)

    assert job.summary.rows_in == 2000
    for number in range(FAST_DOMAINS):
        assert server.count(f"fast{number}-corp.com", "MX") == 1
