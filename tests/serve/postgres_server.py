"""A real PostgreSQL server for tests: the machine's ``initdb`` and ``pg_ctl``, on a Unix socket in a temp folder.

:func:`postgres_server` yields an admin SQLAlchemy URL (psycopg 3) and stops the server afterwards. It listens on
no TCP address (the tests' network guard lets Unix sockets through). As root, the server runs as the ``postgres``
system user, since ``initdb`` refuses root.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PORT = 55432  # only names the socket file (.s.PGSQL.55432); no TCP listener


def postgres_missing() -> str | None:
    """Return why no server can be started here (no ``initdb``/``pg_ctl``, no psycopg), or None."""
    for tool in ("initdb", "pg_ctl"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install -e '.[dev]')"
    return None


def _run_as_server_user(command: list[str]) -> None:
    as_user = ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command
    subprocess.run(as_user, check=True, capture_output=True, text=True)


@contextmanager
def postgres_server() -> Iterator[str]:
    """Start a throwaway PostgreSQL cluster; yield the URL of its ``postgres`` database; stop and delete it.

    Yields:
        ``postgresql+psycopg://postgres@/postgres?host=<socket folder>&port=55432``.

    Raises:
        subprocess.CalledProcessError: ``initdb`` or ``pg_ctl`` failed (their output is in the exception).
    """
    folder = Path(tempfile.mkdtemp(prefix="campaign-pg-"))
    try:
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres")
        data = folder / "data"
        _run_as_server_user(["initdb", "-D", str(data), "-A", "trust", "-U", "postgres"])
        options = f"-p {PORT} -k {folder} -c listen_addresses='' -c fsync=off"
        _run_as_server_user(["pg_ctl", "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start"])
        try:
            yield f"postgresql+psycopg://postgres@/postgres?host={folder}&port={PORT}"
        finally:
            _run_as_server_user(["pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop"])
    finally:
        shutil.rmtree(folder, ignore_errors=True)
