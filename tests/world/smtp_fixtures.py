"""Pytest fixtures for the loopback SMTP servers."""
