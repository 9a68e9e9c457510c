"""Fixtures of the API tests: new databases on SQLite and on a throwaway PostgreSQL server."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from tests.serve.postgres_server import postgres_missing, postgres_server


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[str]:
    """URL of a throwaway PostgreSQL server's admin database (one server for the test session)."""
    if (missing := postgres_missing()) is not None:
        pytest.skip(f"no PostgreSQL here: {missing}")
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def new_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], str]]:
    """Make URLs of new, empty databases: SQLite files, or databases on a PostgreSQL server."""
    if request.param == "sqlite":
        names = itertools.count()
        yield lambda: f"sqlite:///{tmp_path / f'db{next(names)}.db'}"
        return
    admin = create_engine(request.getfixturevalue("postgres_admin"), isolation_level="AUTOCOMMIT")
    made: list[str] = []

    def make() -> str:
        name = f"campaign_{uuid.uuid4().hex[:12]}"
        with admin.connect() as connection:
            connection.exec_driver_sql(f"CREATE DATABASE {name}")
        made.append(name)
        return admin.url.set(database=name).render_as_string(hide_password=False)

    yield make
    with admin.connect() as connection:
        for name in made:
            connection.exec_driver_sql(f"DROP DATABASE {name} WITH (FORCE)")
    admin.dispose()
