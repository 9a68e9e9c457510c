"""Unit tests of agent.llm.embedded_server: command lines, checks and process handling, with no real server."""

from __future__ import annotations

import stat
import sys
import time
from pathlib import Path
from typing import ClassVar

import pytest

from agent.llm import embedded_server as llm_server
from agent.llm.embedded_server import TEMPLATE, LLMServer, LLMServerError, ensure_llm_server
from agent.llm.gguf_conversion import MARKER
from agent.settings import Settings


@pytest.fixture
def installed(tmp_path: Path) -> Settings:
    """Settings whose LLM venv and converted weights exist (as empty stand-ins)."""
    venv_bin = tmp_path / "venv-llm" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "python").write_text("")
    weights = tmp_path / "home" / "models" / "smollm2-135m-instruct"
    weights.mkdir(parents=True)
    (weights / MARKER).write_text("{}")
    return Settings(
        home=tmp_path / "home",
        llm_venv=tmp_path / "venv-llm",
        llm_weights=None,
        llm_port=18011,
        llm_host="127.0.0.1",
        llm_base_url=None,
        llm_model="smollm2-135m-instruct",
        llm_tool_parser="hermes",
        llm_max_model_len=2048,
    )


def fake_python(tmp_path: Path, body: str) -> Path:
    """Write an executable that stands in for the server's python (it ignores its arguments)."""
    script = tmp_path / "fake-python"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for its reaper counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def option(cmd: list[str], name: str) -> str:
    """Value following ``name`` in a command line."""
    return cmd[cmd.index(name) + 1]


def test_embedded_command_uses_llm_venv_weights_and_template(installed: Settings) -> None:
    server = LLMServer(installed)
    cmd = server.command()
    assert cmd[:3] == [str(installed.llm_venv / "bin" / "python"), "-m", "vllm.entrypoints.openai.api_server"]
    assert option(cmd, "--model") == str(installed.llm_weights_dir)
    assert option(cmd, "--served-model-name") == "smollm2-135m-instruct"
    assert option(cmd, "--port") == "18011"
    assert option(cmd, "--host") == "127.0.0.1"
    assert option(cmd, "--max-model-len") == "2048"
    assert option(cmd, "--tool-call-parser") == "hermes"
    assert option(cmd, "--tool-strict-level") == "parameter"
    assert Path(option(cmd, "--chat-template")) == TEMPLATE
    assert TEMPLATE.is_file()
    assert {"--enforce-eager", "--enable-auto-tool-choice"} <= set(cmd)
    assert server.url == "http://127.0.0.1:18011/v1"
    assert server.log_path == installed.home / "logs" / "llm-server-18011.log"
    env = server.environment()
    assert env["VLLM_CPU_KVCACHE_SPACE"] == "2"
    assert env["VLLM_CPU_OMP_THREADS_BIND"] == "auto"
    assert env["HF_HUB_OFFLINE"] == "1"
    assert env["TRANSFORMERS_OFFLINE"] == "1"


