"""A served app with a real engine and a decision log of real presses, for the /review tests."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from asgi_server import serve_in_thread
from pydantic import SecretStr

from audit import SQLiteAuditStore
from copilot import Conversation, Copilot, Settings
from copilot._app import create_app
from knowledge import BilingualEmbedding, ChromaAtomStore, ingest_atoms, load_atoms

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TOKENS = {
    "manager": "tok-manager-east-0123456789",
    "rep": "tok-rep-u1-0123456789abcdef",
    "rep3": "tok-rep-u3-0123456789abcdef",
    "admin": "tok-admin-0123456789abcdef",
}
HOSTILE = "价格太高了 <script>alert('x')</script> <img src=x onerror=alert(1)> & 你们怎么说？"


@dataclass
class Seeded:
    url: str
    copilot: Copilot
    sets: dict[str, str] = field(default_factory=dict)
    """name -> suggestion set id."""


def review_settings(home: Path) -> Settings:
    tokens = {
        TOKENS["manager"]: {"role": "manager", "id": "M1", "team": "east"},
        TOKENS["rep"]: {"role": "rep", "id": "U1"},
        TOKENS["rep3"]: {"role": "rep", "id": "U3"},
        TOKENS["admin"]: {"role": "admin", "id": "compliance"},
    }
    return Settings(
        home=home,
        review_tokens=SecretStr(json.dumps(tokens)),
        teams={"east": ["U1", "U2"], "west": ["U3"]},
    )


def _conversation(name: str) -> Conversation:
    return Conversation.model_validate_json((EXAMPLES / "conversations" / name).read_text("utf-8"))


async def _seed(copilot: Copilot) -> dict[str, str]:
    sets: dict[str, str] = {}
    price = await copilot.suggest(_conversation("01-price-objection-mfg.json"), actor="U1")
    sets["price"] = price.id
    sent = price.suggestions[0].text
    await copilot.record_action(
        price.id, "edited", rep="U1", index=0, final_text=sent[:-1] + "，本周内给您方案。"
    )
    rival = await copilot.suggest(_conversation("02-competitor-auroradw-retail.json"), actor="U2")
    sets["rival"] = rival.id
    await copilot.record_action(rival.id, "sent_as_is", rep="U2", index=1)
    english = await copilot.suggest(_conversation("09-price-objection-en.json"), actor="U3")
    sets["english"] = english.id
    await copilot.record_action(english.id, "wrote_own", rep="U3", final_text="Let me call you tomorrow.")
    hostile = _conversation("01-price-objection-mfg.json")
    last = hostile.messages[-1].model_copy(update={"text": HOSTILE})
    hostile = hostile.model_copy(update={"messages": [*hostile.messages[:-1], last]})
    sets["hostile"] = (await copilot.suggest(hostile, actor="U1")).id
    superlative = await copilot.suggest(_conversation("10-superlative-temptation.json"), actor="U2")
    sets["superlative"] = superlative.id
    return sets


@contextmanager
def served(home: Path, embedding: BilingualEmbedding) -> Iterator[Seeded]:
    settings = review_settings(home)
    store = ChromaAtomStore.embedded(settings.chroma_path, "atoms", embedding)
    ingest_atoms(load_atoms(EXAMPLES / "kb"), store)
    copilot = Copilot(settings, store, SQLiteAuditStore(settings.audit_path))
    try:
        sets = asyncio.run(_seed(copilot))
        with serve_in_thread(create_app(settings, copilot=copilot)) as url:
            yield Seeded(url, copilot, sets)
    finally:
        copilot.close()


def sign_in(client: httpx.Client, token: str) -> httpx.Response:
    """Sign ``client`` in through the form (GET for the CSRF cookie and field, then POST)."""
    page = client.get("/review/signin")
    match = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert match, page.text
    return client.post("/review/signin", data={"csrf": match.group(1), "token": token, "next": "/review"})


def csrf_field(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, html
    return match.group(1)
