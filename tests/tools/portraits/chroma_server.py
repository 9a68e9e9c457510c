"""A real Chroma server for tests: the chromadb package's ``chroma run`` on loopback, in a temporary folder.

:func:`chroma_server` yields the server's URL. When ``CAMPAIGN_TEST_CHROMA_URL`` is set (CI may start one server
for the whole run), that server is used instead and nothing is started.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ENV_URL = "CAMPAIGN_TEST_CHROMA_URL"
STARTUP_TIMEOUT_S = 60.0
HEARTBEAT = "/api/v2/heartbeat"


class ChromaServerError(RuntimeError):
    """The Chroma server did not start (its log is in the message)."""


def free_port() -> int:
    """Return a TCP port free on loopback now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _chroma_executable() -> str:
    """Return the ``chroma`` CLI installed beside this Python (the project's venv)."""
    return str(Path(sys.executable).with_name("chroma"))


def heartbeat(url: str) -> bool:
    """Return True when the Chroma server at ``url`` answers its heartbeat."""
    try:
        return httpx.get(url.rstrip("/") + HEARTBEAT, timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def chroma_server(path: Path) -> Iterator[str]:
    """Start ``chroma run`` on a free loopback port persisting to ``path``; yield its URL; stop it.

    Args:
        path: Folder of the server's data (a fresh temporary folder).

    Yields:
        The server's base URL, e.g. ``http://127.0.0.1:41234``.

    Raises:
        ChromaServerError: The server exited or did not answer its heartbeat within :data:`STARTUP_TIMEOUT_S`.
    """
    external = os.environ.get(ENV_URL)
    if external:
        if not heartbeat(external):
            raise ChromaServerError(f"{ENV_URL}={external} does not answer {HEARTBEAT}")
        yield external.rstrip("/")
        return
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = path / "chroma.log"
    path.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [_chroma_executable(), "run", "--host", "127.0.0.1", "--port", str(port), "--path", str(path / "db")],
            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
        )  # fmt: skip
        try:
            deadline = time.monotonic() + STARTUP_TIMEOUT_S
            while not heartbeat(url):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise ChromaServerError(f"chroma run did not start on {url}: {log.read_text(errors='replace')}")
                time.sleep(0.2)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
