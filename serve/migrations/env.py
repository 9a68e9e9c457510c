"""Alembic's environment for the API database: the models' metadata, batch mode for SQLite, one transaction.

:func:`serve.database.migrate` passes its open connection (``config.attributes["connection"]``), already inside the
transaction that holds the migration lock, so the version check and every revision commit or fail together. A
developer's ``alembic`` command (``-c serve/migrations/alembic.ini``) connects to ``-x url=…``, else to the
configured database (``Settings().database_url``).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from serve.database import Base


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True,
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url")
    if url:
        return url
    from agent.settings import Settings  # only a developer's command reads the settings

    return Settings().database_url


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=Base.metadata, render_as_batch=True, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    given = context.config.attributes.get("connection")
    if given is not None:
        _run(given)
    else:
        engine = create_engine(_url())
        try:
            with engine.connect() as connection:
                _run(connection)
        finally:
            engine.dispose()
