"""Roost services layer."""
