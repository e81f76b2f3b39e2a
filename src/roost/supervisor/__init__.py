"""Roost supervisor layer."""
