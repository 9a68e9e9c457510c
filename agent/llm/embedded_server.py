"""Start, watch and stop a vLLM OpenAI-compatible server.

:class:`LLMServer` runs either the embedded default (SmolLM2-135M-Instruct on the CPU build of vLLM in
its own virtualenv, with our Hermes tool-calling template) or any model on a GPU machine with the
official ``vllm`` package. :func:`ensure_llm_server` gives callers a URL that answers, starting the
embedded server only when nothing else does; :func:`serve_forever` backs ``campaign llm serve``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType, TracebackType

import httpx

from agent.llm.gguf_conversion import MARKER
from agent.settings import Settings, offline_environment

TEMPLATE = Path(__file__).with_name("hermes_tools.jinja")
ENTRYPOINT = "vllm.entrypoints.openai.api_server"
CPU_ENV = {"VLLM_CPU_KVCACHE_SPACE": "2", "VLLM_CPU_OMP_THREADS_BIND": "auto"}
QUIET_ENV = {"VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1"}
LOG_TAIL_LINES = 30


class LLMServerError(RuntimeError):
    """The LLM server cannot be started or did not become ready."""


def probe(url: str, timeout_s: float = 2.0) -> list[str] | None:
    """Return the model names served at ``url`` (a ``…/v1`` base URL), or None when nothing answers.

    Raises:
        LLMServerError: when something answers at that address but is not an OpenAI-compatible server.
    """
    try:
        response = httpx.get(f"{url}/models", timeout=timeout_s)
    except httpx.HTTPError:
        return None
    try:
        response.raise_for_status()
        return [str(item["id"]) for item in response.json()["data"]]
    except (httpx.HTTPStatusError, ValueError, KeyError, TypeError) as exc:
        raise LLMServerError(
            f"{url}/models answered HTTP {response.status_code} but is not an OpenAI-compatible server; "
            "the port is taken by something else (choose another with CAMPAIGN_LLM_PORT)"
        ) from exc


class LLMServer:
    """One vLLM server process, started in its own process group.

    Args:
        settings: Settings (port, host, venv, weights folder, timeouts, home for the log file).
        model: A model name or path for the official ``vllm`` package (GPU machine). None runs the embedded
            SmolLM2 server from ``settings.llm_venv`` with the converted weights.
        port: Port to bind; default ``settings.llm_port``.
        tool_parser: vLLM tool-call parser; default ``settings.llm_tool_parser``.
        python: Interpreter that has vLLM; default the LLM venv's (embedded) or ``sys.executable`` (model).
    """

    def __init__(
        self,
        settings: Settings,
        model: str | None = None,
        port: int | None = None,
        tool_parser: str | None = None,
        python: Path | None = None,
    ) -> None:
        self.settings = settings
        self.model = model
        self.port = port or settings.llm_port
        self.tool_parser = tool_parser or settings.llm_tool_parser
        default_python = settings.llm_venv / "bin" / "python" if model is None else Path(sys.executable)
        self.python = python or default_python
        self.log_path = settings.home / "logs" / f"llm-server-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def embedded(self) -> bool:
        """True for the embedded SmolLM2 CPU server."""
        return self.model is None

    @property
    def url(self) -> str:
        """Base URL (``…/v1``) clients use."""
        return f"http://{self.settings.llm_host}:{self.port}/v1"

    @property
    def served_names(self) -> list[str]:
        """Names the server answers to: ``settings.llm_model``, after the ``--model`` name if one is given.

        The alias lets the agent use a ``--model`` server with default settings; replies carry the first.
        """
        names = [self.settings.llm_model] if self.model is None else [self.model, self.settings.llm_model]
        return list(dict.fromkeys(names))

    def check_installed(self) -> None:
        """Raise :class:`LLMServerError` with the fix when the interpreter or weights are missing."""
        if not self.python.exists():
            where = "the LLM virtualenv" if self.embedded else "the interpreter"
            raise LLMServerError(f"{where} {self.python} does not exist; run `make setup` first")
        if self.embedded and not (self.settings.llm_weights_dir / MARKER).is_file():
            raise LLMServerError(
                f"converted LLM weights not found in {self.settings.llm_weights_dir}; run `make setup` first"
            )

    def command(self) -> list[str]:
        """Return the command line that starts the server."""
        cmd = [str(self.python), "-m", ENTRYPOINT]
        cmd += ["--model", str(self.settings.llm_weights_dir) if self.embedded else str(self.model)]
        cmd += ["--served-model-name", *self.served_names]
        cmd += ["--host", self.settings.llm_host, "--port", str(self.port)]
        cmd += ["--enable-auto-tool-choice", "--tool-call-parser", self.tool_parser]
        if self.embedded:
            cmd += ["--max-model-len", str(self.settings.llm_max_model_len), "--dtype", "bfloat16"]
            cmd += ["--enforce-eager", "--tool-strict-level", "parameter", "--chat-template", str(TEMPLATE)]
            # vLLM-CPU 0.32 crashes ("CPU Generator does not use offset") when a seeded request's prefill is
            # chunked: it rewinds the request's generator, which CPU generators cannot do. Copy sends seeded
            # requests with several candidates each, so prefill is never chunked; the batch still holds many.
            cmd += ["--no-enable-chunked-prefill", "--max-num-batched-tokens", str(4 * self.settings.llm_max_model_len)]
            # vLLM picks one guided-decoding backend for the server's life from its first structured request
            # ("auto": xgrammar, or llguidance for what xgrammar lacks); llguidance then fails every tool call
            # (KeyError 'triggers'). Pinned to xgrammar, which decodes the copy patterns and tool calls alike.
            cmd += ["--structured-outputs-config.backend", "xgrammar"]
        return cmd

    def environment(self) -> dict[str, str]:
        """Return the environment of the server process (this one's, plus offline and CPU flags)."""
        env = {**os.environ, **QUIET_ENV}
        return {**env, **offline_environment(), **CPU_ENV} if self.embedded else env

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """Return the last ``lines`` lines of the server log."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def start(self) -> None:
        """Start the server process in the background (returns at once; see :meth:`wait_ready`).

        Raises:
            LLMServerError: when it is already running, not installed, or its port is already served.
        """
        if self.process is not None and self.process.poll() is None:
            raise LLMServerError(f"the LLM server is already running (pid {self.process.pid})")
        self.check_installed()
        if probe(self.url) is not None:
            raise LLMServerError(f"a server already answers at {self.url}; stop it or choose another port")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.environment(),
                start_new_session=True,
            )

    def wait_ready(self, timeout_s: float | None = None) -> None:
        """Block until ``GET {url}/models`` answers.

        Raises:
            LLMServerError: when the process exits or the timeout passes first. The server is stopped
                on any failure, Ctrl-C included.
        """
        if self.process is None:
            raise LLMServerError("the LLM server was not started")
        timeout = self.settings.llm_startup_timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                code = self.process.poll()
                if code is not None:
                    raise LLMServerError(
                        f"the LLM server exited with code {code} while starting; "
                        f"last lines of {self.log_path}:\n{self.log_tail()}"
                    )
                with contextlib.suppress(LLMServerError):  # a foreign answer: our process dies and says why
                    if probe(self.url) is not None:
                        return
                time.sleep(1.0)
            raise LLMServerError(
                f"the LLM server did not answer at {self.url} within {timeout:.0f} s; "
                f"last lines of {self.log_path}:\n{self.log_tail()}"
            )
        except BaseException:
            self.stop()
            raise

    def stop(self, grace_s: float = 20.0) -> None:
        """Stop the whole process group: SIGTERM, wait up to ``grace_s``, then SIGKILL."""
        process, self.process = self.process, None
        if process is None:
            return
        pgid = process.pid  # start_new_session makes the server the leader of its own group
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        try:
            process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
            process.wait()
        deadline = time.monotonic() + 5.0  # engine workers the server left behind: 5 s more, then SIGKILL
        with contextlib.suppress(ProcessLookupError):
            while time.monotonic() < deadline:
                os.killpg(pgid, 0)  # raises once the group is empty
                time.sleep(0.2)
            os.killpg(pgid, signal.SIGKILL)

    def __enter__(self) -> LLMServer:
        self.start()
        self.wait_ready()  # stops the server itself when it fails
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


@contextlib.contextmanager
def _flock(path: Path, mode: int) -> Iterator[None]:
    """Hold an advisory ``fcntl.flock`` lock (``LOCK_SH`` or ``LOCK_EX``) on ``path`` for the block.

    The standard library's ``fcntl`` is used rather than the ``filelock`` package because it offers shared
    locks, which tell the process that started the server whether others still use it. The kernel drops
    the lock when a process dies, even by SIGKILL, so a crash never leaves a stale lock behind.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, mode)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _reuse(settings: Settings, url: str) -> bool:
    """True when a server with ``settings.llm_model`` answers at ``url``; False when nothing answers."""
    names = probe(url)
    if names is None:
        return False
    if settings.llm_model not in names:
        raise LLMServerError(
            f"the server at {url} serves {names}, not {settings.llm_model!r}; "
            "stop it, set CAMPAIGN_LLM_MODEL, or choose another CAMPAIGN_LLM_PORT"
        )
    return True


