"""The baseline of bench_smtp.py: one SMTP connection per address.

This is how most open-source verifiers probe a mailbox: for every address,
look up the domain's mail host, connect, EHLO, MAIL FROM, RCPT TO, QUIT.
It is written here with aiosmtplib and asyncio, and made as fair as we can:
MX answers are cached per domain (single flight), every address runs at
once as its own task, and the same politeness caps as the product apply (at
most PER_HOST connections per mail host name, MAX_CONNECTIONS in all), so
the only difference left is one connection per address versus sessions
shared by many recipients.

    python benchmarks/smtp_probe_loop.py LIST OUT --nameserver 127.0.0.1:5353 \
        --smtp-port 2525 --per-host 2 --max-connections 20

OUT is JSON: {"codes": [RCPT reply code per address, 0 when none],
"probe_s": seconds of the probing itself}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import aiosmtplib
import dns.asyncresolver
import dns.exception
import dns.resolver

SENDER = "verify@bench.emailclean-world.net"
HELO = "bench.emailclean-world.net"
NO_REPLY = 0  # no RCPT reply: DNS failed, or the connection did
# Generous, so that a loaded machine does not turn into failed lookups
# (which would make the baseline look faster than it is).
DNS_LIFETIME_S = 30.0


@dataclass(frozen=True)
class MailHost:
    name: str
    address: str


class Limits:
    """Connections at once: per mail host name, and in all."""

    def __init__(self, per_host: int, total: int) -> None:
        self.total = asyncio.Semaphore(total)
        self._per_host: defaultdict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(per_host)
        )

    def host(self, name: str) -> asyncio.Semaphore:
        return self._per_host[name]


class MailHostCache:
    """The most preferred mail host of each domain, looked up once."""

    def __init__(self, nameserver: str) -> None:
        host, _, port = nameserver.rpartition(":")
        self.resolver = dns.asyncresolver.Resolver(configure=False)
        self.resolver.nameservers = [host]
        self.resolver.port = int(port)
        self.resolver.lifetime = DNS_LIFETIME_S
        self._lookups: dict[str, asyncio.Task[MailHost | None]] = {}

    async def mail_host(self, domain: str) -> MailHost | None:
        if domain not in self._lookups:
            self._lookups[domain] = asyncio.create_task(self._look_up(domain))
        return await self._lookups[domain]

    async def _look_up(self, domain: str) -> MailHost | None:
        try:
            answer = await self.resolver.resolve(domain, "MX")
            best = min(answer, key=lambda record: record.preference)
            name = best.exchange.to_text(omit_final_dot=True)
            addresses = await self.resolver.resolve(name, "A")
        except dns.exception.DNSException:
            return None
        return MailHost(name, addresses[0].address)


async def probe(
    address: str, hosts: MailHostCache, limits: Limits, port: int, timeout: float
) -> int:
    """Connect, EHLO, MAIL FROM, RCPT TO, QUIT; the RCPT reply code."""
    host = await hosts.mail_host(address.rpartition("@")[2].lower())
    if host is None:
        return NO_REPLY

    async with limits.host(host.name), limits.total:
        client = aiosmtplib.SMTP(
            hostname=host.address,
            port=port,
            timeout=timeout,
            local_hostname=HELO,
            start_tls=False,
        )
        try:
            await client.connect()
            await client.ehlo()
            await client.mail(SENDER)
            return await rcpt_code(client, address)
        except (aiosmtplib.SMTPException, OSError):
            return NO_REPLY
        finally:
            await close(client)


async def rcpt_code(client: aiosmtplib.SMTP, address: str) -> int:
    try:
        response = await client.rcpt(address)
    except aiosmtplib.SMTPResponseException as refused:
        return refused.code
    return response.code


async def close(client: aiosmtplib.SMTP) -> None:
    if not client.is_connected:
        return
    try:
        await client.quit()
    except (aiosmtplib.SMTPException, OSError):
        client.close()


async def probe_all(addresses: list[str], args: argparse.Namespace) -> list[int]:
    hosts = MailHostCache(args.nameserver)
    limits = Limits(args.per_host, args.max_connections)
    probes = (
        probe(address, hosts, limits, args.smtp_port, args.timeout)
        for address in addresses
    )
    return list(await asyncio.gather(*probes))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("addresses", type=Path, help="one address a line")
    parser.add_argument("out", type=Path)
    parser.add_argument("--nameserver", required=True, help="HOST:PORT")
    parser.add_argument("--smtp-port", type=int, required=True)
    parser.add_argument("--per-host", type=int, default=2)
    parser.add_argument("--max-connections", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=10.0)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    addresses = args.addresses.read_text(encoding="utf-8").split()
    started = time.perf_counter()
    codes = asyncio.run(probe_all(addresses, args))
    elapsed = time.perf_counter() - started
    args.out.write_text(json.dumps({"codes": codes, "probe_s": elapsed}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
