"""/review over plain HTTP against the running app (uvicorn on 127.0.0.1, port 0, a real engine):
sign-in, roles and scopes, CSRF, sessions, escaping, headers, CSV, and the view events."""

from __future__ import annotations

import csv
import io
import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from review_fixtures import TOKENS, Seeded, csrf_field, review_settings, served, sign_in
from test_audit_postgres import pg_server, pg_url  # noqa: F401  (fixtures)

from audit import (
    AuditEvent,
    ReviewIndex,
    SetFilters,
    append_action,
    dashboard_figures,
    load_review_tokens,
    open_audit_store,
)
from audit._review_auth import ReviewAuth
from copilot import Settings
from copilot._app import review_session_key
from copilot.errors import ConfigError
from knowledge import BilingualEmbedding


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, embedding: BilingualEmbedding) -> Iterator[Seeded]:
    with served(tmp_path_factory.mktemp("review-home"), embedding) as seeded:
        yield seeded


@contextmanager
def client(app: Seeded, token: str | None = None) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=app.url, follow_redirects=False, timeout=30) as made:
        if token:
            assert sign_in(made, token).status_code == 303
        yield made


def views(app: Seeded) -> list[dict[str, object]]:
    return [e.model_dump(mode="json") for e in app.copilot.audit.events(type="review_viewed")]


def test_pages_need_a_session_and_the_sign_in_sets_a_strict_cookie(app: Seeded) -> None:
    with client(app) as anonymous:
        for path in ("/review", "/review/sets", "/review/charts", f"/review/sets/{app.sets['price']}"):
            response = anonymous.get(path)
            assert response.status_code == 303 and response.headers["location"].startswith(
                "/review/signin?next="
            )
        response = sign_in(anonymous, TOKENS["manager"])
        assert response.status_code == 303 and response.headers["location"] == "/review"
        cookie = response.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/review" in cookie
        assert TOKENS["manager"] not in response.headers["set-cookie"]
        page = anonymous.get("/review")
        assert page.status_code == 200 and "Adoption : correction" in page.text