@contextlib.contextmanager
def ensure_llm_server(settings: Settings) -> Iterator[str]:
    """Yield the base URL of an LLM server that answers, starting the embedded one only if needed.

    ``settings.llm_base_url`` or ``settings.llm_base_urls`` set: yield the first, start nothing. A server
    already answering at the embedded URL with ``settings.llm_model``: reuse it and leave it running.
    Otherwise start the embedded server and stop it on exit.

    Several ``campaign`` processes on one machine share one embedded server: starting is serialised by an
    exclusive lock (so two processes never start two servers on one port), and every user holds a shared
    lock while it uses the server. The process that started it stops it on exit only after the other users
    are done.

    Raises:
        LLMServerError: when the embedded server is needed but cannot be started, or the embedded port
            is served by something that does not offer ``settings.llm_model``.
    """
    if settings.llm_base_url or settings.llm_base_urls:
        yield settings.effective_llm_url
        return
    url = settings.embedded_llm_url
    locks = settings.home / "run"
    start_lock = locks / f"llm-server-{settings.llm_port}.start"
    users_lock = locks / f"llm-server-{settings.llm_port}.users"
    server: LLMServer | None = None
    with _flock(start_lock, fcntl.LOCK_EX):
        if not _reuse(settings, url):
            server = LLMServer(settings)
            server.__enter__()
    try:
        with _flock(users_lock, fcntl.LOCK_SH):
            yield url if server is None else server.url
    finally:
        if server is not None:
            # Wait for the processes still using the server (each holds the shared lock), then stop it.
            with _flock(users_lock, fcntl.LOCK_EX):
                server.stop()


