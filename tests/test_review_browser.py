"""/review in real headless Chromium (Debian's /usr/bin/chromium through Playwright), against
the running app with a real engine and a decision log of real presses."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from review_fixtures import TOKENS, Seeded, served

from audit import load_review_tokens
from audit._review_auth import ReviewAuth
from copilot._app import review_session_key
from knowledge import BilingualEmbedding

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, embedding: BilingualEmbedding) -> Iterator[Seeded]:
    with served(tmp_path_factory.mktemp("review-browser"), embedding) as seeded:
        yield seeded


@pytest.fixture(scope="module")
def browser(app: Seeded) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture(
    params=[{"width": 390, "height": 844}, {"width": 1280, "height": 900}], ids=["phone", "desktop"]
)
def page(browser: Any, app: Seeded, request: pytest.FixtureRequest) -> Iterator[Any]:
    from playwright.sync_api import Route

    context = browser.new_context(viewport=request.param)
    opened = context.new_page()

    def only_local(route: Route) -> None:
        if route.request.url.startswith(app.url):
            route.continue_()
        else:  # nothing leaves the machine: an external origin would fail the test below
            opened.external.append(route.request.url)
            route.abort()

    opened.external = []
    opened.problems = []

    def console(message: Any) -> None:  # CSP violations and script errors; refused pages are expected
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            opened.problems.append(message.text)

    opened.on("console", console)
    opened.on("dialog", lambda d: (opened.problems.append(f"dialog {d.message}"), d.dismiss()))
    opened.route("**/*", only_local)
    yield opened
    assert opened.external == [] and opened.problems == []
    context.close()


def sign_in(page: Any, app: Seeded, token: str, path: str = "/review") -> None:
    page.goto(f"{app.url}{path}")
    expect(page).to_have_url(f"{app.url}/review/signin?next={path.replace('/', '%2F')}")
    page.fill("#token", token)
    page.click("#signin button")
    expect(page).to_have_url(f"{app.url}{path}")


def fits_the_screen(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))


def test_sign_in_filter_open_a_timeline_and_see_a_chart(page: Any, app: Seeded) -> None:
    sign_in(page, app, TOKENS["admin"])
    expect(page.locator("#fig-ratio .label")).to_have_text("Adoption : correction")
    expect(page.locator("#by-rep tbody tr")).to_have_count(3)  # U1, U2, U3 this quarter
    expect(page.locator("#by-team tbody tr")).to_have_count(2)
    assert fits_the_screen(page)

    page.click("#fig-shown")  # every figure opens the sets behind it
    expect(page).to_have_url(f"{app.url}/review/sets?since=" + page.url.split("since=")[1])
    page.select_option("select[name=competitor]", "极光数仓")
    page.select_option("select[name=action]", "sent_as_is")
    page.click("#filters button[type=submit]")
    assert "competitor=%E6%9E%81%E5%85%89%E6%95%B0%E4%BB%93" in page.url and "action=sent_as_is" in page.url
    rows = page.locator("#sets tbody tr")
    expect(rows).to_have_count(1)
    expect(page.locator("#total")).to_have_text("1 found")
    assert page.locator("#csv").get_attribute("href").startswith("/review/sets.csv?")
    assert fits_the_screen(page)

    rows.first.locator("a").click()
    expect(page).to_have_url(f"{app.url}/review/sets/{app.sets['rival']}")
    expect(page.locator("#competitor")).to_contain_text("极光数仓")
    expect(page.locator("#final-action")).to_contain_text("sent_as_is")
    expect(page.locator("#suggestions li")).to_have_count(3)
    page.locator("#suggestions .cites a").first.click()
    expect(page.locator("#atom")).to_contain_text("version")
    page.go_back()

    page.click("nav a[href='/review/charts']")
    expect(page.locator("#chart-weekly svg circle").first).to_be_visible()
    assert page.locator("#chart-weekly svg polyline").count() == 2
    expect(page.locator("#chart-atoms svg rect").first).to_be_visible()
    assert fits_the_screen(page)


def test_the_timeline_shows_the_edit_as_a_diff(page: Any, app: Seeded) -> None:
    sign_in(page, app, TOKENS["manager"], f"/review/sets/{app.sets['price']}")
    expect(page.locator("#diff ins")).to_contain_text("本周内给您方案")
    expect(page.locator("#conversation .msg").first).to_be_visible()
    assert fits_the_screen(page)


def test_a_reps_token_cannot_open_another_reps_set(page: Any, app: Seeded) -> None:
    sign_in(page, app, TOKENS["rep"], f"/review/sets/{app.sets['price']}")
    response = page.goto(f"{app.url}/review/sets/{app.sets['english']}")
    assert response.status == 403
    expect(page.locator("#error")).to_contain_text("outside your scope")
    page.goto(f"{app.url}/review/sets")
    expect(page.locator("#sets tbody tr")).to_have_count(2)  # U1's two sets, nobody else's


def test_a_form_without_its_csrf_token_is_refused(page: Any, app: Seeded) -> None:
    page.goto(f"{app.url}/review/signin")
    page.context.clear_cookies()  # the CSRF cookie the form's token belongs to is gone
    page.fill("#token", TOKENS["admin"])
    with page.expect_response(lambda r: r.url.endswith("/review/signin")) as answer:
        page.click("#signin button")
    assert answer.value.status == 403
    expect(page.locator("#error")).to_contain_text("form expired")
    page.goto(f"{app.url}/review")
    expect(page).to_have_url(f"{app.url}/review/signin?next=%2Freview")


def test_an_expired_session_is_sent_to_sign_in(page: Any, app: Seeded) -> None:
    settings = app.copilot.settings
    auth = ReviewAuth(load_review_tokens(settings), review_session_key(settings), 60)
    found = auth.check_token(TOKENS["manager"])
    assert found is not None
    cookie = auth.session_cookie(found[0], now=time.time() - 3600)
    page.context.add_cookies([{"name": "copilot_review", "value": cookie, "url": f"{app.url}/review"}])
    page.goto(f"{app.url}/review/sets")
    expect(page).to_have_url(f"{app.url}/review/signin?next=%2Freview%2Fsets&expired=1")
    expect(page.locator("#signin-error")).to_contain_text("session expired")


def test_a_script_in_a_message_stays_text_and_the_headers_hold(page: Any, app: Seeded) -> None:
    sign_in(page, app, TOKENS["admin"])
    response = page.goto(f"{app.url}/review/sets/{app.sets['hostile']}")
    expect(page.locator("#conversation")).to_contain_text("<script>alert('x')</script>")
    expect(page.locator("#conversation")).to_contain_text("<img src=x onerror=alert(1)>")
    assert page.locator("script").count() == 0 and page.locator("#conversation img").count() == 0
    headers = response.headers
    assert "default-src 'self'" in headers["content-security-policy"]
    assert "unsafe-inline" not in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"
    cookies = {c["name"]: c for c in page.context.cookies()}
    session = cookies["copilot_review"]
    assert session["httpOnly"] and session["sameSite"] == "Strict" and session["path"] == "/review"
