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


def open_page(playwright):
    """Launch Debian's chromium headless and open one large page waiting up to :data:`WAIT_MS` for anything."""
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(WAIT_MS)
    return browser, page


def login(page, base: str, key: str) -> None:
    page.goto(base + "/")
    page.fill("#key-input", key)
    page.click("#key-submit")
    playwright_api.expect(page.locator("#app")).to_be_visible()


def test_marketer_chats_sees_tool_calls_follows_a_plan_and_approves_it(server, tmp_path):
    base, key = server
    expect = playwright_api.expect
    with playwright_api.sync_playwright() as p:
        browser, page = open_page(p)
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
        expect(answer).to_contain_text("For these ")
        expect(answer).to_contain_text(" customers we recommend: ")
        expect(page.locator(".answer-source").last).to_have_text("checked: every number and name is in the tool "
                                                                 "results")

        page.fill("#chat-input", "Now make a plan for them")
        page.click("#chat-send")
        expect(page.locator('.tool[data-tool="create_plan"]')).to_be_visible()
        expect(page.locator(".msg.assistant").last).to_contain_text("is queued")
        expect(page.locator(".answer-source .plan-link")).to_be_visible()  # the plan the chat created
        expect(page.locator("#plan-status")).to_have_text("done", timeout=WAIT_MS)  # followed over server-sent events
        expect(page.locator("#plan-detail h3").first).to_have_text("Chat: lapsed sci-fi fans")
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
    started, release = threading.Event(), threading.Event()
    ran: list[str] = []
    app = make_app(settings, api_tools, db, lambda on_step: HeldPlanner(on_step, started, release, ran),
                   api_workers=1)
    expect = playwright_api.expect
    with serving(app) as base, playwright_api.sync_playwright() as p:
        running = httpx.post(f"{base}/v1/plans", json={**SMALL_BRIEF, "name": "Running plan"}, headers=key).json()
        assert started.wait(WAIT_MS / 1000)  # the only worker holds the first plan in its first step
        queued = httpx.post(f"{base}/v1/plans", json={**SMALL_BRIEF, "name": "Queued plan"}, headers=key).json()
        browser, page = open_page(p)
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


# ---- the brief form ----------------------------------------------------------------------------------
CURRENCY_SYMBOLS = {"GBP": "£", "USD": "$", "EUR": "€"}  # as the page shows them (serve/web/app.js)


@pytest.fixture
def retail_server(request, settings, tmp_path) -> Iterator[tuple[str, str, object]]:
    """The API on the retail shop's tools (the ``api_retail_tools`` fixture); yields (base URL, API key, tools)."""
    try:
        tools = request.getfixturevalue("api_retail_tools")
    except pytest.FixtureLookupError:
        pytest.skip("needs the api_retail_tools fixture (the plan loop's tools on the retail shop, with prices) "
                    "in tests/conftest.py")
    db = tmp_path / "web-retail.db"
    key = new_key(db, "browser")["Authorization"].split()[1]
    with serving(make_app(settings, tools, db)) as base:
        yield base, key, tools


def fill_brief(page, shop: str, offer_code: str, percent_off: str, genres: str = "", lifecycle: str = "lapsed") -> None:
    """Fill the brief form: name, shop, goal, audience, a filter, channels, budget, language, offer, small sizes."""
    page.wait_for_selector("#brief-form[data-shops]", state="attached")  # the shop control is final
    page.fill("#brief-name", "Christmas win-back")
    if page.locator("#brief-shop").evaluate("e => e.tagName") == "SELECT":  # the server lists its shops
        page.select_option("#brief-shop", shop)
    else:
        page.fill("#brief-shop", shop)
    page.fill("#brief-goal", "Win back lapsed customers before Christmas")
    page.fill("#brief-audience", "customers who have not bought for a while")
    page.check(f'#brief-lifecycle input[value="{lifecycle}"]')
    page.fill("#brief-genres", genres)
    page.check('#brief-channels input[value="push"]')  # email is checked already
    page.fill("#brief-send_budget", "3000")
    page.select_option("#brief-language", "en")
    page.fill("#brief-offer-code", offer_code)
    page.fill("#brief-offer-percent_off", percent_off)
    page.click("#brief-more summary")
    page.fill("#brief-max_segments", "2")
    page.fill("#brief-variants_per_channel", "1")
    page.fill("#brief-max_revisions", "1")


