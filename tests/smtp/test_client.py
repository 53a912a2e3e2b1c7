"""SmtpSession against loopback servers: the exchange and error translation."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from emailclean.errors import SmtpProbeError
from emailclean.models import SmtpReply
from emailclean.smtp.client import (
    SmtpConnectionError,
    SmtpRefusedError,
    SmtpSession,
    SmtpTimeoutError,
    SmtpTlsError,
)
from emailclean.smtp.replies import Stage
from emailclean.smtp.settings import SmtpSettings
from tests.world.smtp_fixtures import StartSmtpServers
from tests.world.smtp_servers import (
    ServerSpec,
    SmtpTestServer,
    broken_tls,
    connection_limit,
    drop_after_rcpt,
    gibberish,
    mailbox,
    refusing_greeting,
    starttls_required,
    tarpit,
    tls_unavailable,
    unreachable,
)

HELO = "probe.emailclean-world.net"


def session_for(server: SmtpTestServer, timeout: float = 2.0) -> SmtpSession:
    settings = SmtpSettings(port=server.port, helo=HELO, timeout=timeout)
    return SmtpSession(server.mx_name, server.address, settings)


def run_session(
    session: SmtpSession, steps: Callable[[SmtpSession], Awaitable[None]]
) -> None:
    """Open the session, run `steps`, and always close it."""

    async def main() -> None:
        try:
            await session.open()
            await steps(session)
        finally:
            await session.quit()

    asyncio.run(main())


async def ask_alice(session: SmtpSession) -> None:
    await session.mail()
    await session.rcpt("alice@acme-world.net")


def test_session_full_exchange_returns_parsed_replies(
    smtp_servers: StartSmtpServers,
) -> None:
    world = smtp_servers({"mx": mailbox("alice")})
    answers = []

    async def steps(session: SmtpSession) -> None:
        answers.append(await session.mail())
        answers.append(await session.rcpt("alice@acme-world.net"))
        answers.append(await session.rcpt("bob@acme-world.net"))
        answers.append(await session.reset())

    run_session(session_for(world["mx"]), steps)

    assert [a.reply.code for a in answers] == [250, 250, 550, 250]
    assert answers[2].reply == SmtpReply(
        550,
        "5.1.1",
        "<bob@acme-world.net>: Recipient address rejected: user unknown",
    )
    assert answers[2].stage is Stage.RCPT
    verbs = world["mx"].record.connections[0].verbs
    assert verbs == ["EHLO", "MAIL", "RCPT", "RCPT", "RSET", "QUIT"]


def test_session_starttls_offered_is_used(smtp_servers: StartSmtpServers) -> None:
    world = smtp_servers({"mx": starttls_required("alice")})
    session = session_for(world["mx"])

    run_session(session, ask_alice)

    assert session.tls
    assert world["mx"].record.connections[0].tls


def test_session_starttls_off_leaves_connection_plain(
    smtp_servers: StartSmtpServers,
) -> None:
    world = smtp_servers({"mx": starttls_required("alice")})
    server = world["mx"]
    settings = SmtpSettings(port=server.port, helo=HELO, starttls=False)
    answers = []

    async def steps(session: SmtpSession) -> None:
        answers.append(await session.mail())

    run_session(SmtpSession(server.mx_name, server.address, settings), steps)

    assert answers[0].reply.code == 530
    assert "STARTTLS" not in server.record.connections[0].verbs


FAILURES = [
    pytest.param(unreachable(), SmtpTimeoutError, id="backlog-0"),
    pytest.param(tarpit(), SmtpTimeoutError, id="tarpit"),
    pytest.param(connection_limit(0), SmtpRefusedError, id="421-greeting"),
    pytest.param(refusing_greeting(), SmtpRefusedError, id="554-greeting"),
    pytest.param(drop_after_rcpt("alice"), SmtpConnectionError, id="drop"),
    pytest.param(gibberish(), SmtpConnectionError, id="gibberish"),
    pytest.param(broken_tls("alice"), SmtpTlsError, id="broken-tls"),
]


@pytest.mark.parametrize(("spec", "error"), FAILURES)
def test_session_failure_is_translated_to_our_error(
    smtp_servers: StartSmtpServers, spec: ServerSpec, error: type[Exception]
) -> None:
    world = smtp_servers({"mx": spec})

    with pytest.raises(SmtpProbeError) as caught:
        run_session(session_for(world["mx"], timeout=0.3), ask_alice)

    assert type(caught.value) is error
    assert caught.value.mx == world["mx"].mx_name
    assert caught.value.__cause__ is not None


def test_session_backlog_zero_times_out_at_connect(
    smtp_servers: StartSmtpServers,
) -> None:
    world = smtp_servers({"mx": unreachable()})

    with pytest.raises(SmtpTimeoutError) as caught:
        run_session(session_for(world["mx"], timeout=0.3), ask_alice)

    assert caught.value.at_connect
    assert str(caught.value).endswith("timed out connecting")


def test_session_tarpit_times_out_after_connect(
    smtp_servers: StartSmtpServers,
) -> None:
    world = smtp_servers({"mx": tarpit()})

    with pytest.raises(SmtpTimeoutError) as caught:
        run_session(session_for(world["mx"], timeout=0.3), ask_alice)

    assert not caught.value.at_connect
    assert "greeting" in str(caught.value)


def test_session_refused_port_is_connection_error() -> None:
    settings = SmtpSettings(port=9, helo=HELO, timeout=1.0)
    session = SmtpSession("closed.mx.emailclean-world.net", "127.0.0.250", settings)

    with pytest.raises(SmtpConnectionError):
        run_session(session, ask_alice)


def test_session_421_greeting_carries_the_reply(
    smtp_servers: StartSmtpServers,
) -> None:
    world = smtp_servers({"mx": connection_limit(0)})

    with pytest.raises(SmtpRefusedError) as caught:
        run_session(session_for(world["mx"]), ask_alice)

    answer = caught.value.answer
    assert (answer.reply.code, answer.reply.enhanced) == (421, "4.7.0")
    assert answer.stage is Stage.GREETING
    assert caught.value.code == 421


def test_session_starttls_refused_454_goes_on_in_clear(
    smtp_servers: StartSmtpServers,
) -> None:
    world = smtp_servers({"mx": tls_unavailable("alice")})
    session = session_for(world["mx"])
    answers = []

    async def steps(session: SmtpSession) -> None:
        answers.append(await session.mail())
        answers.append(await session.rcpt("alice@acme-world.net"))

    run_session(session, steps)

    assert not session.tls
    assert [a.reply.code for a in answers] == [250, 250]
