"""Alembic environment: migrate the connection handed over by cloud.storage.migrate.upgrade()."""

from __future__ import annotations

from alembic import context

from cloud.storage.engine import WRITE_OPTION
from cloud.storage.schema import metadata

config = context.config


def run_migrations_online() -> None:
    """Run every pending migration on the connection (or URL) given in the Alembic config."""
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through cloud.storage.migrate.upgrade(database_url)")
    connection = connection.execution_options(**{WRITE_OPTION: True})
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported")
run_migrations_online()