def submit_brief(page) -> tuple[int, dict, dict]:
    """Submit the form; return the API's status, its JSON body and the brief the page sent."""
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/v1/plans")) as info:
        page.click("#brief-submit")
    response = info.value
    return response.status, response.json(), response.request.post_data_json


def expect_field_error(page, detail: list[dict], loc: list[str], field: str) -> str:
    """The API's 422 has exactly one error, at ``loc``, and the page shows its message at ``field``."""
    assert [d["loc"][:len(loc)] for d in detail] == [loc], detail
    message = detail[0]["msg"]
    playwright_api.expect(page.locator(f'.field-error[data-error-for="{field}"]')).to_have_text(message)
    playwright_api.expect(page.locator(".field-error")).to_have_count(1)
    playwright_api.expect(page.locator("#brief-errors")).to_be_hidden()
    return message


def money(amount: float, currency: str | None) -> str:
    value = f"{amount:.2f}"
    if currency is None:
        return value
    return f"{CURRENCY_SYMBOLS[currency]}{value}" if currency in CURRENCY_SYMBOLS else f"{value} {currency}"


def expect_plan_view(page, base: str, key: str, job_id: str) -> dict:
    """The rendered plan shows the segments' distinct names and sizes, the offer, and each variant's prices."""
    expect = playwright_api.expect
    expect(page.locator("#plan-status")).to_have_text("done", timeout=WAIT_MS)  # followed over server-sent events
    plan = httpx.get(f"{base}/v1/plans/{job_id}", headers={"Authorization": f"Bearer {key}"}).json()["plan"]
    sizes: dict[str, int] = {}
    for segment in plan["segments"]:
        sizes[segment["name"]] = sizes.get(segment["name"], 0) + segment["size"]
    assert sizes, "the plan has segments"
    expect(page.locator("#segment-names li strong")).to_have_text(list(sizes))
    for name, size in sizes.items():
        expect(page.locator(f'#segment-names li[data-name="{name}"]')).to_contain_text(f" — {size} customers")
    offer = plan["brief"]["offer"]
    if offer is None:
        expect(page.locator("#plan-offer")).to_have_count(0)
    else:
        discount = f"{offer['percent_off']:g}% off"
        expect(page.locator("#plan-offer")).to_have_text(f"Offer {offer['code']}: {discount} on every product")
    for v in (v for v in plan["variants"] if v["active"]):
        card = page.locator(f'.variant[data-variant="{v["variant_id"]}"]')
        if v["product_price"] is None:
            expect(card.locator(".price")).to_have_count(0)
        else:
            expect(card.locator(".price")).to_have_text(f"Price {money(v['product_price'], plan['currency'])}")
        if offer is not None and v["offer_code"] == offer["code"] and v["price_after_offer"] is not None:
            after = money(v["price_after_offer"], plan["currency"])
            expect(card.locator(".offer")).to_have_text(f"{v['offer_code']}: {after} after {discount}")
    return plan


