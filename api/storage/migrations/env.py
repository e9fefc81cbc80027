"""Alembic environment: migrations run on the connection handed in by `api.storage.migrate`."""

from alembic import context

from api.storage.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `pantau db upgrade`, which passes the connection in")

context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True, compare_type=True)
with context.begin_transaction():
    context.run_migrations()
