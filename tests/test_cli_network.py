"""The whole product against the loopback test world, through the real CLI.

One DNS server and a set of SMTP servers, each with one behaviour; every
domain below points at one of them. The tests read verdicts from the JSONL
output and politeness from what the servers recorded.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.helpers import ALL_STATUSES, CliResult, run_cli
from tests.world.dns_server import DnsServer, Zone
from tests.world.smtp_servers import (
    RunningServers,
    SmtpWorld,
    bare_user_unknown,
    catch_all,
    disabled,
    greylisting,
    mailbox,
    mailbox_full,
    policy_block,
    unreachable,
)

BEHAVIOURS = {
    "acme-mail.com": mailbox("alice", "bob", "info"),
    "catchall-corp.net": catch_all(),
    "grey-mail.org": greylisting(1, "carol"),
    "policy-block.com": policy_block(),
    "full-box.net": mailbox_full(),
    "disabled-corp.com": disabled(),
    "bare-unknown.org": bare_user_unknown(),
}


@dataclass
class World:
    dns: DnsServer
    smtp: RunningServers

    def validate(self, lines: list[str], *extra: str) -> CliResult:
        return run_cli(
            "validate",
            "-",
            "--format",
            "jsonl",
            "--keep",
            ALL_STATUSES,
            "--nameserver",
            self.dns.nameserver,
            "--smtp-port",
            str(self.smtp.port),
            "--allow-private-mx",
            "--timeout",
            "2",
            "--greylist-wait",
            "5",
            *extra,
            stdin=("\n".join(lines) + "\n").encode(),
        )


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    smtp = SmtpWorld()
    servers = smtp.start(BEHAVIOURS)
    zone = Zone().null_mx("nullmx-corp.com")
    for domain in BEHAVIOURS:
        host = f"mx.{domain}"
        zone = zone.mx(domain, [(10, host)]).a(host, servers[domain].address)
    dns = DnsServer(zone).start()
    yield World(dns, servers)
    dns.stop()
    smtp.stop()


def _verdicts(result: CliResult) -> dict[object, tuple[object, object]]:
    return {r["email"]: (r["status"], r["reason"]) for r in result.jsonl()}


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        pytest.param("alice@acme-mail.com", ("valid", "mailbox_exists"), id="exists"),
        pytest.param("zed@acme-mail.com", ("invalid", "mailbox_not_found"), id="5.1.1"),
        pytest.param("info@acme-mail.com", ("risky", "role_account"), id="role"),
        pytest.param("x@catchall-corp.net", ("risky", "catch_all"), id="catch-all"),
        pytest.param(
            "carol@grey-mail.org", ("valid", "mailbox_exists"), id="greylist-then-ok"
        ),
        pytest.param("a@policy-block.com", ("unknown", "blocked"), id="policy-block"),
        pytest.param("a@full-box.net", ("risky", "mailbox_full"), id="full"),
        pytest.param(
            "a@disabled-corp.com", ("invalid", "mailbox_disabled"), id="disabled"
        ),
        pytest.param(
            "a@bare-unknown.org", ("invalid", "mailbox_not_found"), id="bare-550"
        ),
        pytest.param("a@nullmx-corp.com", ("invalid", "null_mx"), id="null-mx"),
        pytest.param("a@nxdomain-corp.net", ("invalid", "no_domain"), id="nxdomain"),
        pytest.param("a@example.com", ("invalid", "reserved_domain"), id="reserved"),
    ],
)
def test_validate_full_checks_behaviour_gives_verdict(
    world: World, address: str, expected: tuple[str, str]
) -> None:
    result = world.validate([address])

    assert result.rc == 0, result.stderr
    assert _verdicts(result)[address] == expected


def test_validate_many_rows_one_domain_share_few_connections(world: World) -> None:
    server = world.smtp["acme-mail.com"]
    before = server.record.connections_total
    lines = [f"user{n}@acme-mail.com" for n in range(60)] + ["alice@acme-mail.com"]

    result = world.validate(lines)

    assert result.rc == 0, result.stderr
    assert len(result.jsonl()) == 61
    assert server.record.connections_total - before <= 6
    assert max(server.record.recipients_per_session) <= 20
    assert server.record.max_concurrent <= 2
    assert server.record.data_commands == 0


def test_validate_private_mx_without_allow_is_unknown(world: World) -> None:
    result = run_cli(
        "validate",
        "-",
        "--format",
        "jsonl",
        "--checks",
        "syntax,dns",
        "--nameserver",
        world.dns.nameserver,
        stdin=b"alice@acme-mail.com\n",
    )

    assert result.rc == 0, result.stderr
    assert _verdicts(result)["alice@acme-mail.com"] == ("unknown", "private_mx")


def test_validate_dns_only_gives_domain_ok(world: World) -> None:
    result = world.validate(["alice@acme-mail.com"], "--checks", "syntax,dns")

    assert _verdicts(result)["alice@acme-mail.com"] == ("valid", "domain_ok")
    assert result.jsonl()[0]["mx"] == "mx.acme-mail.com"


def test_validate_silent_nameserver_warns_once_and_exits_3(world: World) -> None:
    silent = DnsServer(Zone().silent("acme-mail.com")).start()
    try:
        lines = [f"a{n}@acme-mail.com" for n in range(3)]
        result = run_cli(
            "validate",
            "-",
            "--format",
            "jsonl",
            "--checks",
            "syntax,dns",
            "--nameserver",
            silent.nameserver,
            "--timeout",
            "0.3",
            stdin=("\n".join(lines) + "\n").encode(),
        )
    finally:
        silent.stop()

    assert result.rc == 3, result.stderr
    assert {r["reason"] for r in result.jsonl()} == {"dns_timeout"}
    assert "Traceback" not in result.stderr


def test_validate_port25_blocked_says_so_once_and_exits_3() -> None:
    smtp = SmtpWorld()
    names = ["dead-one.com", "dead-two.com", "dead-three.com", "dead-four.com"]
    servers = smtp.start({name: unreachable() for name in names})
    zone = Zone()
    for name in names:
        zone = zone.mx(name, [(10, f"mx.{name}")]).a(
            f"mx.{name}", servers[name].address
        )
    dns = DnsServer(zone).start()
    try:
        result = run_cli(
            "validate",
            "-",
            "--format",
            "jsonl",
            "--nameserver",
            dns.nameserver,
            "--smtp-port",
            str(servers.port),
            "--allow-private-mx",
            "--timeout",
            "0.5",
            stdin=("\n".join(f"a@{n}" for n in names) + "\n").encode(),
            timeout=60,
        )
    finally:
        dns.stop()
        smtp.stop()

    assert result.rc == 3, result.stderr
    assert result.stderr.count("port 25 looks blocked") == 1
    assert {r["status"] for r in result.jsonl()} == {"unknown"}


def test_check_command_full_checks_shows_deciding_reply(world: World) -> None:
    result = run_cli(
        "check",
        "zed@acme-mail.com",
        "--nameserver",
        world.dns.nameserver,
        "--smtp-port",
        str(world.smtp.port),
        "--allow-private-mx",
        "--timeout",
        "2",
    )

    assert result.rc == 3
    text = result.stdout.decode()
    assert "invalid" in text and "mailbox_not_found" in text
    assert "550" in text


@pytest.mark.parametrize(
    ("helo", "warned"),
    [
        pytest.param("probe.localdomain", True, id="private-name"),
        pytest.param("verify.acme-mail.com", False, id="public-name"),
    ],
)
def test_validate_helo_name_not_public_warns_once(
    world: World, helo: str, warned: bool
) -> None:
    result = world.validate(["alice@acme-mail.com"], "--helo", helo)

    assert result.rc == 0, result.stderr
    expected = f"probing as HELO {helo}: mail servers often refuse probes"
    assert result.stderr.count(expected) == (1 if warned else 0)
