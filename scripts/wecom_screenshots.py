"""Screenshots for the README: the WeCom answer card and the chat-toolbar sidebar.

    python scripts/wecom_screenshots.py            # writes docs/wecom-card.{json,png}, docs/wecom-sidebar.png

Runs a real press on the sample knowledge base, renders the template card from its
JSON as a small HTML page (a sketch of how the WeCom client lays out a
button_interaction card), and opens the sidebar in headless Chromium
(/usr/bin/chromium) against the app with a fake WeCom API and a stand-in ``wx``.
"""

from __future__ import annotations

import asyncio
import html
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
sys.path.insert(0, str(ROOT / "tests"))

from asgi_server import serve_in_thread  # noqa: E402  (the tests' helpers, reused)
from playwright.sync_api import Route, sync_playwright  # noqa: E402
from test_wecom_sidebar import CHROMIUM, FLAGS, STAND_IN_WX  # noqa: E402
from wecom_fakes import AES_KEY, AGENT_ID, CORP_ID, SECRET, TOKEN, fake_wecom_server  # noqa: E402

from audit import SQLiteAuditStore  # noqa: E402
from connectors.wecom import card_for  # noqa: E402
from connectors.wecom._sidebar import JSSDK_URL  # noqa: E402
from copilot import Conversation, Copilot, Settings  # noqa: E402
from copilot._app import create_app  # noqa: E402
from knowledge import BilingualEmbedding, ChromaAtomStore, ingest_atoms, load_atoms  # noqa: E402

CUSTOMER_SAYS = "方案我们技术这边认可了，但极光数仓的报价比你们低两成，你们怎么说？"


CARD_CSS = """
body { background: #ededed; padding: 16px;
       font: 14px/1.5 "PingFang SC", "WenQuanYi Micro Hei", "Microsoft YaHei", sans-serif; }
.card { width: 380px; background: #fff; border-radius: 8px; padding: 14px 16px; }
.src, .desc { color: #8f959e; font-size: 12px; }
h1 { font-size: 17px; margin: 6px 0 0; }
blockquote { margin: 10px 0; padding: 6px 10px; background: #f5f6f7; border-left: 3px solid #c9cdd4;
             color: #4e5969; font-size: 13px; }
.sub { white-space: pre-wrap; color: #1f2329; font-size: 13px; margin: 8px 0; }
.row { display: flex; gap: 12px; font-size: 13px; }
.row span { color: #8f959e; width: 64px; }
label { display: block; margin: 10px 0 4px; color: #4e5969; font-size: 13px; }
select { width: 100%; padding: 6px; margin-top: 4px; }
.btns { display: flex; gap: 8px; margin-top: 10px; }
button { flex: 1; padding: 8px; border-radius: 6px; border: 1px solid #d0d3d6;
         background: #fff; font: inherit; }
button.s1 { background: #3370ff; color: #fff; border-color: #3370ff; }
button.s3 { color: #8f959e; }
"""


def card_html(card: dict[str, Any]) -> str:
    e = html.escape
    rows = "".join(
        f"<div class=row><span>{e(h['keyname'])}</span><b>{e(h['value'])}</b></div>"
        for h in card.get("horizontal_content_list", [])
    )
    quote = card.get("quote_area")
    quote_html = (
        f"<blockquote><b>{e(quote['title'])}</b><br>{e(quote['quote_text'])}</blockquote>" if quote else ""
    )
    selection = card.get("button_selection")
    options = "".join(f"<option>{e(o['text'])}</option>" for o in (selection or {}).get("option_list", []))
    select_html = f"<label>{e(selection['title'])}<select>{options}</select></label>" if selection else ""
    buttons = "".join(
        f"<button class=s{b.get('style', 1)}>{e(b['text'])}</button>" for b in card["button_list"]
    )
    head = f"<div class=src>{e(card['source']['desc'])}</div><h1>{e(card['main_title']['title'])}</h1>"
    head += f"<div class=desc>{e(card['main_title'].get('desc', ''))}</div>"
    body = f"{quote_html}<div class=sub>{e(card['sub_title_text'])}</div>{rows}{select_html}"
    return f"<!doctype html><meta charset=utf-8><style>{CARD_CSS}</style><div class=card>{head}{body}" + (
        f"<div class=btns>{buttons}</div></div>"
    )


def main() -> None:
    DOCS.mkdir(exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="wecom-shots-"))
    with fake_wecom_server() as fake:
        fake.codes["code-shot"] = "rep.wang"
        settings = Settings(
            home=home,
            wecom_corp_id=CORP_ID,
            wecom_agent_id=AGENT_ID,
            wecom_secret=SECRET,
            wecom_token=TOKEN,
            wecom_aes_key=AES_KEY,
            wecom_api_url=fake.url,
        )
        store = ChromaAtomStore.embedded(settings.chroma_path, "atoms", BilingualEmbedding())
        ingest_atoms(load_atoms(ROOT / "examples" / "kb"), store)
        engine = Copilot(settings, store, SQLiteAuditStore(settings.audit_path))
        conversation = Conversation.model_validate(
            {
                "id": "wecom:rep.wang",
                "channel": "wecom",
                "deal": {
                    "customer": "华东精工",
                    "industry": "manufacturing",
                    "stage": "proposal",
                    "product": "MES Cloud",
                },
                "participants": [{"id": "rep.wang", "side": "rep"}, {"id": "customer", "side": "customer"}],
                "messages": [{"from": "customer", "text": CUSTOMER_SAYS}],
            }
        )
        result = asyncio.run(engine.suggest(conversation, actor="rep.wang"))
        card = card_for(result, conversation.deal)
        (DOCS / "wecom-card.json").write_text(json.dumps(card, ensure_ascii=False, indent=2) + "\n", "utf-8")
        with serve_in_thread(create_app(settings, copilot=engine)) as url, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
            page = browser.new_page(viewport={"width": 420, "height": 900})
            page.set_content(card_html(card))
            page.locator(".card").screenshot(path=str(DOCS / "wecom-card.png"))

            def only_local(route: Route) -> None:
                if route.request.url.startswith(JSSDK_URL):
                    route.fulfill(status=200, content_type="text/javascript", body=STAND_IN_WX)
                elif route.request.url.startswith(url):
                    route.continue_()
                else:
                    route.abort()

            side = browser.new_page(viewport={"width": 360, "height": 900})
            side.route("**/*", only_local)
            side.goto(f"{url}/wecom/sidebar?code=code-shot")
            side.wait_for_selector("#deal:not([hidden])")
            side.fill("input[name=customer]", "华东精工")
            side.fill("input[name=industry]", "制造业")
            side.select_option("select[name=stage]", "proposal")
            side.fill("input[name=product]", "MES Cloud")
            side.click("#deal-form button")
            side.locator("#status").filter(has_text="商机已保存").wait_for()
            side.fill("textarea[name=text]", CUSTOMER_SAYS)
            side.click("#ask-form button")
            side.wait_for_selector("#list li:nth-child(3)")
            side.screenshot(path=str(DOCS / "wecom-sidebar.png"), full_page=True)
            browser.close()
        engine.close()
    for name in ("wecom-card.json", "wecom-card.png", "wecom-sidebar.png"):
        print(DOCS / name)


if __name__ == "__main__":
    main()
