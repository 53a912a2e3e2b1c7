"""Pytest fixtures for the loopback DNS server."""
