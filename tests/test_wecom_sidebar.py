"""The chat-toolbar sidebar in real headless Chromium (system /usr/bin/chromium) with a stand-in
``wx`` served in place of Tencent's JS-SDK; the app runs under uvicorn with a fake WeCom API."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_server import serve_in_thread
from playwright.sync_api import expect
from wecom_fakes import AES_KEY, AGENT_ID, CORP_ID, SECRET, TOKEN, FakeWeCom, fake_wecom_server

from audit import SQLiteAuditStore
from connectors.wecom._sidebar import JSSDK_URL
from copilot import Copilot, Settings
from copilot._app import create_app
from knowledge import BilingualEmbedding, ChromaAtomStore, ingest_atoms, load_atoms

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The stand-in for Tencent's JS-SDK: records every call and answers as the WeCom client does.
STAND_IN_WX = """
window.wxCalls = [];
window.wx = {
  agentConfig: function (cfg) { window.wxCalls.push(["agentConfig", cfg]); setTimeout(cfg.success, 0); },
  invoke: function (name, args, cb) {
    window.wxCalls.push([name, args]);
    if (name === "getCurExternalContact") { cb({err_msg: "getCurExternalContact:ok", userId: "wmEXT0001"}); }
    else if (name === "sendChatMessage") { cb({err_msg: "sendChatMessage:ok"}); }
    else { cb({err_msg: name + ":fail"}); }
  }
};
"""


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeWeCom]:
    with fake_wecom_server() as server:
        server.codes["code-wang"] = "rep.wang"
        yield server


@pytest.fixture(scope="module")
def engine(
    tmp_path_factory: pytest.TempPathFactory, embedding: BilingualEmbedding, fake: FakeWeCom
) -> Iterator[Copilot]:
    settings = Settings(
        home=tmp_path_factory.mktemp("sidebar-home"),
        wecom_corp_id=CORP_ID,
        wecom_agent_id=AGENT_ID,
        wecom_secret=SECRET,
        wecom_token=TOKEN,
        wecom_aes_key=AES_KEY,
        wecom_api_url=fake.url,
    )
    store = ChromaAtomStore.embedded(settings.chroma_path, "atoms", embedding)
    ingest_atoms(load_atoms(EXAMPLES / "kb"), store)
    copilot = Copilot(settings, store, SQLiteAuditStore(settings.audit_path))
    yield copilot
    copilot.close()


@pytest.fixture(scope="module")
def url(engine: Copilot) -> Iterator[str]:
    with serve_in_thread(create_app(engine.settings, copilot=engine)) as base:
        yield base


@pytest.fixture
def page(url: str) -> Iterator[Any]:
    from playwright.sync_api import Route, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 360, "height": 760})

        def only_local(route: Route) -> None:
            if route.request.url.startswith(JSSDK_URL):
                route.fulfill(status=200, content_type="text/javascript", body=STAND_IN_WX)
            elif route.request.url.startswith(url):
                route.continue_()
            else:  # nothing leaves the machine
                route.abort()

        page.route("**/*", only_local)
        page.console_errors = []  # type: ignore[attr-defined]
        page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))  # type: ignore[attr-defined]
        yield page
        browser.close()


def test_sidebar_suggests_and_inserts_the_chosen_reply(page: Any, url: str, engine: Copilot) -> None:
    response = page.goto(f"{url}/wecom/sidebar?code=code-wang&state=sidebar")
    assert page.url == f"{url}/wecom/sidebar"  # the OAuth code was exchanged and dropped from the URL
    csp = response.headers["content-security-policy"]
    assert "script-src 'self' https://res.wx.qq.com" in csp and "unsafe-inline" not in csp
    config = page.evaluate("window.wxCalls[0]")
    assert config[0] == "agentConfig" and config[1]["corpid"] == CORP_ID
    signed = config[1]
    plain = f"jsapi_ticket=ticket-1&noncestr={signed['nonceStr']}&timestamp={signed['timestamp']}"
    plain += f"&url={url}/wecom/sidebar"
    assert config[1]["signature"] == hashlib.sha1(plain.encode()).hexdigest()
    page.wait_for_selector("#deal:not([hidden])")

    page.fill("input[name=customer]", "华东精工")
    page.fill("input[name=industry]", "制造业")
    page.select_option("select[name=stage]", "proposal")
    page.fill("input[name=product]", "MES Cloud")
    page.click("#deal-form button")
    expect(page.locator("#status")).to_contain_text("商机已保存")

    page.fill(
        "textarea[name=text]", "方案我们认可，但极光数仓报价低两成，<script>alert(1)</script>你们怎么说？"
    )
    page.click("#ask-form button")
    page.wait_for_selector("#list li:nth-child(3)")
    texts = page.locator("#list li p.text").all_inner_texts()
    assert len(texts) == 3 and all(texts)
    assert "极光数仓" in page.inner_text("#extra")

    page.locator("#list li").nth(1).locator("button.send").click()
    expect(page.locator("#status")).to_contain_text("已记录")
    sent = page.evaluate("window.wxCalls.filter(c => c[0] === 'sendChatMessage')")
    assert sent == [
        ["sendChatMessage", {"msgtype": "text", "enterChat": False, "text": {"content": texts[1]}}]
    ]
    [event] = list(engine.audit.events(type="rep_action"))
    assert event.actor == "rep.wang" and event.action == "sent_as_is" and event.suggestion_index == 1
    assert page.console_errors == []  # no CSP violation, no script error


def test_sidebar_edit_then_send_records_edited(page: Any, url: str, engine: Copilot) -> None:
    page.goto(f"{url}/wecom/sidebar?code=code-wang")
    page.wait_for_selector("#ask:not([hidden])")
    page.fill("textarea[name=text]", "价格比预算高不少")
    page.click("#ask-form button")
    page.wait_for_selector("#list li:nth-child(3)")
    first = page.locator("#list li").first
    first.locator("button.edit").click()
    first.locator("textarea").fill("李总，我们按三年总成本给您算一笔账。")
    first.locator("button.send").click()
    expect(page.locator("#status")).to_contain_text("已记录")
    edited = [e for e in engine.audit.events(type="rep_action") if e.action == "edited"]
    assert len(edited) == 1 and edited[0].final_text == "李总，我们按三年总成本给您算一笔账。"
    assert edited[0].edit_distance and edited[0].edit_distance > 0


def test_sidebar_refuses_strangers_and_cross_site_posts(url: str, fake: FakeWeCom) -> None:
    first = httpx.get(f"{url}/wecom/sidebar")
    assert first.status_code == 303 and first.headers["location"].startswith(
        "https://open.weixin.qq.com/connect/oauth2/authorize?appid=wwtest0001"
    )
    assert httpx.get(f"{url}/wecom/sidebar?code=bad-code").status_code == 403
    assert httpx.get(f"{url}/wecom/sidebar/api/contact?external=wm1").status_code == 401
    with httpx.Client(base_url=url) as client:
        signed_in = client.get("/wecom/sidebar?code=code-wang")
        assert signed_in.status_code == 303
        cookie = signed_in.cookies
    with httpx.Client(base_url=url, cookies=cookie) as client:
        assert (
            client.post("/wecom/sidebar/api/suggest", json={"external": "wm1", "text": "x"}).status_code
            == 403
        )
        headers = {"X-Requested-With": "copilot"}
        bad = client.post(
            "/wecom/sidebar/api/suggest", json={"external": "../../x", "text": "x"}, headers=headers
        )
        assert bad.status_code == 400 and "external" in bad.json()["error"]
        other = client.post(
            "/wecom/sidebar/api/action",
            json={"external": "wm1", "set_id": "ss-0000", "action": "sent_as_is"},
            headers=headers,
        )
        assert other.status_code == 400 and "was not shown to you" in other.json()["error"]
    forged = httpx.get(
        f"{url}/wecom/sidebar/api/contact?external=wm1", cookies={"copilot_wecom": "eyJ4Ijoi.0000"}
    )
    assert forged.status_code == 401
    odd = httpx.get(
        f"{url}/wecom/sidebar/api/contact?external=wm1", headers={"Cookie": b"copilot_wecom=abc.\xe9\xe9"}
    )
    assert odd.status_code == 401
