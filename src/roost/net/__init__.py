"""Roost net layer."""
