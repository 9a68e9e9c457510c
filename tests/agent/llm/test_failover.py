"""LLM failover between several OpenAI-compatible servers: fake servers on loopback, and the real embedded one."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agent.llm import ChatRequest, LLMError, Message, OpenAIBackend
from agent.llm.failover import ServerPool
from agent.settings import Settings


def _completion(text: str) -> dict:
    return {
        "id": "c1", "object": "chat.completion", "created": 0, "model": "m",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }


@contextlib.contextmanager
def _fake_server(mode: str, text: str = "hello") -> Iterator[tuple[str, list[str]]]:
    """Serve on loopback: ``answer`` a chat completion, ``close`` the connection unanswered, or ``503``.

    Yields:
        The base URL and the list of paths the server was asked for.
    """
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            hits.append(self.path)
            self.rfile.read(int(self.headers.get("content-length", 0)))
            if mode == "close":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            status, body = (503, {"error": {"message": "overloaded"}}) if mode == "503" else (200, _completion(text))
            if self.path != "/v1/chat/completions":
                status, body = 404, {"error": {"message": "not found"}}
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", hits
    finally:
        server.shutdown()
        server.server_close()


def _dead_url() -> str:
    """A loopback URL nothing listens on (a port just released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def _ask() -> ChatRequest:
    return ChatRequest(messages=[Message(role="user", content="hi")], max_tokens=5)


def test_the_pool_rotates_and_tries_servers_cooling_off_last():
    now = [0.0]
    pool = ServerPool(["a", "b", "c", "a"], cooloff_s=10, clock=lambda: now[0])
    assert pool.urls == ["a", "b", "c"]
    assert [pool.order()[0] for _ in range(4)] == ["a", "b", "c", "a"]
    pool.mark_down("b", "test")
    assert pool.order() == ["c", "a", "b"] and pool.is_down("b")
    now[0] = 11.0
    assert not pool.is_down("b") and pool.order() == ["c", "a", "b"]  # round-robin again, b included
    with pytest.raises(ValueError, match="at least one"):
        ServerPool([" "])


def test_settings_read_the_urls_comma_separated(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CAMPAIGN_LLM_BASE_URLS", "http://gpu-1:8000/v1, http://gpu-2:8000/v1")
    monkeypatch.setenv("CAMPAIGN_LLM_MAX_RETRIES", "3")
    settings = Settings()
    assert settings.effective_llm_urls == ["http://gpu-1:8000/v1", "http://gpu-2:8000/v1"]
    assert settings.effective_llm_url == "http://gpu-1:8000/v1" and settings.llm_max_retries == 3
    backend = OpenAIBackend.from_settings(settings)
    assert backend.pool.urls == settings.effective_llm_urls
    monkeypatch.delenv("CAMPAIGN_LLM_BASE_URLS")
    assert Settings().effective_llm_urls == [Settings().embedded_llm_url]


@pytest.mark.e2e
@pytest.mark.parametrize("failure", ["refused", "close", "503"])
def test_a_request_fails_over_to_the_answering_server(failure: str):
    with contextlib.ExitStack() as stack:
        if failure == "refused":
            bad, bad_hits = _dead_url(), []
        else:
            bad, bad_hits = stack.enter_context(_fake_server(failure))
        good, good_hits = stack.enter_context(_fake_server("answer", "from the second"))
        backend = OpenAIBackend([bad, good], "m", timeout_s=5, max_retries=0, cooloff_s=60)
        reply = backend.chat(_ask())
        assert reply.content == "from the second" and backend.last_url == good
        assert backend.pool.is_down(bad) and not backend.pool.is_down(good)
        assert len(good_hits) == 1 and len(bad_hits) == (0 if failure == "refused" else 1)
        backend.chat(_ask())  # the next request skips the server cooling off
        assert len(good_hits) == 2 and len(bad_hits) == (0 if failure == "refused" else 1)


@pytest.mark.e2e
def test_a_client_error_is_not_retried_on_another_server():
    with _fake_server("answer") as (good, good_hits):
        backend = OpenAIBackend([good + "/missing", good], "m", timeout_s=5, max_retries=0)
        with pytest.raises(LLMError, match=r"/missing answered 404"):
            backend.chat(_ask())
        assert not backend.pool.is_down(good + "/missing")
        assert good_hits == ["/v1/missing/chat/completions"]  # the second URL was never asked


@pytest.mark.e2e
def test_every_server_dead_names_each_url():
    with _fake_server("503") as (busy, _):
        dead = _dead_url()
        backend = OpenAIBackend([dead, busy], "m", timeout_s=5, max_retries=0)
        with pytest.raises(LLMError) as caught:
            backend.chat(_ask())
        message = str(caught.value)
        assert "no LLM server answered (2 tried)" in message
        assert f"{dead} unreachable" in message and f"{busy} answered 503" in message


@pytest.mark.e2e
def test_a_dead_url_fails_over_to_the_live_embedded_server(llm_url: str):
    dead = _dead_url()
    settings = Settings(llm_base_urls=[dead, llm_url], llm_max_retries=0)
    backend = OpenAIBackend.from_settings(settings)
    reply = backend.chat(ChatRequest(messages=[Message(role="user", content="Say hello.")], max_tokens=8))
    assert reply.content and backend.last_url == llm_url and backend.pool.is_down(dead)
    pieces = list(backend.stream(ChatRequest(messages=[Message(role="user", content="Say hi.")], max_tokens=8)))
    assert pieces and backend.last_url == llm_url
