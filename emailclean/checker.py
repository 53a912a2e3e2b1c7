"""Check addresses through every layer the job runs: syntax, DNS, SMTP.

The DNS and SMTP layers share their work by domain and by mail host (single
flight, cached for the job); this module only decides which layer an
address still needs and hands the layers' outcomes to `verdict.decide`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from emailclean.checks.syntax import check_address
from emailclean.config import JobConfig
from emailclean.models import AddressInfo, Check, DomainOutcome, Flag, Verdict
from emailclean.verdict import decide

if TYPE_CHECKING:
    # The network layers are imported only when a job runs them, so a
    # syntax-only run starts fast.
    from emailclean.checks.dns import DomainResolver
    from emailclean.smtp.pool import MailboxProber, SmtpSettings


logger = logging.getLogger(__name__)

_DEAD_RESOLVER = (
    "The DNS server is not answering: domain checks are unknown/dns_timeout. "
    "Check --nameserver or your network."
)


@dataclass
class LayerHealth:
    """Warnings about layers that could not run as asked (exit code 3)."""

    messages: list[str] = field(default_factory=list)

    def add(self, message: str) -> None:
        if message not in self.messages:
            self.messages.append(message)


class AddressChecker:
    """Runs the configured layers for one address or a group of one domain."""

    def __init__(
        self,
        checks: frozenset[Check],
        resolver: DomainResolver | None = None,
        prober: MailboxProber | None = None,
    ) -> None:
        self.checks = checks
        self.resolver = resolver
        self.prober = prober
        self.health = LayerHealth()

    @classmethod
    def from_config(cls, config: JobConfig) -> AddressChecker:
        resolver: DomainResolver | None = None
        prober: MailboxProber | None = None
        if Check.DNS in config.checks:
            from emailclean.checks.dns import (
                DomainResolver,
                ResolverSettings,
                parse_nameserver,
            )

            resolver = DomainResolver(
                ResolverSettings(
                    nameservers=tuple(
                        parse_nameserver(ns) for ns in config.nameservers
                    ),
                    timeout=config.timeout,
                    allow_private=config.allow_private_mx,
                )
            )
        if Check.SMTP in config.checks:
            from emailclean.smtp.pool import MailboxProber

            settings = _smtp_settings(config)
            _warn_about_identity(settings.helo)
            prober = MailboxProber(settings)
        return cls(config.checks, resolver, prober)

    def needs_network(self, info: AddressInfo) -> bool:
        return info.reason is None and self.resolver is not None

    def check_syntax(self, cell: str) -> AddressInfo:
        return check_address(cell)

    async def check(self, cell: str) -> Verdict:
        """Every configured layer for one address."""
        info = check_address(cell)
        if not self.needs_network(info):
            return decide(info)
        if self.prober is None:
            return (await self.check_domain_group([info]))[0]
        return await self.check_mailbox(info)

    async def check_domain_group(self, infos: Sequence[AddressInfo]) -> list[Verdict]:
        """DNS-only verdicts for addresses that share one domain."""
        outcome = await self._resolve(infos[0])
        return [decide(info, outcome) for info in infos]

    async def check_mailbox(self, info: AddressInfo) -> Verdict:
        outcome = await self._resolve(info)
        if outcome.reason is not None or self.prober is None:
            return decide(info, outcome)
        mailbox = await self.prober.probe(
            _recipient(info),
            info.ascii_domain or "",
            outcome.mail_hosts,
            smtputf8=Flag.SMTPUTF8 in info.flags,
        )
        logger.info(
            "%s: %s by rule %s (%s)",
            info.normalized,
            mailbox.reason.value,
            mailbox.rule or "none",
            mailbox.mx or "no host",
        )
        if self.prober.port25_blocked:
            self.health.add(
                "Outbound port 25 looks blocked: connections to several mail "
                "hosts all timed out. SMTP results are unknown/port25_blocked; "
                "run with --checks syntax,dns or from another network."
            )
        return decide(info, outcome, mailbox)

    async def _resolve(self, info: AddressInfo) -> DomainOutcome:
        assert self.resolver is not None
        outcome = await self.resolver.resolve_domain(info.ascii_domain or "")
        if self.resolver.health.dead:
            self.health.add(_DEAD_RESOLVER)
        return outcome

    def final_health(self) -> list[str]:
        """Warnings for the end of the job, after every check has run."""
        health = self.resolver.health if self.resolver is not None else None
        if health is not None and health.timed_out and not health.replied:
            self.health.add(_DEAD_RESOLVER)
        return self.health.messages

    async def aclose(self) -> None:
        if self.prober is not None:
            await self.prober.aclose()
        if self.resolver is not None:
            await self.resolver.aclose()


_PRIVATE_SUFFIXES = (".localdomain", ".local", ".localhost", ".internal", ".lan")


def _warn_about_identity(helo: str) -> None:
    """Receivers often refuse probes that greet with a name nobody can look up."""
    if "." in helo and not helo.lower().endswith(_PRIVATE_SUFFIXES):
        return
    logger.warning(
        "probing as HELO %s: mail servers often refuse probes from a name that "
        "is not public; set --helo and --mail-from to a domain you control "
        "(README: Identity)",
        helo,
    )


def _recipient(info: AddressInfo) -> str:
    if Flag.SMTPUTF8 in info.flags:
        return info.normalized or ""
    return f"{info.local_part}@{info.ascii_domain}"


def _smtp_settings(config: JobConfig) -> SmtpSettings:
    from emailclean.smtp.pool import SmtpSettings

    settings = SmtpSettings(
        port=config.smtp_port,
        timeout=config.timeout,
        per_host=config.per_host,
        max_connections=config.max_connections,
        greylist_wait=config.greylist_wait,
        allow_private=config.allow_private_mx,
        mail_from=config.mail_from,
    )
    return replace(settings, helo=config.helo) if config.helo else settings