def test_a_wrong_token_and_a_missing_csrf_field_are_refused(
    app: Seeded, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with client(app) as browser:
        form = csrf_field(browser.get("/review/signin").text)
        wrong = browser.post("/review/signin", data={"csrf": form, "token": "not-a-token-at-all-123"})
        assert wrong.status_code == 401 and "not valid" in wrong.text and "set-cookie" not in wrong.headers
        no_csrf = browser.post("/review/signin", data={"token": TOKENS["admin"]})
        assert no_csrf.status_code == 403 and "set-cookie" not in no_csrf.headers
        forged = browser.post("/review/signin", data={"csrf": "x" * 64, "token": TOKENS["admin"]})
        assert forged.status_code == 403
    with client(app) as fresh:  # a CSRF field without its cookie is refused too
        assert fresh.post("/review/signin", data={"csrf": form, "token": TOKENS["admin"]}).status_code == 403
    logged = caplog.text
    assert "not-a-token-at-all-123" not in logged and TOKENS["admin"] not in logged


def test_sign_out_needs_the_csrf_field_and_ends_the_session(app: Seeded) -> None:
    with client(app, TOKENS["rep"]) as rep:
        page = rep.get("/review")
        assert rep.post("/review/signout", data={}).status_code == 403
        assert rep.get("/review").status_code == 200
        out = rep.post("/review/signout", data={"csrf": csrf_field(page.text)})
        assert out.status_code == 303 and out.headers["location"] == "/review/signin"
        assert rep.get("/review").status_code == 303
    with client(app, TOKENS["rep"]) as restarted:  # a browser that kept the session, lost the CSRF cookie
        restarted.cookies.delete("copilot_review_csrf")
        page = restarted.get("/review")
        assert "copilot_review_csrf=" in page.headers["set-cookie"]
        out = restarted.post("/review/signout", data={"csrf": csrf_field(page.text)})
        assert out.status_code == 303 and restarted.get("/review").status_code == 303


def test_an_expired_or_tampered_session_goes_back_to_sign_in(app: Seeded) -> None:
    settings = app.copilot.settings
    auth = ReviewAuth(load_review_tokens(settings), review_session_key(settings), 60)
    found = auth.check_token(TOKENS["admin"])
    assert found is not None
    with client(app) as browser:
        browser.cookies.set(
            "copilot_review", auth.session_cookie(found[0], now=time.time() - 120), path="/review"
        )
        response = browser.get("/review/sets")
        assert response.status_code == 303
        assert response.headers["location"] == "/review/signin?next=%2Freview%2Fsets&expired=1"
        assert "session expired" in browser.get(response.headers["location"]).text
        good = auth.session_cookie(found[0])
        browser.cookies.set(
            "copilot_review", good[:-2] + ("00" if good[-2:] != "00" else "11"), path="/review"
        )
        assert browser.get("/review").status_code == 303
        browser.cookies.set("copilot_review", good, path="/review")
        assert browser.get("/review").status_code == 200


def test_a_rep_sees_only_their_own_sets(app: Seeded) -> None:
    before = len(views(app))
    with client(app, TOKENS["rep"]) as rep:
        assert rep.get(f"/review/sets/{app.sets['price']}").status_code == 200
        refused = rep.get(f"/review/sets/{app.sets['rival']}")  # U2's set
        assert refused.status_code == 403 and "outside your scope" in refused.text
        assert rep.get(f"/review/sets/{app.sets['english']}").status_code == 403  # U3's
        listing = rep.get("/review/sets")
        assert app.sets["price"] in listing.text and app.sets["rival"] not in listing.text
        assert rep.get("/review/sets/ss-unknown").status_code == 404
        # Other reps' sets are not reachable through filters or the export either.
        assert app.sets["rival"] not in rep.get("/review/sets.csv?rep=U2").text
    assert len(views(app)) == before  # a rep reading their own sets is not a view of others' data


def test_a_manager_sees_their_team_and_each_view_is_an_audit_event(app: Seeded) -> None:
    before = len(views(app))
    with client(app, TOKENS["manager"]) as manager:
        assert manager.get(f"/review/sets/{app.sets['rival']}").status_code == 200  # U2, team east
        assert manager.get(f"/review/sets/{app.sets['english']}").status_code == 403  # U3, team west
        listing = manager.get("/review/sets")
        assert app.sets["rival"] in listing.text and app.sets["english"] not in listing.text
    new = views(app)[before:]
    timeline = next(e for e in new if e["suggestion_set_id"] == app.sets["rival"])
    assert timeline["actor"] == "M1" and timeline["output"]["reps"] == ["U2"]  # type: ignore[index]
    assert any(e["output"]["page"] == "sets" for e in new)  # type: ignore[index]
    with client(app, TOKENS["admin"]) as admin:  # the timeline says who has looked at the set
        assert "M1 ·" in admin.get(f"/review/sets/{app.sets['rival']}").text.split('id="viewed"')[1]
    assert app.copilot.audit.verify().ok


def test_customer_text_is_escaped_and_the_headers_forbid_scripts(app: Seeded) -> None:
    with client(app, TOKENS["admin"]) as admin:
        page = admin.get(f"/review/sets/{app.sets['hostile']}")
        assert page.status_code == 200
        assert "<script>" not in page.text and "<img" not in page.text
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page.text
        headers = page.headers
        csp = headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'none'" in csp and "unsafe-inline" not in csp
        assert "http" not in csp  # no external origin
        assert headers["x-content-type-options"] == "nosniff" and headers["x-frame-options"] == "DENY"
        assert headers["cache-control"] == "no-store"
        for path in ("/review", "/review/charts", "/review/sets"):
            assert "<script" not in admin.get(path).text
        spoof = _shown("ss-bidi", "U9", False).model_copy(
            update={"input": {"messages": [{"from": "c-1", "text": "报价\u202e00.1\u202c 元 \x1b[31mred"}]}}
        )
        app.copilot.audit.append([spoof])
        page = admin.get("/review/sets/ss-bidi")
        assert "报价00.1 元 [31mred" in page.text and "\u202e" not in page.text and "\x1b" not in page.text


def test_the_timeline_shows_the_whole_story(app: Seeded) -> None:
    with client(app, TOKENS["admin"]) as admin:
        page = admin.get(f"/review/sets/{app.sets['price']}").text
        for section in ("conversation", "suggestions", "competitor", "decision-chain", "compliance", "diff"):
            assert f'id="{section}"' in page
        assert "<ins>" in page and "本周内给您方案" in page  # the edit, as an insertion
        assert "/review/atoms/" in page
        atom = next(part.split('"')[0] for part in page.split('href="/review/atoms/')[1:])
        text = admin.get(f"/review/atoms/{atom}").text
        assert "version" in text
        rival = admin.get(f"/review/sets/{app.sets['rival']}").text
        assert "极光数仓" in rival
        assert admin.get("/review/atoms/no-such-atom").status_code == 404


def test_filters_are_in_the_url_and_the_csv_is_what_they_select(app: Seeded) -> None:
    with client(app, TOKENS["admin"]) as admin:
        rival = admin.get("/review/sets", params={"competitor": "极光数仓"}).text
        assert app.sets["rival"] in rival and app.sets["price"] not in rival
        assert app.sets["english"] in admin.get("/review/sets?action=wrote_own").text
        assert app.sets["price"] not in admin.get("/review/sets?action=wrote_own").text
        assert app.sets["price"] in admin.get("/review/sets?team=east&engine=grounded").text
        assert app.sets["price"] not in admin.get("/review/sets?until=2020-01-01").text
        assert admin.get("/review/sets?since=yesterday").status_code == 400
        exported = admin.get("/review/sets.csv", params={"rep": "U1"})
        assert exported.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(exported.text.lstrip("\ufeff"))))
        assert {r["set_id"] for r in rows} == {app.sets["price"], app.sets["hostile"]}
        assert {r["rep"] for r in rows} == {"U1"}
        dashboard = admin.get("/review", params={"since": "2000-01-01"}).text
        assert 'href="/review/sets?since=2000-01-01&amp;action=edited"' in dashboard
        assert "by-team" in dashboard and "east" in dashboard


