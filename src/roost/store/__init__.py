"""Roost store layer."""
