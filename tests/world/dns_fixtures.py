"""Pytest fixtures for the loopback DNS server (DESIGN.md §10).

    def test_something(dns_server):
        dns_server.set_zone(Zone().mx("acme-mail.com", [(10, "mx.acme-mail.com")]))
        run_product(nameserver=dns_server.nameserver)
        assert dns_server.count("acme-mail.com", "MX") == 1

`start_dns_server(zone, delay=...)` starts more servers in one test; every
server a test started is stopped at teardown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.world.dns_server import DnsServer, Zone

__all__ = ["dns_server", "start_dns_server"]

StartDnsServer = Callable[..., DnsServer]


@pytest.fixture
def start_dns_server() -> Iterator[StartDnsServer]:
    """A function that starts a DnsServer(zone, delay=..., host=...)."""
    started: list[DnsServer] = []

    def start(zone: Zone | None = None, **options: object) -> DnsServer:
        server = DnsServer(zone, **options)  # type: ignore[arg-type]
        started.append(server.start())
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def dns_server(start_dns_server: StartDnsServer) -> DnsServer:
    """A started server with an empty zone; give it one with `set_zone`."""
    return start_dns_server()
