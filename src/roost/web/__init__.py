"""Roost web layer."""