def test_model_command_for_gpu_machine(installed: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VLLM_CPU_KVCACHE_SPACE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    server = LLMServer(installed, model="Qwen/Qwen2.5-7B-Instruct", port=9000, tool_parser="llama3_json")
    cmd = server.command()
    assert cmd[:3] == [sys.executable, "-m", "vllm.entrypoints.openai.api_server"]
    assert option(cmd, "--model") == "Qwen/Qwen2.5-7B-Instruct"
    assert option(cmd, "--port") == "9000"
    assert option(cmd, "--tool-call-parser") == "llama3_json"
    names = cmd[cmd.index("--served-model-name") + 1 : cmd.index("--host")]
    assert names == ["Qwen/Qwen2.5-7B-Instruct", "smollm2-135m-instruct"]
    for embedded_only in ("--enforce-eager", "--chat-template", "--max-model-len", "--tool-strict-level"):
        assert embedded_only not in cmd
    env = server.environment()
    assert "VLLM_CPU_KVCACHE_SPACE" not in env
    assert "HF_HUB_OFFLINE" not in env


def test_missing_venv_says_run_make_setup(installed: Settings, tmp_path: Path) -> None:
    settings = installed.model_copy(update={"llm_venv": tmp_path / "no-such-venv"})
    with pytest.raises(LLMServerError, match=r"no-such-venv.*run `make setup` first"):
        LLMServer(settings).start()


def test_missing_weights_says_run_make_setup(installed: Settings) -> None:
    (installed.llm_weights_dir / MARKER).unlink()  # a half-finished conversion has no marker
    with pytest.raises(LLMServerError, match=r"converted LLM weights not found.*run `make setup` first"):
        LLMServer(installed).start()


def test_ensure_with_base_url_starts_nothing(installed: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_probe(url: str, timeout_s: float = 2.0) -> None:
        raise AssertionError("must not probe when a base URL is configured")

    monkeypatch.setattr(llm_server, "probe", no_probe)
    settings = installed.model_copy(update={"llm_base_url": "http://gpu-box:8000/v1"})
    with ensure_llm_server(settings) as url:
        assert url == "http://gpu-box:8000/v1"


def test_ensure_refuses_a_server_with_other_models(installed: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(llm_server, "probe", lambda url, timeout_s=2.0: ["some-other-model"])
    with pytest.raises(LLMServerError, match="serves \\['some-other-model'\\]"), ensure_llm_server(installed):
        pass


def test_process_that_dies_reports_exit_code_and_log(
    installed: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(llm_server, "probe", lambda url, timeout_s=2.0: None)
    python = fake_python(tmp_path, 'echo "engine failed: out of memory"; exit 3')
    server = LLMServer(installed, python=python)
    with pytest.raises(LLMServerError, match=r"(?s)exited with code 3.*engine failed: out of memory"), server:
        pass
    assert server.process is None


def test_timeout_stops_the_whole_process_group(
    installed: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(llm_server, "probe", lambda url, timeout_s=2.0: None)
    child_pid_file = tmp_path / "child.pid"
    python = fake_python(tmp_path, f"sleep 60 & echo $! > {child_pid_file}; echo starting; wait")
    server = LLMServer(installed, python=python)
    server.start()
    with pytest.raises(LLMServerError, match=r"(?s)did not answer .* within 1 s.*starting"):
        server.wait_ready(timeout_s=1.0)
    assert server.process is None
    child = int(child_pid_file.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and alive(child):
        time.sleep(0.1)
    assert not alive(child), "a process of the server's group survived stop()"


class _CountingServer:
    """Stands in for LLMServer in the sharing tests: counts starts and stops, answers while up."""

    state: ClassVar[dict[str, int]] = {"starts": 0, "stops": 0, "up": 0}

    def __init__(self, settings: Settings) -> None:
        self.url = settings.embedded_llm_url

    def __enter__(self) -> _CountingServer:
        self.state["starts"] += 1
        self.state["up"] = 1
        return self

    def stop(self) -> None:
        self.state["stops"] += 1
        self.state["up"] = 0


@pytest.fixture
def counting(installed: Settings, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """The counting server in place of LLMServer, and a probe that sees it while it is up."""
    _CountingServer.state = {"starts": 0, "stops": 0, "up": 0}
    monkeypatch.setattr(llm_server, "LLMServer", _CountingServer)
    monkeypatch.setattr(
        llm_server, "probe", lambda url, timeout_s=2.0: [installed.llm_model] if _CountingServer.state["up"] else None
    )
    return _CountingServer.state


def test_a_second_user_reuses_the_started_server(installed: Settings, counting: dict[str, int]) -> None:
    with ensure_llm_server(installed) as first, ensure_llm_server(installed) as second:
        assert first == second
        assert counting["starts"] == 1
    assert counting == {"starts": 1, "stops": 1, "up": 0}


def test_the_starter_stops_the_server_only_after_other_users(installed: Settings, counting: dict[str, int]) -> None:
    import threading

    entered, leave = threading.Event(), threading.Event()

    def starter() -> None:
        with ensure_llm_server(installed):
            entered.set()
            leave.wait()

    thread = threading.Thread(target=starter)
    thread.start()
    entered.wait()
    with ensure_llm_server(installed):
        leave.set()  # the starter leaves its block now, but must wait for this user before stopping
        assert counting["starts"] == 1
        assert counting["stops"] == 0 and counting["up"] == 1
    thread.join()
    assert counting == {"starts": 1, "stops": 1, "up": 0}
