"""The scripted SMTP servers behave as scripted (checked with stdlib smtplib)."""

from __future__ import annotations

import smtplib
import socket
import ssl
import time

import pytest

from tests.world.smtp_fixtures import StartSmtpServers
from tests.world.smtp_servers import (
    ServerSpec,
    SmtpTestServer,
    catch_all,
    connection_limit,
    disabled,
    drop_after_rcpt,
    ehlo_refused,
    greylisting,
    mailbox,
    mailbox_full,
    multiline,
    policy_block,
    recipient_limit,
    sender_block,
    starttls_required,
    tarpit,
    unreachable,
)


def client(server: SmtpTestServer, timeout: float = 2.0) -> smtplib.SMTP:
    return smtplib.SMTP(server.address, server.port, timeout=timeout)


def rcpt_reply(server: SmtpTestServer, recipient: str) -> tuple[int, bytes]:
    with client(server) as smtp:
        smtp.ehlo("client.emailclean-world.net")
        smtp.mail("probe@emailclean-world.net")
        return smtp.rcpt(recipient)


def test_servers_share_one_port_on_distinct_addresses(
    smtp_servers: StartSmtpServers,
) -> None:
    world = smtp_servers({"a": mailbox(), "b": catch_all(), "c": tarpit()})

    addresses = [server.address for server in world]

    assert addresses == ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
    assert {server.port for server in world} == {world.port}


RCPT_CASES = [
    pytest.param(mailbox("alice"), "alice@a-world.net", 250, id="existing-user"),
    pytest.param(mailbox("alice"), "bob@a-world.net", 550, id="unknown-user"),
    pytest.param(catch_all(), "anyone@a-world.net", 250, id="catch-all"),
    pytest.param(policy_block(), "alice@a-world.net", 550, id="policy-block"),
    pytest.param(mailbox_full(), "alice@a-world.net", 552, id="mailbox-full"),
    pytest.param(disabled(), "alice@a-world.net", 550, id="disabled"),
    pytest.param(greylisting(1, "alice"), "alice@a-world.net", 450, id="greylist"),
    pytest.param(multiline("alice"), "bob@a-world.net", 550, id="multiline"),
]


@pytest.mark.parametrize(("spec", "recipient", "code"), RCPT_CASES)
def test_server_rcpt_reply_matches_spec(
    smtp_servers: StartSmtpServers, spec: ServerSpec, recipient: str, code: int
) -> None:
    world = smtp_servers({"mx": spec})

    got, _ = rcpt_reply(world["mx"], recipient)

    assert got == code


def test_server_unknown_user_reply_has_enhanced_code(
    smtp_servers: StartSmtpServers,
) -> None:
    world = smtp_servers({"mx": mailbox()})

    _, text = rcpt_reply(world["mx"], "bob@a-world.net")

    assert text.startswith(b"5.1.1 <bob@a-world.net>")


def test_server_greylisting_counts_attempts_per_recipient(
    smtp_servers: StartSmtpServers,
) -> None:
    world = smtp_servers({"mx": greylisting(2, "alice")})

    codes = [rcpt_reply(world["mx"], "alice@a-world.net")[0] for _ in range(3)]

    assert codes == [450, 450, 250]


def test_server_multiline_reply_has_three_lines(
    smtp_servers: StartSmtpServers,
) -> None:
    world = smtp_servers({"mx": multiline()})

    _, text = rcpt_reply(world["mx"], "bob@a-world.net")

    assert text.count(b"\n") == 2


def test_server_sender_block_refuses_mail_from(
    smtp_servers: StartSmtpServers,
) -> None:
    world = smtp_servers({"mx": sender_block()})

    with client(world["mx"]) as smtp:
        smtp.ehlo("client.emailclean-world.net")
        code, text = smtp.mail("probe@emailclean-world.net")

    assert (code, text[:5]) == (550, b"5.7.1")


def test_server_data_is_refused_and_recorded(smtp_servers: StartSmtpServers) -> None:
    world = smtp_servers({"mx": mailbox("alice")})

    with client(world["mx"]) as smtp:
        smtp.ehlo("client.emailclean-world.net")
        smtp.mail("probe@emailclean-world.net")
        smtp.rcpt("alice@a-world.net")
        code, _ = smtp.docmd("DATA")

    record = world["mx"].record
    assert code == 554
    assert record.data_commands == 1
    assert record.connections[0].verbs == ["EHLO", "MAIL", "RCPT", "DATA", "QUIT"]


