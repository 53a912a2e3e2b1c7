"""One SMTP session with one mail server, on top of aiosmtplib.

A session connects to a resolved address (never a name: the caller picked
the address and checked that it may be probed), reads the greeting, says
EHLO (HELO when EHLO is refused, RFC 5321 §4.1.4), and upgrades with
STARTTLS when the server offers it. That upgrade is opportunistic
(RFC 7435): certificates are not verified, since a mail server's
certificate rarely matches its MX name and the probe carries no secret;
encryption only keeps the recipient names off the wire.

The session then sends MAIL, RCPT and RSET and hands back each reply
as-is; deciding what a reply means is `replies.classify_reply`'s job and
what to do next is the pool's. It never sends DATA.

Every failure leaves this module as an `SmtpProbeError` subclass that says
whose fault it was: `SmtpTimeoutError` (with `at_connect` when the TCP
handshake itself never finished, the sign of a blocked port 25),
`SmtpConnectionError` (refused, reset, dropped), `SmtpRefusedError` (the
server answered, but refused the session). No aiosmtplib, socket or ssl
exception escapes.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import aiosmtplib
import aiosmtplib.protocol

from emailclean.errors import SmtpProbeError
from emailclean.models import SmtpReply
from emailclean.smtp.replies import ReplyCode, Stage, parse_reply
from emailclean.smtp.settings import SmtpSettings

__all__ = [
    "ServerAnswer",
    "SmtpConnectionError",
    "SmtpRefusedError",
    "SmtpSession",
    "SmtpTimeoutError",
    "SmtpTlsError",
]

logger = logging.getLogger(__name__)

CLOSE_WAIT_LIMIT = 1.0  # seconds to wait for a closed connection to go
CLOSE_POLL_INTERVAL = 0.005


class SmtpTimeoutError(SmtpProbeError):
    """A connect or a reply took longer than the timeout."""

    def __init__(self, message: str, *, mx: str, at_connect: bool) -> None:
        super().__init__(message, mx=mx)
        self.at_connect = at_connect


class SmtpConnectionError(SmtpProbeError):
    """The connection was refused, reset or dropped by the peer or network."""


class SmtpTlsError(SmtpConnectionError):
    """STARTTLS was agreed, but the TLS handshake failed."""


class SmtpRefusedError(SmtpProbeError):
    """The server answered, but refused to go on (greeting, HELO, STARTTLS)."""

    def __init__(self, message: str, *, mx: str, answer: ServerAnswer) -> None:
        reply = answer.reply
        super().__init__(message, mx=mx, code=reply.code, enhanced=reply.enhanced)
        self.answer = answer


@dataclass(frozen=True, slots=True)
class ServerAnswer:
    """One reply: parsed, plus every line of its text for classification."""

    reply: SmtpReply
    text: str
    stage: Stage

    @property
    def accepted(self) -> bool:
        return self.reply.code in (ReplyCode.OK, ReplyCode.WILL_FORWARD)


def opportunistic_tls_context() -> ssl.SSLContext:
    """TLS for RFC 7435 opportunistic security: encrypt, do not authenticate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


async def _wait_closed(
    protocol: aiosmtplib.protocol.SMTPProtocol, bound: float
) -> None:
    """Wait (bounded) until the transport is really gone.

    Closing a TLS transport first exchanges close_notify with the peer; if
    the event loop ended before that, the socket would outlive it. aiosmtplib
    clears `protocol.transport` once the connection is lost.
    """
    deadline = asyncio.get_running_loop().time() + min(bound, CLOSE_WAIT_LIMIT)
    while protocol.transport is not None:
        if asyncio.get_running_loop().time() >= deadline:
            return
        await asyncio.sleep(CLOSE_POLL_INTERVAL)


