"""What a rep sees in Slack: the Block Kit answer rendered from its JSON, as HTML and a PNG.

    python scripts/slack_preview.py                                  # docs/slack-answer.{json,html,png}
    python scripts/slack_preview.py --conversation examples/conversations/09-price-objection-en.json

Presses Suggest on a sample conversation with the grounded engine (in a temporary
COPILOT_HOME), builds the exact blocks the Slack connector posts, renders them in
a small Slack-like HTML page and screenshots it with Debian's Chromium (headless,
through Playwright; no browser is downloaded).
"""

from __future__ import annotations

import argparse
import asyncio
import html
import json
import re
import tempfile
from pathlib import Path
from typing import Any

from audit import open_audit_store
from connectors.slack._blocks import answer_blocks
from copilot import Copilot, Settings
from copilot._cli_common import load_conversation
from knowledge import BilingualEmbedding, ChromaAtomStore, ingest_atoms, load_atoms

ROOT = Path(__file__).resolve().parent.parent
CSS = """
body { font: 15px/1.46 -apple-system, "Segoe UI", "Noto Sans CJK SC", "Noto Sans", sans-serif;
       background: #fff; color: #1d1c1d; margin: 0; padding: 16px 20px; width: 760px; }
.msg { display: flex; gap: 8px; }
.avatar { width: 36px; height: 36px; border-radius: 6px; background: #4a154b; color: #fff;
          display: flex; align-items: center; justify-content: center; font-weight: 700; flex: none; }
.name { font-weight: 900; } .app { background: #e8e8e8; color: #616061; font-size: 10px; font-weight: 700;
        padding: 1px 3px; border-radius: 2px; margin-left: 4px; } .time { color: #616061; font-size: 12px; }
.only { color: #616061; font-size: 13px; margin-bottom: 4px; }
.header { font-size: 18px; font-weight: 900; margin: 6px 0 4px; }
.section { margin: 6px 0; white-space: normal; }
.context { color: #616061; font-size: 12.5px; margin: 2px 0 6px; }
.actions { display: flex; gap: 8px; flex-wrap: wrap; margin: 6px 0 12px; }
.button { border: 1px solid #bbbabb; border-radius: 4px; padding: 3px 12px; font-size: 14px; font-weight: 700;
          background: #fff; } .primary { background: #007a5a; border-color: #007a5a; color: #fff; }
.divider { border-top: 1px solid #dddddd; margin: 12px 0; }
code { color: #e01e5a; background: #f6f6f6; border: 1px solid #e8e8e8; border-radius: 3px; padding: 0 3px;
       font-size: 12px; }
"""


def mrkdwn(text: str) -> str:
    """Slack mrkdwn (already &lt;-escaped by the connector) as safe HTML."""
    safe = html.escape(html.unescape(text), quote=False)
    safe = re.sub(r"`([^`]+)`", r"<code>\1</code>", safe)
    safe = re.sub(r"\*([^*\n]+)\*", r"<b>\1</b>", safe)
    return safe.replace("\n", "<br>")


def render(blocks: list[dict[str, Any]]) -> str:
    parts = []
    for block in blocks:
        kind = block["type"]
        if kind == "header":
            parts.append(f'<div class="header">{html.escape(block["text"]["text"])}</div>')
        elif kind == "section":
            parts.append(f'<div class="section">{mrkdwn(block["text"]["text"])}</div>')
        elif kind == "context":
            parts.append(
                f'<div class="context">{" ".join(mrkdwn(e["text"]) for e in block["elements"])}</div>'
            )
        elif kind == "divider":
            parts.append('<div class="divider"></div>')
        elif kind == "actions":
            buttons = "".join(
                f'<span class="button {e.get("style", "")}">{html.escape(e["text"]["text"])}</span>'
                for e in block["elements"]
            )
            parts.append(f'<div class="actions">{buttons}</div>')
    body = "\n".join(parts)
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><style>{CSS}</style></head><body>'
        '<div class="msg"><div class="avatar">SC</div><div>'
        '<div><span class="name">Sales Copilot</span><span class="app">APP</span> '
        '<span class="time">10:42</span></div><div class="only">👁 Only visible to you</div>'
        f"{body}</div></div></body></html>"
    )


def press(conversation_path: Path) -> list[dict[str, Any]]:
    conversation = load_conversation(conversation_path)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(home=Path(tmp))
        store = ChromaAtomStore.embedded(settings.chroma_path, "atoms", BilingualEmbedding())
        ingest_atoms(load_atoms(ROOT / "examples" / "kb"), store)
        engine = Copilot(settings, store, open_audit_store(settings.audit_path))
        try:
            result = asyncio.run(engine.suggest(conversation))
        finally:
            engine.close()
    deal = conversation.deal
    line = " · ".join(p for p in (deal.customer, deal.industry, deal.stage, deal.product) if p)
    return answer_blocks(result, chat=f"slack:C0DEAL:{conversation.id}", deal_line=line, deal_set=True)


def screenshot(page_html: Path, png: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 800, "height": 600}, device_scale_factor=2)
        page.goto(page_html.resolve().as_uri())
        page.screenshot(path=str(png), full_page=True)
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--conversation",
        type=Path,
        default=ROOT / "examples/conversations/03-competitor-alias-auroradw-zh.json",
    )
    parser.add_argument(
        "--out", type=Path, default=ROOT / "docs" / "slack-answer", help="path without suffix"
    )
    args = parser.parse_args()
    blocks = press(args.conversation)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(
        json.dumps({"blocks": blocks}, ensure_ascii=False, indent=1) + "\n"
    )
    page = args.out.with_suffix(".html")
    page.write_text(render(blocks), encoding="utf-8")
    screenshot(page, args.out.with_suffix(".png"))
    print(f"wrote {args.out.with_suffix('.json')}, {page} and {args.out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