def test_charts_are_svg_drawn_on_the_server(app: Seeded) -> None:
    with client(app, TOKENS["admin"]) as admin:
        page = admin.get("/review/charts").text
        assert "<svg" in page and "<polyline" in page and "<rect" in page


def test_the_next_parameter_never_leaves_the_review_pages(app: Seeded) -> None:
    with client(app) as browser:
        form = csrf_field(browser.get("/review/signin").text)
        for target in ("//evil.example/x", "https://evil.example/", "/slack/events"):
            response = browser.post(
                "/review/signin", data={"csrf": form, "token": TOKENS["rep"], "next": target}
            )
            assert response.headers["location"] == "/review"


def test_token_settings_are_checked_without_echoing_tokens(tmp_path: Path) -> None:
    def load(value: object) -> None:
        load_review_tokens(Settings(home=tmp_path, review_tokens=SecretStr(json.dumps(value))))

    with pytest.raises(ConfigError, match="shorter than 16"):
        load({"short": {"role": "rep", "id": "U1"}})
    with pytest.raises(ConfigError, match="manager without a team"):
        load({"x" * 20: {"role": "manager", "id": "M1"}})
    with pytest.raises(ConfigError, match=r"entry #1 \(role") as caught:
        load({"secret-token-value-123": {"role": "boss", "id": "M1"}})
    assert "secret-token-value-123" not in str(caught.value)
    with pytest.raises(ConfigError, match="not JSON"):
        load_review_tokens(Settings(home=tmp_path, review_tokens=SecretStr("{nope")))
    tokens_file = tmp_path / "tokens.json"
    tokens_file.write_text(json.dumps({"y" * 20: {"role": "admin", "id": "A"}}))
    tokens_file.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_review_tokens(Settings(home=tmp_path, review_tokens_file=tokens_file))
    tokens_file.chmod(0o600)
    loaded = load_review_tokens(Settings(home=tmp_path, review_tokens_file=tokens_file))
    assert [p.role for p in loaded.values()] == ["admin"]


def test_the_index_follows_appends_and_filters_by_missing_role(app: Seeded) -> None:
    index = ReviewIndex(app.copilot.audit)
    index.refresh()
    rows = list(index.rows())
    assert {r.set_id for r in rows} >= set(app.sets.values())
    price = index.get(app.sets["price"])
    assert price is not None and price.action == "edited" and price.rep == "U1"
    missing = {role for r in rows for role in r.missing_roles}
    for role in missing:
        chosen = list(SetFilters(missing_role=role).apply(rows, {}))
        assert chosen and all(role in r.missing_roles for r in chosen)


def test_settings_fixture_is_valid(tmp_path: Path) -> None:
    assert len(load_review_tokens(review_settings(tmp_path))) == 4


def _shown(set_id: str, rep: str, blocked: bool) -> AuditEvent:
    action = "blocked" if blocked else "repaired"
    return AuditEvent(
        type="suggestion_shown",
        actor=rep,
        suggestion_set_id=set_id,
        engine="grounded",
        output={
            "suggestions": [{"text": "先付三成。", "citations": ["obj-a"]}],
            "competitor": {"name": "极光数仓"},
            "decision_chain": {"missing_roles": ["cfo"]},
            "compliance": [{"target": "suggestion[1]", "rule": "r", "action": action}],
        },
        latency_ms=10.0,
    )


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_the_index_reads_both_backends_and_survives_a_purge(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    where = request.getfixturevalue("pg_url") if backend == "postgres" else tmp_path / "audit.sqlite3"
    with open_audit_store(where, home=tmp_path) as store:
        old = datetime.now(UTC) - timedelta(days=400)
        store.append([_shown("ss-old", "U1", False).model_copy(update={"at": old})])
        index = ReviewIndex(store)
        index.refresh()  # built from the facts: compliance not read yet
        assert index.get("ss-old") is not None and index.get("ss-old").blocked is None  # type: ignore[union-attr]
        store.append([_shown("ss-new", "U2", True)])
        append_action(store, "ss-new", "dismissed", rep="U2")
        index.refresh()  # followed from the new events: compliance known at once
        new = index.get("ss-new")
        assert new is not None and new.blocked == 1 and new.action == "dismissed"
        index.read_compliance(old - timedelta(days=1))
        assert index.get("ss-old").blocked == 0  # type: ignore[union-attr]
        figures = dashboard_figures(index.rows(), {"east": ["U1"]})
        assert figures["totals"]["block_rate"] == 0.5 and figures["by_team"]["east"]["shown"] == 1
        store.purge(before=old + timedelta(days=1), actor="ops")
        index.refresh()
        assert index.get("ss-old") is None and index.get("ss-new") is not None
        assert store.verify().ok


def test_the_dashboard_keeps_its_filters_within_the_quarter(app: Seeded) -> None:
    with client(app, TOKENS["admin"]) as admin:
        west = admin.get("/review", params={"team": "west"}).text
        assert 'id="by-rep"' in west and ">U3<" in west and ">U1<" not in west
        assert "team=west" in west  # the figures' links keep the filter
