"""Fixtures of the API tests: new databases on SQLite and on a throwaway PostgreSQL server."""

from __future__ import annotations

import dataclasses
import itertools
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from agent.loop import PlannerTools
from agent.settings import Settings
from tests.serve.postgres_server import postgres_missing, postgres_server
from tools.audience import ProfilesTool
from tools.portraits import open_portrait_store


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


@pytest.fixture()
def own_home(settings: Settings, store: object, tmp_path: Path) -> Settings:
    """A copy of the session's home (portrait store, derived tables, models) that a test may erase from.

    Tests that erase or opt out customers (the privacy routes, and the fuzzing that calls them) use it, so the
    session's store, erasure ledger and saved models stay as other tests expect.
    """
    del store  # built by its fixture before the copy
    home = tmp_path / "home"
    shutil.copytree(settings.home, home, symlinks=True)
    return settings.model_copy(update={"home": home})


@pytest.fixture()
def own_tools(own_home: Settings, api_tools: PlannerTools) -> PlannerTools:
    """The API tests' tools on the copied portrait store."""
    store = open_portrait_store(own_home, api_tools.shop)
    return dataclasses.replace(api_tools, profiles=ProfilesTool(store))
