"""Alembic environment: migrations run on the connection handed in by `api.migrate`."""

from alembic import context

import api.sync.models  # (the sync tables belong to the same metadata)
import api.write_models  # noqa: F401  (tokens, audit entries, idempotency keys)
from api.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `pantau db upgrade`, which passes the connection in")

context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True, compare_type=True)
with context.begin_transaction():
    context.run_migrations()