def test_marketer_writes_a_brief_sees_the_apis_errors_at_their_fields_and_gets_the_plan(server, api_tools, tmp_path):
    base, key = server
    expect = playwright_api.expect
    with playwright_api.sync_playwright() as p:
        browser, page = open_page(p)
        login(page, base, key)
        fill_brief(page, api_tools.shop.name, "XMAS10", "150", genres="sci fi")

        status, body, sent = submit_brief(page)
        assert sent == {
            "name": "Christmas win-back", "shop": api_tools.shop.name,
            "goal": "Win back lapsed customers before Christmas",
            "audience": "customers who have not bought for a while",
            "audience_filter": {"lifecycle": ["lapsed"], "genres": ["sci fi"], "spend_bands": []},
            "channels": ["email", "push"], "send_budget": 3000, "language": "en",
            "offer": {"code": "XMAS10", "percent_off": 150}, "max_segments": 2, "variants_per_channel": 1,
            "max_revisions": 1,
        }
        assert status == 422
        message = expect_field_error(page, body["detail"], ["body", "offer", "percent_off"], "offer.percent_off")
        assert message == "Input should be less than or equal to 100"
        expect(page.locator("#brief-offer-percent_off")).to_have_attribute("aria-invalid", "true")
        expect(page.locator("#brief-offer-percent_off")).to_be_focused()

        page.fill("#brief-offer-percent_off", "10")
        page.fill("#brief-genres", "no such genre")  # valid as a brief; the API checks it against the shop
        status, body, _ = submit_brief(page)
        assert status == 422
        message = expect_field_error(page, body["detail"], ["body", "audience_filter"], "audience_filter.genres")
        assert "'no such genre'" in message and "Sci-Fi" in message
        expect(page.locator("#brief-offer-percent_off")).not_to_have_attribute("aria-invalid", "true")

        page.fill("#brief-genres", "sci fi")
        status, body, _ = submit_brief(page)  # MovieLens has no prices: no offer can be stated there
        assert status == 422 and [d["loc"] for d in body["detail"]] == [["body", "offer"]], body
        expect(page.locator(".field-error")).to_have_text([body["detail"][0]["msg"]])
        assert "no prices" in body["detail"][0]["msg"]

        page.fill("#brief-offer-code", "")
        page.fill("#brief-offer-percent_off", "")
        status, job, sent = submit_brief(page)
        assert status == 202, job
        assert "offer" not in sent
        expect(page.locator(".field-error")).to_have_count(0)
        expect(page.locator(f'#plan-list li[data-id="{job["id"]}"]')).to_be_visible()
        expect(page.locator("#plan-detail h3").first).to_have_text("Christmas win-back")
        expect_plan_view(page, base, key, job["id"])
        page.screenshot(path=str(tmp_path / "brief.png"), full_page=True)
        browser.close()


def test_retail_plan_from_the_form_shows_prices_in_pounds_and_the_offer(retail_server, tmp_path):
    base, key, _ = retail_server
    expect = playwright_api.expect
    with playwright_api.sync_playwright() as p:
        browser, page = open_page(p)
        login(page, base, key)
        fill_brief(page, "retail", "", "10", lifecycle="active")

        status, body, sent = submit_brief(page)
        assert status == 422 and sent["offer"] == {"percent_off": 10}
        expect_field_error(page, body["detail"], ["body", "offer", "code"], "offer.code")

        page.fill("#brief-offer-code", "XMAS10")
        status, job, _ = submit_brief(page)
        assert status == 202, job
        plan = expect_plan_view(page, base, key, job["id"])
        assert plan["currency"] == "GBP"
        expect(page.locator(".variant .price").first).to_contain_text("Price £")
        expect(page.locator(".variant .offer").first).to_contain_text("XMAS10: £")
        expect(page.locator(".variant .offer").first).to_contain_text(" after 10% off")
        # Expected orders and revenue beside the organic baseline, and the stated assumption.
        expect(page.locator("#plan-value")).to_contain_text("organic baseline (no send)")
        expect(page.locator("#plan-value")).to_contain_text("£")
        expect(page.locator(".variant .effect").first).to_contain_text("incremental revenue per send £")
        expect(page.locator(".assumption").first).to_contain_text("visits, not purchases")
        page.screenshot(path=str(tmp_path / "retail.png"), full_page=True)
        browser.close()
