"""The knobs of SMTP probing, with the defaults the CLI documents.

Defaults lean to politeness: two connections per mail host, twenty
recipients per session (many servers drop a client after about twenty
refused recipients), ten minutes of greylist retries.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from functools import cache

from emailclean.errors import UsageError

__all__ = ["SmtpSettings", "default_helo"]

FALLBACK_HELO = "localhost.localdomain"
DEFAULT_SENDER_LOCAL_PART = "verify"


@cache
def default_helo() -> str:
    """This machine's fully qualified name, or "localhost.localdomain".

    RFC 5321 §4.1.4 asks for the client's FQDN in EHLO. A name without a dot
    (or "localhost") is not one, so the fallback is used instead; many
    servers still refuse a client whose name does not resolve back to its
    address, which shows up as `unknown/blocked`. `--helo` overrides it.
    """
    name = socket.getfqdn().strip().rstrip(".")
    if "." not in name or name.startswith("localhost") or not name.isascii():
        return FALLBACK_HELO
    return name


@dataclass(frozen=True)
class SmtpSettings:
    """How the prober talks to mail servers.

    `mail_from` None means "verify@" + the HELO name; an empty string sends
    the null reverse-path "<>" (RFC 5321 §4.5.5), which some servers refuse.
    `rate_limit_first_delay` is the first wait after a 421; it doubles on
    each repeat.
    """

    port: int = 25
    helo: str = field(default_factory=default_helo)
    mail_from: str | None = None
    timeout: float = 10.0
    per_host: int = 2
    max_connections: int = 20
    recipients_per_session: int = 20
    greylist_wait: float = 600.0
    greylist_first_delay: float = 60.0
    allow_private: bool = False
    starttls: bool = True
    rate_limit_first_delay: float = 30.0

    def __post_init__(self) -> None:
        counts = {
            "per_host": self.per_host,
            "max_connections": self.max_connections,
            "recipients_per_session": self.recipients_per_session,
        }
        for name, value in counts.items():
            if value < 1:
                raise UsageError(f"SMTP {name} must be at least 1, not {value}")
        if self.timeout <= 0:
            raise UsageError(f"SMTP timeout must be positive, not {self.timeout}")
        if not 0 < self.port < 65536:
            raise UsageError(f"SMTP port must be 1-65535, not {self.port}")
        self._check_identity()

    def _check_identity(self) -> None:
        """RFC 5321 §4.1.1.1, §4.1.2: no spaces or controls in HELO or MAIL."""
        helo_ok = (
            self.helo.isascii() and self.helo.isprintable() and " " not in self.helo
        )
        if not self.helo or not helo_ok:
            raise UsageError(
                f"--helo {self.helo!r} is not a host name: use a domain name "
                "without spaces, e.g. mail.example.org"
            )
        sender = self.mail_from or ""
        if not sender.isprintable() or any(c in sender for c in " <>"):
            raise UsageError(
                f"--mail-from {sender!r} is not a plain address: give it "
                "without spaces or angle brackets, e.g. verify@example.org"
            )

    @property
    def reverse_path(self) -> str:
        """The address sent in MAIL FROM, without angle brackets."""
        if self.mail_from is None:
            return f"{DEFAULT_SENDER_LOCAL_PART}@{self.helo}"
        return self.mail_from
