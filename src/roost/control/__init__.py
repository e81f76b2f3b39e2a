"""Roost control layer."""
