"""Roost core layer."""
