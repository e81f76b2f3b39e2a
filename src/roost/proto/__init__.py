"""Roost proto layer."""
