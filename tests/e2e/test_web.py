"""The marketer web page in a real headless browser (Debian's chromium driven by Playwright).

The API runs in uvicorn on a free loopback port with the scripted LLM. Skipped, with the reason, where
Playwright or a chromium binary is missing (install: `apt-get install -y chromium`). Playwright's own
browser download is not used.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tests.serve.api_harness import SMALL_BRIEF, HeldPlanner, make_app, new_key

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WAIT_MS = 120_000  # upper bound for the page to show what the server sends (first retrieval loads a model)

playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not Path(CHROMIUM).is_file(), reason=f"no chromium at {CHROMIUM}: apt-get install -y chromium"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """Run ``app`` in uvicorn on a free loopback port; yield its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while thread.is_alive() and not server.started:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


@pytest.fixture
def server(settings, api_tools, tmp_path) -> Iterator[tuple[str, str]]:
    """The API with the scripted LLM in uvicorn on loopback; yields (base URL, API key)."""
    db = tmp_path / "web.db"
    key = new_key(db, "browser")["Authorization"].split()[1]
    with serving(make_app(settings, api_tools, db)) as base:
        yield base, key


def login(page, base: str, key: str) -> None:
    page.goto(base + "/")
    page.fill("#key-input", key)
    page.click("#key-submit")
    playwright_api.expect(page.locator("#app")).to_be_visible()


def test_marketer_chats_sees_tool_calls_follows_a_plan_and_approves_it(server, tmp_path):
    base, key = server
    expect = playwright_api.expect
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(WAIT_MS)
        page.goto(base + "/")

        page.fill("#key-input", "cak_not-a-real-key")
        page.click("#key-submit")
        expect(page.locator("#login-error")).to_have_text("That key was not accepted.")
        page.fill("#key-input", key)
        page.click("#key-submit")
        expect(page.locator("#app")).to_be_visible()

        page.fill("#chat-input", "Which films should we send lapsed sci-fi fans?")
        page.press("#chat-input", "Enter")
        expect(page.locator(".msg.user")).to_have_text("Which films should we send lapsed sci-fi fans?")
        expect(page.locator('.tool[data-tool="recommend_products"] .result')).to_contain_text('"audience_size"')
        answer = page.locator(".msg.assistant").last
        expect(answer).to_contain_text("Top pick: ")
        expect(answer).to_contain_text(" customers.")

        page.fill("#chat-input", "Now make a plan for them")
        page.click("#chat-send")
        expect(page.locator('.tool[data-tool="create_plan"]')).to_be_visible()
        expect(page.locator(".msg.assistant").last).to_contain_text("is queued.")
        expect(page.locator("#plan-status")).to_have_text("done")  # followed over server-sent events
        expect(page.locator("#plan-detail h3").first).to_have_text("Sci-fi win-back")
        assert page.locator("#segments .segment-row").count() >= 1
        variants = page.locator(".variant")
        assert variants.count() >= 1
        expect(variants.first.locator(".effect")).to_contain_text("predicted 0.")
        expect(variants.first.locator(".why")).to_contain_text("Why: product for this segment")
        expect(variants.first.locator(".evidence")).to_contain_text("closest tested headline")
        assert page.locator("#trace tr").count() >= 7  # header + every step

        page.fill("#review-by", "Ana")
        page.fill("#review-reason", "Copy is grounded and within budget")
        page.click("#approve")
        expect(page.locator("#plan-review")).to_have_text("approved")
        expect(page.locator("#decisions li")).to_contain_text("approved by Ana (browser")
        page.screenshot(path=str(tmp_path / "page.png"), full_page=True)
        browser.close()


def test_marketer_cancels_a_queued_and_a_running_plan(settings, api_tools, tmp_path):
    db = tmp_path / "web.db"
    key = new_key(db, "browser")
    started, release, ran = threading.Event(), threading.Event(), []
    app = make_app(settings, api_tools, db, lambda on_step: HeldPlanner(on_step, started, release, ran),
                   api_workers=1)
    expect = playwright_api.expect
    with serving(app) as base, playwright_api.sync_playwright() as p:
        running = httpx.post(f"{base}/v1/plans", json={**SMALL_BRIEF, "name": "Running plan"}, headers=key).json()
        assert started.wait(WAIT_MS / 1000)  # the only worker holds the first plan in its first step
        queued = httpx.post(f"{base}/v1/plans", json={**SMALL_BRIEF, "name": "Queued plan"}, headers=key).json()
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(WAIT_MS)
        login(page, base, key["Authorization"].split()[1])

        page.click(f'#plan-list li[data-id="{queued["id"]}"]')
        expect(page.locator("#plan-status")).to_have_text("queued")
        page.click("#cancel-plan")  # a queued plan is cancelled at once
        expect(page.locator("#plan-status")).to_have_text("cancelled")
        expect(page.locator("#plan-error")).to_have_text("cancelled by browser before it started")
        expect(page.locator("#cancel-plan")).to_have_count(0)
        expect(page.locator(f'#plan-list li[data-id="{queued["id"]}"] .badge')).to_have_text("cancelled")

        page.click(f'#plan-list li[data-id="{running["id"]}"]')
        expect(page.locator("#plan-status")).to_have_text("running")
        page.click("#cancel-plan")  # a running plan stops at its next step
        expect(page.locator("#cancel-plan")).to_have_text("Cancelling …")
        expect(page.locator("#cancel-plan")).to_be_disabled()
        release.set()
        expect(page.locator("#plan-status")).to_have_text("cancelled")  # the event stream's last status
        expect(page.locator("#plan-error")).to_contain_text("cancelled by browser after step 1 (retrieve audience)")
        expect(page.locator("#cancel-plan")).to_have_count(0)
        expect(page.locator("#approve")).to_be_disabled()
        browser.close()
    assert ran == ["Running plan"]
