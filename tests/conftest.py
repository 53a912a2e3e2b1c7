"""Shared fixtures: the loopback test world (DESIGN.md §10)."""

from tests.world.dns_fixtures import *
from tests.world.smtp_fixtures import *
