"""Shared fixtures: the loopback test world (DESIGN.md §10)."""

from tests.world.dns_fixtures import *  # noqa: F401,F403
from tests.world.smtp_fixtures import *  # noqa: F401,F403