class SmtpSession:
    """One connection to one address of mail host `mx`."""

    def __init__(
        self,
        mx: str,
        address: str,
        settings: SmtpSettings,
        tls_context: ssl.SSLContext | None = None,
        use_starttls: bool = True,
    ) -> None:
        self.mx = mx
        self.address = address
        self._settings = settings
        self._use_starttls = use_starttls and settings.starttls
        self._tls_context = tls_context or opportunistic_tls_context()
        self._smtp = aiosmtplib.SMTP(
            hostname=address,
            port=settings.port,
            timeout=settings.timeout,
            local_hostname=settings.helo,
            use_tls=False,
            start_tls=False,
        )
        self.tls = False
        self._aborted_protocol: aiosmtplib.protocol.SMTPProtocol | None = None

    @property
    def supports_smtputf8(self) -> bool:
        """RFC 6531 §3.1: the server advertised SMTPUTF8 in its EHLO reply."""
        return self._smtp.supports_extension("smtputf8")

    @property
    def is_connected(self) -> bool:
        return self._smtp.is_connected

    async def open(self) -> None:
        """Connect, read the greeting, say hello, and upgrade to TLS if offered."""
        with self._translated(Stage.GREETING):
            await self._smtp.connect()
        logger.debug("%s [%s]: connected", self.mx, self.address)

        await self._hello()
        if self._use_starttls and self._smtp.supports_extension("starttls"):
            await self._start_tls()

    async def _hello(self) -> None:
        # aiosmtplib falls back to HELO when EHLO is refused (RFC 5321 §4.1.4)
        # if the server is still connected.
        with self._translated(Stage.HELLO):
            try:
                await self._smtp.ehlo()
            except aiosmtplib.SMTPHeloError:
                if not self._smtp.is_connected:
                    raise
                logger.debug("%s: EHLO refused, trying HELO", self.mx)
                await self._smtp.helo()

    async def _start_tls(self) -> None:
        try:
            with self._translated(Stage.HELLO):
                await self._smtp.starttls(
                    tls_context=self._tls_context, server_hostname=self.mx
                )
        except SmtpRefusedError as exc:
            # RFC 3207 §4: after a refusal (454) the session goes on in clear.
            if not self._smtp.is_connected:
                raise
            logger.debug("%s refused STARTTLS, going on in clear: %s", self.mx, exc)
            return
        except SmtpConnectionError as exc:
            message = f"{self.mx} [{self.address}]: TLS handshake failed: {exc}"
            raise SmtpTlsError(message, mx=self.mx) from exc
        self.tls = True
        logger.debug("%s: STARTTLS done", self.mx)

        # RFC 3207 §4.2: forget what was learnt before TLS; say hello again.
        await self._hello()

    async def mail(self, smtputf8: bool = False) -> ServerAnswer:
        """MAIL FROM with the configured reverse-path ("<>" when empty)."""
        sender = self._settings.reverse_path.encode("utf-8")
        options = [b"SMTPUTF8"] if smtputf8 else []
        return await self._command(
            Stage.MAIL, b"MAIL", b"FROM:<" + sender + b">", *options
        )

    async def rcpt(self, recipient: str) -> ServerAnswer:
        """RCPT TO for one recipient; the reply is returned, never raised."""
        path = b"TO:<" + recipient.encode("utf-8") + b">"
        return await self._command(Stage.RCPT, b"RCPT", path)

    async def reset(self) -> ServerAnswer:
        """RSET: end the transaction, keep the connection (RFC 5321 §4.1.1.5)."""
        return await self._command(Stage.MAIL, b"RSET")

    async def quit(self) -> None:
        """QUIT politely; any failure only means the connection is gone."""
        protocol = self._smtp.protocol or self._aborted_protocol
        try:
            if self._smtp.is_connected:
                await self._smtp.quit()
        except (aiosmtplib.SMTPException, OSError) as exc:
            logger.debug("%s: QUIT failed, closing anyway: %s", self.mx, exc)
        finally:
            self._smtp.close()
        if protocol is not None:
            await _wait_closed(protocol, self._settings.timeout)

    def abort(self) -> None:
        """Drop the connection without a word (after a timeout or a 421)."""
        self._aborted_protocol = self._smtp.protocol or self._aborted_protocol
        self._smtp.close()

    async def _command(self, stage: Stage, *args: bytes) -> ServerAnswer:
        logger.debug("%s > %s", self.mx, b" ".join(args).decode("utf-8", "replace"))
        with self._translated(stage):
            response = await self._smtp.execute_command(*args)

        answer = ServerAnswer(
            parse_reply(response.code, response.message), response.message, stage
        )
        logger.debug("%s < %s %s", self.mx, response.code, response.message)
        return answer

    @contextmanager
    def _translated(self, stage: Stage) -> Iterator[None]:
        """Turn aiosmtplib, socket and ssl errors into ours, chained."""
        try:
            yield
        except aiosmtplib.SMTPTimeoutError as exc:
            raise self._timeout_error(exc, stage) from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise self._refused_error(exc, stage) from exc
        except (aiosmtplib.SMTPException, OSError, ValueError) as exc:
            self._smtp.close()
            message = f"{self.mx} [{self.address}]: connection failed: {exc}"
            raise SmtpConnectionError(message, mx=self.mx) from exc

    def _timeout_error(
        self, exc: aiosmtplib.SMTPTimeoutError, stage: Stage
    ) -> SmtpTimeoutError:
        self._smtp.close()
        # aiosmtplib raises SMTPConnectTimeoutError both when the TCP
        # handshake hangs and when the banner is late; only the latter is
        # chained to a read timeout. A late banner proves port 25 is open.
        at_connect = isinstance(exc, aiosmtplib.SMTPConnectTimeoutError) and not (
            isinstance(exc.__cause__, aiosmtplib.SMTPTimeoutError)
        )
        what = "connecting" if at_connect else f"waiting for its {stage.value} reply"
        message = f"{self.mx} [{self.address}] timed out {what}"
        return SmtpTimeoutError(message, mx=self.mx, at_connect=at_connect)

    def _refused_error(
        self, exc: aiosmtplib.SMTPResponseException, stage: Stage
    ) -> SmtpProbeError:
        if exc.code == aiosmtplib.SMTPStatus.invalid_response:
            self._smtp.close()
            message = f"{self.mx} sent a malformed reply: {exc.message}"
            return SmtpConnectionError(message, mx=self.mx)

        answer = ServerAnswer(parse_reply(exc.code, exc.message), exc.message, stage)
        message = f"{self.mx} refused the session: {exc.code} {exc.message}"
        return SmtpRefusedError(message, mx=self.mx, answer=answer)
