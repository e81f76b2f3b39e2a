"""Roost cli layer."""
