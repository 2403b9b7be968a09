"""Alembic migrations of the hub's database, run programmatically by cloud.storage.migrate."""
