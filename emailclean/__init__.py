"""emailclean: clean whole email lists on your own machine."""

__version__ = "0.1.0"