def serve_forever(
    settings: Settings,
    model: str | None = None,
    port: int | None = None,
    tool_parser: str | None = None,
    echo: Callable[[str], object] = print,
) -> int:
    """Run a server until Ctrl-C or SIGTERM, then stop it cleanly (``campaign llm serve``).

    Args:
        settings: Settings.
        model: Model name or path for a GPU machine; None serves the embedded SmolLM2.
        port: Port; default ``settings.llm_port``.
        tool_parser: vLLM tool-call parser; default ``settings.llm_tool_parser``.
        echo: Where progress lines go.

    Returns:
        Process exit code: 0 after a requested stop, 1 when the server failed or died.
    """
    server = LLMServer(settings, model=model, port=port, tool_parser=tool_parser)

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        echo(f"starting {server.served_names[0]} (log: {server.log_path}) ...")
        started = time.monotonic()
        server.start()
        server.wait_ready()
        echo(f"LLM server ready in {time.monotonic() - started:.0f} s at {server.url}")
        echo(f"model name(s): {', '.join(server.served_names)}; press Ctrl-C to stop")
        while server.process is not None and server.process.poll() is None:
            time.sleep(0.5)
        echo(f"the LLM server exited on its own; last lines of {server.log_path}:\n{server.log_tail()}")
        return 1
    except KeyboardInterrupt:
        echo("stopping the LLM server ...")
        return 0
    except LLMServerError as exc:
        echo(f"error: {exc}")
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.stop()
