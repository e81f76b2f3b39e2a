"""Alembic migrations of the store's schema; they run at every start."""
