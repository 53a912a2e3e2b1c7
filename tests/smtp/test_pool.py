"""MailboxProber against real scripted SMTP servers on loopback."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import replace

import pytest

from emailclean.errors import UsageError
from emailclean.models import MailboxOutcome, MailHost, Reason, SmtpReply
from emailclean.smtp.catch_all import outcome_catch_all_value
from emailclean.smtp.pool import MailboxProber, SmtpSettings
from tests.world.smtp_fixtures import StartSmtpServers
from tests.world.smtp_servers import (
    RunningServers,
    ServerSpec,
    SmtpTestServer,
    bare_user_unknown,
    broken_tls,
    catch_all,
    connection_limit,
    disabled,
    drop_after_rcpt,
    ehlo_refused,
    gibberish,
    greylisting,
    mailbox,
    mailbox_full,
    multiline,
    policy_block,
    recipient_limit,
    refusing_greeting,
    sender_block,
    starttls_required,
    tarpit,
    tls_unavailable,
    unreachable,
)

HELO = "probe.emailclean-world.net"
Probe = tuple[str, tuple[MailHost, ...]]


def settings_for(world: RunningServers, **overrides: object) -> SmtpSettings:
    """Settings pointed at the world, with delays short enough for tests."""
    base = SmtpSettings(
        port=world.port,
        helo=HELO,
        timeout=2.0,
        allow_private=True,
        greylist_first_delay=0.05,
        greylist_wait=0.6,
        rate_limit_first_delay=0.05,
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


def hosts_of(*servers: SmtpTestServer) -> tuple[MailHost, ...]:
    """MX records for the servers, in the order given (preference 10, 20...)."""
    return tuple(
        MailHost(s.mx_name, 10 * (i + 1), (s.address,)) for i, s in enumerate(servers)
    )


def run_probes(
    settings: SmtpSettings, probes: Sequence[Probe], prober: MailboxProber | None = None
) -> tuple[list[MailboxOutcome], MailboxProber]:
    """Probe every (recipient, hosts) at once; close the prober afterwards."""
    used = prober or MailboxProber(settings)

    async def main() -> list[MailboxOutcome]:
        try:
            calls = [
                used.probe(address, address.rpartition("@")[2], hosts)
                for address, hosts in probes
            ]
            return list(await asyncio.gather(*calls))
        finally:
            await used.aclose()

    return asyncio.run(main()), used


def probe_one(
    settings: SmtpSettings, address: str, hosts: tuple[MailHost, ...]
) -> MailboxOutcome:
    outcomes, _ = run_probes(settings, [(address, hosts)])
    return outcomes[0]


def test_prober_existing_and_unknown_users_get_exists_and_not_found(
    smtp_servers: StartSmtpServers,
) -> None:
    world = smtp_servers({"mx": mailbox("alice")})
    hosts = hosts_of(world["mx"])

    outcomes, prober = run_probes(
        settings_for(world),
        [("alice@acme-world.net", hosts), ("zed@acme-world.net", hosts)],
    )

    name = world["mx"].mx_name
    assert outcomes[0] == MailboxOutcome(
        reason=Reason.MAILBOX_EXISTS,
        message=f"{name} accepted the mailbox: 250 2.1.5 Ok",
        mx=name,
        reply=SmtpReply(250, "2.1.5", "Ok"),
        catch_all=False,
        rule="accepted",
    )
    assert outcomes[1].reason == Reason.MAILBOX_NOT_FOUND
    assert outcomes[1].message == (
        f"{name} says the mailbox does not exist: 550 5.1.1 "
        "<zed@acme-world.net>: Recipient address rejected: user unknown"
    )
    assert outcomes[1].rule == "5.1.1-not-found"
    assert prober.stats.catch_all_probes == 1


BEHAVIOURS = [
    pytest.param(catch_all(), Reason.CATCH_ALL, id="catch-all"),
    pytest.param(sender_block(), Reason.BLOCKED, id="sender-block"),
    pytest.param(policy_block(), Reason.BLOCKED, id="policy-block"),
    pytest.param(mailbox_full(), Reason.MAILBOX_FULL, id="mailbox-full"),
    pytest.param(disabled(), Reason.MAILBOX_DISABLED, id="disabled"),
    pytest.param(bare_user_unknown(), Reason.MAILBOX_NOT_FOUND, id="bare-550"),
    pytest.param(ehlo_refused("alice"), Reason.MAILBOX_EXISTS, id="ehlo-refused"),
    pytest.param(starttls_required("alice"), Reason.MAILBOX_EXISTS, id="starttls"),
    pytest.param(multiline("alice"), Reason.MAILBOX_EXISTS, id="multiline"),
    pytest.param(broken_tls("alice"), Reason.MAILBOX_EXISTS, id="broken-tls"),
    pytest.param(tls_unavailable("alice"), Reason.MAILBOX_EXISTS, id="tls-454"),
]


@pytest.mark.parametrize(("spec", "reason"), BEHAVIOURS)
def test_prober_server_behaviour_gives_reason(
    smtp_servers: StartSmtpServers, spec: ServerSpec, reason: Reason
) -> None:
    world = smtp_servers({"mx": spec})

    outcome = probe_one(
        settings_for(world), "alice@acme-world.net", hosts_of(world["mx"])
    )

    assert outcome.reason == reason
    assert outcome.mx == world["mx"].mx_name
    assert world["mx"].record.data_commands == 0


def test_prober_catch_all_domain_flags_catch_all_with_one_probe(
    smtp_servers: StartSmtpServers,
) -> None:
    world = smtp_servers({"mx": catch_all()})
    hosts = hosts_of(world["mx"])
    probes = [(f"user{i}@catchall-world.net", hosts) for i in range(30)]

    outcomes, prober = run_probes(settings_for(world), probes)

    assert {(o.reason, o.catch_all) for o in outcomes} == {(Reason.CATCH_ALL, True)}
    assert prober.stats.catch_all_probes == 1
    assert prober.known_catch_all() == [("catchall-world.net", True)]
    probe_rcpts = [r for r in world["mx"].record.recipients if "user" not in r]
    assert len(probe_rcpts) == 1


def test_prober_domain_rejecting_everyone_is_not_probed_for_catch_all(
    smtp_servers: StartSmtpServers,
) -> None:
    world = smtp_servers({"mx": mailbox()})
    hosts = hosts_of(world["mx"])

    outcomes, prober = run_probes(
        settings_for(world), [("a@acme-world.net", hosts), ("b@acme-world.net", hosts)]
    )

    assert {o.reason for o in outcomes} == {Reason.MAILBOX_NOT_FOUND}
    assert prober.stats.catch_all_probes == 0


def test_prober_seeded_catch_all_is_not_probed_again(
    smtp_servers: StartSmtpServers,
) -> None:
    world = smtp_servers({"mx": catch_all()})
    prober = MailboxProber(settings_for(world))
    prober.remember_catch_all("acme-world.net", False)

    outcomes, _ = run_probes(
        prober.settings, [("a@acme-world.net", hosts_of(world["mx"]))], prober
    )

    assert (outcomes[0].reason, outcomes[0].catch_all) == (Reason.MAILBOX_EXISTS, False)
    assert prober.stats.catch_all_probes == 0


def test_prober_many_rows_of_one_domain_share_few_polite_connections(
    smtp_servers: StartSmtpServers,
) -> None:
    users = [f"user{i}" for i in range(0, 100, 2)]
    world = smtp_servers({"mx": mailbox(*users)})
    hosts = hosts_of(world["mx"])
    probes = [(f"user{i}@acme-world.net", hosts) for i in range(100)]

    outcomes, prober = run_probes(settings_for(world), probes)

    record = world["mx"].record
    expected = [
        Reason.MAILBOX_EXISTS if i % 2 == 0 else Reason.MAILBOX_NOT_FOUND
        for i in range(100)
    ]
    assert [o.reason for o in outcomes] == expected
    assert record.connections_total <= 10
    assert record.max_concurrent <= 2
    assert max(record.recipients_per_session) <= 20
    assert record.data_commands == 0
    assert prober.stats.catch_all_probes == 1
    assert prober.stats.max_concurrent_per_host <= 2
    assert all(c.verbs[-1] == "QUIT" for c in record.connections)


def test_prober_max_connections_bounds_all_hosts_together(
    smtp_servers: StartSmtpServers,
) -> None:
    world = smtp_servers({f"mx{i}": mailbox("alice") for i in range(4)})
    probes = [
        (f"u{n}@d{i}-world.net", hosts_of(world[f"mx{i}"]))
        for i in range(4)
        for n in range(30)
    ]

    outcomes, _ = run_probes(settings_for(world, max_connections=3), probes)

    assert {o.reason for o in outcomes} == {Reason.MAILBOX_NOT_FOUND}
    assert world.concurrency.max_concurrent <= 3


def test_prober_per_host_one_never_opens_two_at_once(
    smtp_servers: StartSmtpServers,
) -> None:
    world = smtp_servers({"mx": mailbox("alice")})
    hosts = hosts_of(world["mx"])
    probes = [(f"u{i}@acme-world.net", hosts) for i in range(45)]

    run_probes(settings_for(world, per_host=1, recipients_per_session=5), probes)

    record = world["mx"].record
    assert record.max_concurrent == 1
    assert max(record.recipients_per_session) <= 5


def test_prober_greylisted_recipient_is_retried_then_accepted(
    smtp_servers: StartSmtpServers,
) -> None:
    world = smtp_servers({"mx": greylisting(2, "alice")})
    prober = MailboxProber(settings_for(world))
    prober.remember_catch_all("acme-world.net", False)

    outcomes, _ = run_probes(
        prober.settings, [("alice@acme-world.net", hosts_of(world["mx"]))], prober
    )

    assert outcomes[0].reason == Reason.MAILBOX_EXISTS
    assert world["mx"].record.rcpt_attempts["alice@acme-world.net"] == 3


def test_prober_greylisted_past_budget_gives_greylisted(
    smtp_servers: StartSmtpServers,
) -> None:
    world = smtp_servers({"mx": greylisting(1000, "alice")})
    settings = settings_for(world, greylist_wait=0.3)
    started = time.monotonic()

    outcome = probe_one(settings, "alice@acme-world.net", hosts_of(world["mx"]))

    assert outcome.reason == Reason.GREYLISTED
    assert outcome.reply is not None and outcome.reply.code == 450
    assert outcome.message.startswith(f"{world['mx'].mx_name} kept greylisting")
    assert time.monotonic() - started < 2.0
    # 0.05, 0.10, then the rest of the budget: four attempts in all.
    assert world["mx"].record.rcpt_attempts["alice@acme-world.net"] == 4


def test_prober_421_past_connection_limit_backs_off_and_answers(
    smtp_servers: StartSmtpServers,
) -> None:
    world = smtp_servers({"mx": connection_limit(1, "alice")})
    hosts = hosts_of(world["mx"])
    probes = [(f"u{i}@acme-world.net", hosts) for i in range(40)]

    outcomes, _ = run_probes(settings_for(world, per_host=2), probes)

    assert {o.reason for o in outcomes} == {Reason.MAILBOX_NOT_FOUND}
    refused = [c for c in world["mx"].record.connections if c.refused]
    assert refused  # the second connection met 421 and was backed off


def test_prober_always_421_gives_rate_limited(
    smtp_servers: StartSmtpServers,
) -> None:
    world = smtp_servers({"mx": connection_limit(0)})

    outcome = probe_one(
        settings_for(world), "alice@acme-world.net", hosts_of(world["mx"])
    )

    assert outcome.reason == Reason.RATE_LIMITED
    assert outcome.rule == "421-closing"
    assert world["mx"].record.connections_total == 3


def test_prober_too_many_recipients_continue_in_new_transaction(
    smtp_servers: StartSmtpServers,
) -> None:
    world = smtp_servers({"mx": recipient_limit(3, "u0", "u5")})
    hosts = hosts_of(world["mx"])
    probes = [(f"u{i}@acme-world.net", hosts) for i in range(8)]

    outcomes, _ = run_probes(settings_for(world, per_host=1), probes)

    expected = {0: Reason.MAILBOX_EXISTS, 5: Reason.MAILBOX_EXISTS}
    assert [o.reason for o in outcomes] == [
        expected.get(i, Reason.MAILBOX_NOT_FOUND) for i in range(8)
    ]
    verbs = world["mx"].record.connections[0].verbs
    assert verbs.count("MAIL") >= 3


def test_prober_dropped_connection_requeues_recipients(
    smtp_servers: StartSmtpServers,
) -> None:
    world = smtp_servers({"mx": drop_after_rcpt("u1", rcpt=2, times=1)})
    hosts = hosts_of(world["mx"])
    probes = [(f"u{i}@acme-world.net", hosts) for i in range(4)]

    outcomes, _ = run_probes(settings_for(world, per_host=1), probes)

    assert [o.reason for o in outcomes] == [
        Reason.MAILBOX_NOT_FOUND,
        Reason.MAILBOX_EXISTS,
        Reason.MAILBOX_NOT_FOUND,
        Reason.MAILBOX_NOT_FOUND,
    ]
    assert world["mx"].record.connections_total == 2


def test_prober_connection_dropped_every_time_gives_unknown(
    smtp_servers: StartSmtpServers,
) -> None:
    world = smtp_servers({"mx": drop_after_rcpt("alice", rcpt=1, times=100)})

    outcome = probe_one(
        settings_for(world), "alice@acme-world.net", hosts_of(world["mx"])
    )

    assert outcome.reason == Reason.SMTP_UNREACHABLE
    assert outcome.reason.status.value == "unknown"
    assert world["mx"].record.connections_total == 3


@pytest.mark.parametrize(
    "spec",
    [pytest.param(tarpit(), id="tarpit"), pytest.param(unreachable(), id="backlog-0")],
)
def test_prober_silent_server_gives_smtp_timeout_quickly(
    smtp_servers: StartSmtpServers, spec: ServerSpec
) -> None:
    world = smtp_servers({"mx": spec})
    started = time.monotonic()

    outcome = probe_one(
        settings_for(world, timeout=0.3), "alice@acme-world.net", hosts_of(world["mx"])
    )

    assert outcome.reason == Reason.SMTP_TIMEOUT
    assert time.monotonic() - started < 1.5


def test_prober_host_timing_out_twice_is_written_off(
    smtp_servers: StartSmtpServers,
) -> None:
    world = smtp_servers({"mx": tarpit()})
    settings = settings_for(world, timeout=0.3, per_host=1, recipients_per_session=1)
    hosts = hosts_of(world["mx"])
    probes = [(f"u{i}@acme-world.net", hosts) for i in range(6)]
    started = time.monotonic()

    outcomes, _ = run_probes(settings, probes)

    assert {o.reason for o in outcomes} == {Reason.SMTP_TIMEOUT}
    assert world["mx"].record.connections_total == 2
    assert time.monotonic() - started < 1.5
    skipped = outcomes[-1]
    assert skipped.rule == "host-written-off"
    assert skipped.message == (
        f"{world['mx'].mx_name} timed out repeatedly earlier in this job, "
        "so it was not asked again"
    )


def test_prober_three_hosts_timing_out_at_connect_declare_port25_blocked(
    smtp_servers: StartSmtpServers, caplog: pytest.LogCaptureFixture
) -> None:
    world = smtp_servers({f"dead{i}": unreachable() for i in range(4)})
    prober = MailboxProber(settings_for(world, timeout=0.3))
    first = [(f"a@d{i}-world.net", hosts_of(world[f"dead{i}"])) for i in range(3)]

    async def main() -> tuple[list[MailboxOutcome], MailboxOutcome, float]:
        try:
            calls = [prober.probe(a, a.rpartition("@")[2], h) for a, h in first]
            outcomes = list(await asyncio.gather(*calls))
            started = time.monotonic()
            later = await prober.probe(
                "b@d3-world.net", "d3-world.net", hosts_of(world["dead3"])
            )
            return outcomes, later, time.monotonic() - started
        finally:
            await prober.aclose()

    with caplog.at_level(logging.WARNING, logger="emailclean.smtp.pool"):
        outcomes, later, took = asyncio.run(main())

    assert prober.port25_blocked
    assert {o.reason for o in outcomes} <= {Reason.SMTP_TIMEOUT, Reason.PORT25_BLOCKED}
    assert later.reason == Reason.PORT25_BLOCKED
    assert took < 0.05
    assert world["dead3"].record.connections_total == 0
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "looks blocked" in warnings[0].getMessage()


def test_prober_tarpit_does_not_count_as_port25_blocked(
    smtp_servers: StartSmtpServers,
) -> None:
    world = smtp_servers({f"tar{i}": tarpit() for i in range(3)})
    probes = [(f"a@d{i}-world.net", hosts_of(world[f"tar{i}"])) for i in range(3)]

    outcomes, prober = run_probes(settings_for(world, timeout=0.3), probes)

    assert not prober.port25_blocked
    assert {o.reason for o in outcomes} == {Reason.SMTP_TIMEOUT}


def test_prober_refused_first_mx_fails_over_to_next(
    smtp_servers: StartSmtpServers,
) -> None:
    world = smtp_servers({"mx": mailbox("alice")})
    closed = MailHost("closed.mx.emailclean-world.net", 5, ("127.0.0.250",))
    hosts = (closed, *hosts_of(world["mx"]))

    outcome = probe_one(settings_for(world), "alice@acme-world.net", hosts)

    assert outcome.reason == Reason.MAILBOX_EXISTS
    assert outcome.mx == world["mx"].mx_name


def test_prober_every_mx_refusing_gives_smtp_unreachable(
    smtp_servers: StartSmtpServers,
) -> None:
    world = smtp_servers({"mx": mailbox("alice")})
    hosts = (
        MailHost("a.mx.emailclean-world.net", 10, ("127.0.0.250",)),
        MailHost("b.mx.emailclean-world.net", 20, ("127.0.0.251",)),
    )

    outcome = probe_one(settings_for(world), "alice@acme-world.net", hosts)

    assert outcome.reason == Reason.SMTP_UNREACHABLE
    assert outcome.mx == "b.mx.emailclean-world.net"


def test_prober_mx_preference_order_is_followed(
    smtp_servers: StartSmtpServers,
) -> None:
    world = smtp_servers({"primary": mailbox("alice"), "backup": mailbox("alice")})
    primary, backup = hosts_of(world["primary"], world["backup"])
    hosts = (replace(backup, preference=50), replace(primary, preference=5))

    outcome = probe_one(settings_for(world), "alice@acme-world.net", hosts)

    assert outcome.mx == world["primary"].mx_name
    assert world["backup"].record.connections_total == 0


def test_prober_private_address_refused_without_allow_private(
    smtp_servers: StartSmtpServers,
) -> None:
    world = smtp_servers({"mx": mailbox("alice")})
    settings = settings_for(world, allow_private=False)

    outcome = probe_one(settings, "alice@acme-world.net", hosts_of(world["mx"]))

    assert outcome.reason == Reason.PRIVATE_MX
    assert outcome.rule == "private-mx"
    assert world["mx"].record.connections_total == 0


@pytest.mark.parametrize(
    "address",
    [
        pytest.param("alice\r\nDATA@acme-world.net", id="crlf"),
        pytest.param("alice\n@acme-world.net", id="lf"),
        pytest.param("ali\x00ce@acme-world.net", id="nul"),
    ],
)
def test_prober_control_characters_are_refused_before_smtp(
    smtp_servers: StartSmtpServers, address: str
) -> None:
    world = smtp_servers({"mx": mailbox("alice")})

    outcome = probe_one(settings_for(world), address, hosts_of(world["mx"]))

    assert outcome.reason == Reason.TEMPORARY_FAILURE
    assert outcome.rule == "unsafe-recipient"
    assert world["mx"].record.connections_total == 0


def test_prober_utf8_recipient_without_smtputf8_gives_unknown(
    smtp_servers: StartSmtpServers,
) -> None:
    world = smtp_servers({"mx": mailbox("jürgen")})

    outcome = probe_one(
        settings_for(world), "jürgen@acme-world.net", hosts_of(world["mx"])
    )

    assert outcome.reason == Reason.TEMPORARY_FAILURE
    assert outcome.rule == "smtputf8-unsupported"
    assert world["mx"].record.recipients == []


def test_prober_utf8_recipient_with_smtputf8_is_asked(
    smtp_servers: StartSmtpServers,
) -> None:
    world = smtp_servers({"mx": mailbox("jürgen", smtputf8=True)})

    outcome = probe_one(
        settings_for(world), "jürgen@acme-world.net", hosts_of(world["mx"])
    )

    assert outcome.reason == Reason.MAILBOX_EXISTS
    mail = [a for v, a in world["mx"].record.connections[0].commands if v == "MAIL"]
    assert "SMTPUTF8" in mail[0]


def test_prober_starttls_required_upgrades_before_mail(
    smtp_servers: StartSmtpServers,
) -> None:
    world = smtp_servers({"mx": starttls_required("alice")})

    probe_one(settings_for(world), "alice@acme-world.net", hosts_of(world["mx"]))

    connection = world["mx"].record.connections[0]
    assert connection.tls
    assert connection.verbs[:4] == ["EHLO", "STARTTLS", "EHLO", "MAIL"]


def test_prober_ehlo_refused_falls_back_to_helo(
    smtp_servers: StartSmtpServers,
) -> None:
    world = smtp_servers({"mx": ehlo_refused("alice")})

    probe_one(settings_for(world), "alice@acme-world.net", hosts_of(world["mx"]))

    connection = world["mx"].record.connections[0]
    assert connection.commands[:2] == [("EHLO", HELO), ("HELO", HELO)]


def test_prober_multiline_rejection_is_read_whole(
    smtp_servers: StartSmtpServers,
) -> None:
    world = smtp_servers({"mx": multiline("alice")})

    outcome = probe_one(
        settings_for(world), "bob@acme-world.net", hosts_of(world["mx"])
    )

    assert outcome.reason == Reason.MAILBOX_NOT_FOUND
    assert outcome.reply == SmtpReply(
        550,
        "5.1.1",
        "The email account that you tried to reach does not exist.",
    )


def test_prober_aclose_quits_every_session_and_never_sends_data(
    smtp_servers: StartSmtpServers,
) -> None:
    world = smtp_servers({"a": mailbox("alice"), "b": catch_all()})
    probes = [
        ("alice@a-world.net", hosts_of(world["a"])),
        ("x@b-world.net", hosts_of(world["b"])),
    ]

    run_probes(settings_for(world), probes)

    for server in world:
        assert server.record.data_commands == 0
        assert all(c.verbs[-1] == "QUIT" for c in server.record.connections)


def test_prober_mail_from_default_uses_helo_name(
    smtp_servers: StartSmtpServers,
) -> None:
    world = smtp_servers({"mx": mailbox("alice")})

    probe_one(settings_for(world), "alice@acme-world.net", hosts_of(world["mx"]))

    commands = world["mx"].record.connections[0].commands
    assert ("MAIL", f"FROM:<verify@{HELO}>") in commands


def test_prober_empty_mail_from_sends_null_reverse_path(
    smtp_servers: StartSmtpServers,
) -> None:
    world = smtp_servers({"mx": mailbox("alice")})

    probe_one(
        settings_for(world, mail_from=""), "alice@acme-world.net", hosts_of(world["mx"])
    )

    assert ("MAIL", "FROM:<>") in world["mx"].record.connections[0].commands


def test_prober_refusing_greeting_fails_over_to_next_mx(
    smtp_servers: StartSmtpServers,
) -> None:
    world = smtp_servers({"no": refusing_greeting(), "yes": mailbox("alice")})

    outcome = probe_one(
        settings_for(world), "alice@acme-world.net", hosts_of(world["no"], world["yes"])
    )

    assert outcome.reason == Reason.MAILBOX_EXISTS
    assert outcome.mx == world["yes"].mx_name


def test_prober_554_greeting_on_only_mx_gives_blocked(
    smtp_servers: StartSmtpServers,
) -> None:
    world = smtp_servers({"mx": refusing_greeting()})

    outcome = probe_one(
        settings_for(world), "alice@acme-world.net", hosts_of(world["mx"])
    )

    assert outcome.reason == Reason.BLOCKED
    assert outcome.rule == "greeting-refused"


def test_prober_4xx_greeting_on_only_mx_is_retried_then_unknown(
    smtp_servers: StartSmtpServers,
) -> None:
    world = smtp_servers({"mx": refusing_greeting("450 4.3.2 System not accepting")})
    settings = settings_for(world, greylist_wait=0.2)

    outcome = probe_one(settings, "alice@acme-world.net", hosts_of(world["mx"]))

    assert outcome.reason == Reason.TEMPORARY_FAILURE
    assert world["mx"].record.connections_total >= 2


MISBEHAVING = [
    pytest.param(gibberish(), id="gibberish"),
    pytest.param(tarpit(), id="tarpit"),
    pytest.param(unreachable(), id="backlog-0"),
    pytest.param(drop_after_rcpt("alice", times=100), id="drop-always"),
    pytest.param(connection_limit(0), id="421-always"),
    pytest.param(refusing_greeting(), id="554-greeting"),
    pytest.param(policy_block(), id="policy-block"),
    pytest.param(sender_block(), id="sender-block"),
]


@pytest.mark.parametrize("spec", MISBEHAVING)
def test_prober_misbehaving_server_never_raises_or_invalidates(
    smtp_servers: StartSmtpServers, spec: ServerSpec
) -> None:
    world = smtp_servers({"mx": spec})
    hosts = hosts_of(world["mx"])
    probes = [(f"{name}@acme-world.net", hosts) for name in ("alice", "bob")]

    # Any aiosmtplib, socket or ssl exception escaping would fail here.
    outcomes, _ = run_probes(settings_for(world, timeout=0.3), probes)

    assert all(isinstance(o, MailboxOutcome) for o in outcomes)
    assert all(o.reason.status.value in ("unknown", "valid") for o in outcomes)


def test_prober_gibberish_reply_gives_unknown(smtp_servers: StartSmtpServers) -> None:
    world = smtp_servers({"mx": gibberish()})

    outcome = probe_one(
        settings_for(world), "alice@acme-world.net", hosts_of(world["mx"])
    )

    assert outcome.reason == Reason.SMTP_UNREACHABLE
    assert "malformed reply" in outcome.message


def test_prober_one_recipient_per_session_still_probes_catch_all(
    smtp_servers: StartSmtpServers,
) -> None:
    world = smtp_servers({"mx": mailbox("alice", "bob")})
    hosts = hosts_of(world["mx"])
    probes = [("alice@acme-world.net", hosts), ("bob@acme-world.net", hosts)]

    outcomes, prober = run_probes(
        settings_for(world, recipients_per_session=1, per_host=1), probes
    )

    assert [o.reason for o in outcomes] == [Reason.MAILBOX_EXISTS] * 2
    assert prober.stats.catch_all_probes == 1
    assert max(world["mx"].record.recipients_per_session) <= 2


def test_prober_aclose_answers_waiting_greylisted_rows(
    smtp_servers: StartSmtpServers,
) -> None:
    world = smtp_servers({"mx": greylisting(1000, "alice")})
    prober = MailboxProber(settings_for(world, greylist_wait=60.0))

    async def main() -> MailboxOutcome:
        task = asyncio.create_task(
            prober.probe(
                "alice@acme-world.net", "acme-world.net", hosts_of(world["mx"])
            )
        )
        await asyncio.sleep(0.2)
        await prober.aclose()
        return await task

    outcome = asyncio.run(main())

    assert outcome.reason == Reason.TEMPORARY_FAILURE
    assert outcome.rule == "prober-closed"


def test_prober_cancelled_probe_is_not_asked(smtp_servers: StartSmtpServers) -> None:
    world = smtp_servers({"mx": mailbox("alice")})
    prober = MailboxProber(settings_for(world))
    hosts = hosts_of(world["mx"])

    async def main() -> MailboxOutcome:
        doomed = asyncio.create_task(
            prober.probe("bob@acme-world.net", "acme-world.net", hosts)
        )
        await asyncio.sleep(0)
        doomed.cancel()
        try:
            return await prober.probe("alice@acme-world.net", "acme-world.net", hosts)
        finally:
            await prober.aclose()

    outcome = asyncio.run(main())

    assert outcome.reason == Reason.MAILBOX_EXISTS
    assert "TO:<bob@acme-world.net>" not in world["mx"].record.recipients


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"per_host": 0}, id="per-host-zero"),
        pytest.param({"max_connections": 0}, id="max-connections-zero"),
        pytest.param({"recipients_per_session": 0}, id="recipients-zero"),
        pytest.param({"timeout": 0.0}, id="timeout-zero"),
        pytest.param({"port": 0}, id="port-zero"),
        pytest.param({"helo": "bad name"}, id="helo-with-space"),
        pytest.param({"helo": ""}, id="helo-empty"),
        pytest.param({"helo": "a\r\nMAIL"}, id="helo-crlf"),
        pytest.param({"mail_from": "a@b.net\r\nDATA"}, id="mail-from-crlf"),
        pytest.param({"mail_from": "<a@b.net>"}, id="mail-from-brackets"),
    ],
)
def test_settings_impossible_values_are_usage_errors(
    overrides: dict[str, object],
) -> None:
    arguments: dict[str, object] = {"helo": HELO, **overrides}
    with pytest.raises(UsageError):
        SmtpSettings(**arguments)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "address",
    [
        pytest.param("10.1.2.3", id="rfc1918"),
        pytest.param("::ffff:127.0.0.2", id="ipv4-mapped-loopback"),
        pytest.param("169.254.1.1", id="link-local"),
        pytest.param("::1", id="ipv6-loopback"),
    ],
)
def test_prober_non_global_addresses_give_private_mx(address: str) -> None:
    settings = SmtpSettings(helo=HELO, timeout=0.3)
    hosts = (MailHost("mx.emailclean-world.net", 10, (address,)),)

    outcome = probe_one(settings, "alice@acme-world.net", hosts)

    assert outcome.reason == Reason.PRIVATE_MX
    assert outcome.message == (
        "mail host mx.emailclean-world.net is at a private, loopback or otherwise "
        "non-global address; not probed (use --allow-private-mx to allow it)"
    )


def test_prober_too_many_at_first_recipient_is_retried_not_looped(
    smtp_servers: StartSmtpServers,
) -> None:
    world = smtp_servers({"mx": recipient_limit(0, "alice")})
    settings = settings_for(world, greylist_wait=0.2)

    outcome = probe_one(settings, "alice@acme-world.net", hosts_of(world["mx"]))

    assert outcome.reason == Reason.TEMPORARY_FAILURE
    assert outcome.rule == "452-too-many-at-first-recipient"
    assert len(world["mx"].record.recipients) <= 5


def test_prober_broken_tls_is_retried_in_clear_and_remembered(
    smtp_servers: StartSmtpServers,
) -> None:
    world = smtp_servers({"mx": broken_tls("alice")})
    hosts = hosts_of(world["mx"])
    probes = [(f"u{i}@acme-world.net", hosts) for i in range(30)]

    outcomes, _ = run_probes(settings_for(world, per_host=1), probes)

    assert {o.reason for o in outcomes} == {Reason.MAILBOX_NOT_FOUND}
    with_tls = [c for c in world["mx"].record.connections if "STARTTLS" in c.verbs]
    assert len(with_tls) == 1
    assert world["mx"].record.connections_total >= 3


def test_prober_greylisted_catch_all_probe_is_retried_and_decides(
    smtp_servers: StartSmtpServers,
) -> None:
    world = smtp_servers({"mx": greylisting(1, "carol")})
    hosts = hosts_of(world["mx"])

    outcomes, prober = run_probes(
        settings_for(world), [("carol@grey-world.net", hosts)]
    )

    assert (outcomes[0].reason, outcomes[0].catch_all) == (
        Reason.MAILBOX_EXISTS,
        False,
    )
    assert prober.stats.catch_all_probes == 2  # greylisted once, then refused
    assert prober.known_catch_all() == [("grey-world.net", False)]


@pytest.mark.parametrize(
    ("reason", "value"),
    [
        pytest.param(Reason.MAILBOX_EXISTS, True, id="accepted"),
        pytest.param(Reason.MAILBOX_NOT_FOUND, False, id="refused"),
        pytest.param(Reason.MAILBOX_DISABLED, False, id="disabled"),
        pytest.param(Reason.GREYLISTED, None, id="greylisted-past-budget"),
        pytest.param(Reason.BLOCKED, None, id="blocked"),
        pytest.param(Reason.SMTP_TIMEOUT, None, id="timeout"),
    ],
)
def test_outcome_catch_all_value_reads_retried_probe(
    reason: Reason, value: bool | None
) -> None:
    outcome = MailboxOutcome(reason=reason, message="")

    assert outcome_catch_all_value(outcome) is value


def test_prober_stats_count_what_was_sent(smtp_servers: StartSmtpServers) -> None:
    world = smtp_servers({"mx": mailbox("alice")})
    hosts = hosts_of(world["mx"])
    probes = [(f"u{i}@acme-world.net", hosts) for i in range(25)]
    probes.append(("alice@acme-world.net", hosts))

    _, prober = run_probes(settings_for(world, per_host=2), probes)

    record = world["mx"].record
    stats = prober.stats
    assert stats.recipients_sent + stats.catch_all_probes == len(record.recipients)
    assert stats.recipients_sent == 26
    assert stats.catch_all_probes == 1
    assert stats.sessions == stats.connections_opened == record.connections_total
    assert 1 <= stats.max_concurrent_per_host <= 2
