"""Roost: an all-in-one mail and chat server."""

__version__ = "0.1.0"