def test_server_records_concurrency_and_recipients_per_session(
    smtp_servers: StartSmtpServers,
) -> None:
    world = smtp_servers({"mx": mailbox("alice")})

    with client(world["mx"]) as first, client(world["mx"]) as second:
        for smtp in (first, second):
            smtp.ehlo("client.emailclean-world.net")
            smtp.mail("probe@emailclean-world.net")
        first.rcpt("alice@a-world.net")
        second.rcpt("a@a-world.net")
        second.rcpt("b@a-world.net")

    record = world["mx"].record
    assert record.max_concurrent == 2
    assert record.connections_total == 2
    assert record.recipients_per_session == [1, 2]
    assert world.concurrency.max_concurrent == 2


def test_server_recipient_limit_answers_452_past_limit(
    smtp_servers: StartSmtpServers,
) -> None:
    world = smtp_servers({"mx": recipient_limit(2)})

    with client(world["mx"]) as smtp:
        smtp.ehlo("client.emailclean-world.net")
        smtp.mail("probe@emailclean-world.net")
        codes = [smtp.rcpt(f"u{i}@a-world.net") for i in range(3)]
        smtp.rset()
        smtp.mail("probe@emailclean-world.net")
        after_rset = smtp.rcpt("u9@a-world.net")

    assert [code for code, _ in codes] == [550, 550, 452]
    assert codes[2][1].startswith(b"4.5.3")
    assert after_rset[0] == 550


def test_server_connection_limit_greets_421_past_limit(
    smtp_servers: StartSmtpServers,
) -> None:
    world = smtp_servers({"mx": connection_limit(1)})

    with client(world["mx"]), pytest.raises(smtplib.SMTPConnectError) as caught:
        client(world["mx"])

    assert caught.value.smtp_code == 421
    assert [c.refused for c in world["mx"].record.connections] == [False, True]


def test_server_drop_after_rcpt_closes_without_reply(
    smtp_servers: StartSmtpServers,
) -> None:
    world = smtp_servers({"mx": drop_after_rcpt("alice", rcpt=1, times=1)})

    with pytest.raises(smtplib.SMTPServerDisconnected):
        rcpt_reply(world["mx"], "alice@a-world.net")
    second, _ = rcpt_reply(world["mx"], "alice@a-world.net")

    assert second == 250


def test_server_ehlo_refused_accepts_helo(smtp_servers: StartSmtpServers) -> None:
    world = smtp_servers({"mx": ehlo_refused()})

    with client(world["mx"]) as smtp:
        ehlo_code, _ = smtp.ehlo("client.emailclean-world.net")
        helo_code, _ = smtp.helo("client.emailclean-world.net")

    assert (ehlo_code, helo_code) == (502, 250)


def test_server_starttls_required_refuses_mail_until_tls(
    smtp_servers: StartSmtpServers,
) -> None:
    world = smtp_servers({"mx": starttls_required("alice")})
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE

    with client(world["mx"]) as smtp:
        smtp.ehlo("client.emailclean-world.net")
        before, text = smtp.mail("probe@emailclean-world.net")
        smtp.starttls(context=context)
        smtp.ehlo("client.emailclean-world.net")
        after, _ = smtp.mail("probe@emailclean-world.net")

    assert (before, text) == (530, b"5.7.0 Must issue a STARTTLS command first")
    assert after == 250
    assert world["mx"].record.connections[0].tls


def test_server_tarpit_withholds_the_banner(smtp_servers: StartSmtpServers) -> None:
    world = smtp_servers({"mx": tarpit()})
    started = time.monotonic()

    with pytest.raises((TimeoutError, smtplib.SMTPServerDisconnected)):
        client(world["mx"], timeout=0.3)

    assert time.monotonic() - started < 1.0


def test_server_unreachable_never_completes_a_handshake(
    smtp_servers: StartSmtpServers,
) -> None:
    world = smtp_servers({"mx": unreachable()})
    server = world["mx"]
    started = time.monotonic()

    with pytest.raises(TimeoutError):
        socket.create_connection((server.address, server.port), timeout=0.3)

    assert 0.25 < time.monotonic() - started < 1.0
