"""Pytest fixtures for the loopback SMTP servers (see `smtp_servers`).

`smtp_servers` is a factory: call it with a mapping of keys to behaviours,
get the running servers back; they stop when the test ends.

    def test_x(smtp_servers: StartSmtpServers) -> None:
        world = smtp_servers({"mx": mailbox("alice"), "dead": unreachable()})
        world["mx"].address, world.port, world["mx"].record.data_commands
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

import pytest

from tests.world.smtp_servers import RunningServers, ServerSpec, SmtpWorld

__all__ = ["StartSmtpServers", "smtp_servers"]

StartSmtpServers = Callable[[Mapping[str, ServerSpec]], RunningServers]


@pytest.fixture
def smtp_servers() -> Iterator[StartSmtpServers]:
    """Start scripted SMTP servers on 127.0.0.2+ at one shared port."""
    worlds: list[SmtpWorld] = []

    def start(specs: Mapping[str, ServerSpec]) -> RunningServers:
        world = SmtpWorld()
        worlds.append(world)
        return world.start(specs)

    yield start
    for world in worlds:
        world.stop()
