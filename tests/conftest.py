"""Shared fixtures: a guard that fails any test reaching a real server unless marked ``e2e``."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest


class RealNetworkCallError(AssertionError):
    """A test tried to open a network connection without the ``e2e`` marker."""


@pytest.fixture(autouse=True)
def _no_real_servers(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail any connection to a real server (LLM, Chroma, anything) from a test not marked ``e2e``."""
    if request.node.get_closest_marker("e2e") is not None:
        yield
        return
    real_connect = socket.socket.connect

    def guarded(sock: socket.socket, address: object) -> object:
        if sock.family == socket.AF_UNIX:
            return real_connect(sock, address)  # type: ignore[arg-type]
        raise RealNetworkCallError(
            f"test {request.node.nodeid} tried to connect to {address!r}; "
            "use agent.scripted.ScriptedModel or mark the test @pytest.mark.e2e"
        )

    monkeypatch.setattr(socket.socket, "connect", guarded)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded)
    yield
