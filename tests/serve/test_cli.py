"""`campaign serve` refuses, in one line, to start on a database another live server runs (issue 18)."""

from __future__ import annotations

import os
import socket

import pytest
import typer

import serve.cli
from agent.settings import Settings
from serve.store import Store


def test_serve_refuses_a_database_another_live_server_runs(settings: Settings, tmp_path, monkeypatch, capsys) -> None:
    local = settings.model_copy(update={"db_url": f"sqlite:///{tmp_path / 'api.db'}"})
    Store(local.database_url).acquire_server_lease("the-other-server", local.api_lease_s)  # live: this very process
    monkeypatch.setattr(serve.cli, "get_settings", lambda: local)
    with pytest.raises(typer.Exit) as exited:
        serve.cli.serve_command()
    assert exited.value.exit_code == 1
    message = " ".join(capsys.readouterr().err.split())
    assert message.startswith("error: another `campaign serve` runs the jobs of this database (sqlite:///")
    assert f"pid {os.getpid()} on host {socket.gethostname()}" in message and "stop it first" in message
