"""``/review``: the managers' web view of the decision log (server-rendered, no scripts).

Pages: the dashboard (this quarter against 3 : 1, by rep and team, atoms,
fallbacks, compliance blocks, latency), the set list with its filters in the URL
and a CSV export, one set's timeline, an atom's text, and charts. Sign-in by
token (``_review_auth``); every page that shows someone else's sets is first
recorded as a ``review_viewed`` audit event (if it cannot be, the page is not shown).

The app (``copilot/_app.py``) mounts ``ReviewApp(...).routes()`` and awaits
``warm_up`` at start; ``atom_lookup`` gives an atom's current text by id.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from pydantic import JsonValue
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from copilot import Settings, redact_text
from copilot.errors import CopilotError

from ._events import AuditEvent
from ._report import RATIO_TARGET
from ._review_auth import Principal, ReviewAuth, Session, load_review_tokens
from ._review_charts import atom_bars, rate_lines
from ._review_index import ReviewIndex, SetRow
from ._review_query import FILTER_ACTIONS, SetFilters, dashboard_figures, quarter_of, sets_csv, weekly_series
from ._store import AuditStore
from ._timeline import set_timeline

__all__ = ["AtomInfo", "ReviewApp"]

log = logging.getLogger("copilot.review")
PAGE_SIZE = 50
FIGURES_MAX_AGE_S = 15.0
"""The dashboard and charts may be this old when sets changed meanwhile (they say as of when)."""
_CSP = (
    "default-src 'self'; script-src 'none'; object-src 'none'; style-src 'self'; img-src 'self' data:;"
    " base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_HEADERS = {
    "Content-Security-Policy": _CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cache-Control": "no-store",
}
ROLES = ("ceo", "cfo", "cto", "procurement", "legal", "it_security", "business_owner", "end_user")


@dataclass(frozen=True)
class AtomInfo:
    """An atom as the knowledge store holds it now."""

    id: str
    title: str
    type: str
    version: int
    text: str
    legal_basis: tuple[str, ...] = ()
    status: str = ""


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class ReviewApp:
    """The review pages over one audit store."""

    def __init__(
        self,
        store: AuditStore,
        settings: Settings,
        key: bytes,
        atom_lookup: Callable[[str], AtomInfo | None] | None = None,
    ) -> None:
        self.store = store
        self.index = ReviewIndex(store)
        self.teams = {team: list(reps) for team, reps in settings.teams.items()}
        tokens = load_review_tokens(settings)
        for principal in tokens.values():
            if principal.role == "manager" and principal.team not in self.teams:
                log.warning(
                    "review: manager %s has team %r, which COPILOT_TEAMS does not list: they see only"
                    " their own sets",
                    principal.id,
                    principal.team,
                )
        self.auth = ReviewAuth(tokens, key, settings.review_session_minutes * 60)
        self.atom_lookup = atom_lookup
        self._env = Environment(
            loader=PackageLoader("audit", "review_templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            finalize=_inert,
        )
        self._env.globals.update(roles=ROLES, actions=FILTER_ACTIONS, target=RATIO_TARGET, link=_link)
        self._env.filters.update(pct=_pct, ratio=_ratio, when=_when, ms=_ms)
        self._cache: dict[tuple[Any, ...], tuple[int, float, Any]] = {}
        self._background: set[asyncio.Task[Any]] = set()

    def routes(self) -> list[Route]:
        return [
            Route("/review", self._page(self.dashboard)),
            Route("/review/sets", self._page(self.set_list)),
            Route("/review/sets.csv", self._page(self.set_csv)),
            Route("/review/sets/{set_id}", self._page(self.timeline)),
            Route("/review/atoms/{atom_id}", self._page(self.atom)),
            Route("/review/charts", self._page(self.charts)),
            Route("/review/signin", self.signin, methods=["GET", "POST"]),
            Route("/review/signout", self.signout, methods=["POST"]),
            Route("/review/static/review.css", self.stylesheet),
        ]

    async def warm_up(self) -> None:
        """Start building the index in the background (the port opens meanwhile); nothing
        when no reviewer can sign in."""
        if self.auth.configured:
            self._spawn(asyncio.to_thread(self._warm))

    def _warm(self) -> None:
        self.index.refresh()
        start, _ = quarter_of(datetime.now(UTC).date())
        self.index.read_compliance(datetime(start.year, start.month, start.day, tzinfo=UTC))

    def _spawn(self, work: Awaitable[Any]) -> None:
        async def run() -> None:
            try:
                await work
            except CopilotError as exc:
                log.warning("review background work failed: %s", exc)

        task = asyncio.get_running_loop().create_task(run())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- plumbing ------------------------------------------------------------------------------

    def _html(self, template: str, status: int = 200, **context: Any) -> Response:
        body = self._env.get_template(template).render(**context)
        return Response(body, status_code=status, media_type="text/html; charset=utf-8", headers=_HEADERS)

    def _session(self, request: Request) -> Session | None:
        cookie = request.cookies.get(ReviewAuth.COOKIE, "")
        return self.auth.session(cookie) if cookie else None

    def _page(
        self, handler: Callable[[Request, Session], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            session = self._session(request)
            if session is None:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                expired = "1" if request.cookies.get(ReviewAuth.COOKIE) else ""
                query = urllib.parse.urlencode({"next": target, **({"expired": "1"} if expired else {})})
                return RedirectResponse(f"/review/signin?{query}", 303, headers=_HEADERS)
            try:
                await asyncio.to_thread(self.index.refresh)
                response = await handler(request, session)
            except _Refused as exc:
                response = self._error(request, session, exc.status, exc.message)
            except CopilotError as exc:
                log.warning("review page %s failed: %s", request.url.path, exc)
                response = self._error(request, session, 503, "The audit log cannot be read or written now.")
            if request.url.scheme == "https":
                response.headers["Strict-Transport-Security"] = "max-age=31536000"
            fresh = getattr(request.state, "new_csrf", None)
            if fresh:  # the browser lost its CSRF cookie (restarted): the sign-out form needs one
                self._set_csrf_cookie(request, response, fresh)
            return response

        return endpoint

    def _set_csrf_cookie(self, request: Request, response: Response, value: str) -> None:
        response.set_cookie(
            ReviewAuth.CSRF_COOKIE,
            value,
            max_age=self.auth.session_s,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/review",
        )

    def _error(self, request: Request, session: Session | None, status: int, message: str) -> Response:
        return self._html("error.html", status, message=message, **self._chrome(request, session))

    def _chrome(self, request: Request, session: Session | None) -> dict[str, Any]:
        csrf = request.cookies.get(ReviewAuth.CSRF_COOKIE, "")
        if not csrf:
            csrf = request.state.new_csrf = self.auth.new_csrf_cookie()
        return {
            "me": session.principal if session else None,
            "csrf": self.auth.form_token(csrf),
            "path": request.url.path,
        }

    async def _viewed(
        self, request: Request, session: Session, page: str, reps: set[str], set_id: str = ""
    ) -> None:
        """Record that ``session`` saw sets of ``reps`` (nothing when only their own)."""
        others: list[JsonValue] = [rep for rep in sorted(reps - {session.principal.id})]
        if not others:
            return
        where = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        event = AuditEvent(
            type="review_viewed",
            actor=session.principal.id,
            suggestion_set_id=set_id,
            reason=redact_text(urllib.parse.unquote(where))[:500],
            output={
                "page": page,
                "role": session.principal.role,
                "reps": others[:100],
                "rep_count": len(others),
            },
        )
        await asyncio.to_thread(self.store.append, [event])

    def _scoped(self, principal: Principal) -> list[SetRow]:
        allowed = principal.reps(self.teams)
        rows = self.index.rows()
        return list(rows) if allowed is None else [row for row in rows if row.rep in allowed]

    def _cached(self, key: tuple[Any, ...], make: Callable[[], Any], max_age_s: float = 0.0) -> Any:
        """``make()``, reused while no set changed, or for ``max_age_s`` even if some did (the
        aggregate pages: on a busy log every press changes the sets, and a million-event
        quarter takes a second or more to sum up)."""
        version, now = self.index.version, time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and (hit[0] == version or now - hit[1] < max_age_s):
            return hit[2]
        value = make()
        if len(self._cache) > 256:
            self._cache.clear()
        self._cache[key] = (version, now, value)
        return value

    # -- sign-in ---------------------------------------------------------------------------------

    async def signin(self, request: Request) -> Response:
        csrf = request.cookies.get(ReviewAuth.CSRF_COOKIE, "")
        target = _safe_next(request.query_params.get("next", ""))
        if request.method == "POST":
            form = await _form(request)
            if not self.auth.form_ok(csrf, form.get("csrf", "")):
                return self._html(
                    "error.html", 403, message="The form expired; reload the sign-in page.", me=None
                )
            target = _safe_next(form.get("next", ""))
            found = self.auth.check_token(form.get("token", "").strip()) if self.auth.configured else None
            if found is None:
                log.warning("review sign-in refused from %s", request.client.host if request.client else "?")
                return self._signin_page(request, csrf, target, "That token is not valid.", 401)
            fingerprint, principal = found
            log.info("review sign-in: %s (%s)", principal.id, principal.role)
            response = RedirectResponse(target, 303, headers=_HEADERS)
            response.set_cookie(
                ReviewAuth.COOKIE,
                self.auth.session_cookie(fingerprint),
                max_age=self.auth.session_s,
                httponly=True,
                samesite="strict",
                secure=request.url.scheme == "https",
                path="/review",
            )
            return response
        notice = "Your session expired; sign in again." if request.query_params.get("expired") else ""
        return self._signin_page(request, csrf, target, notice, 200)

    def _signin_page(self, request: Request, csrf: str, target: str, error: str, status: int) -> Response:
        fresh = not csrf
        csrf = csrf or self.auth.new_csrf_cookie()
        problem = "" if self.auth.configured else "No sign-in token is configured: set COPILOT_REVIEW_TOKENS."
        response = self._html(
            "signin.html",
            status,
            me=None,
            csrf=self.auth.form_token(csrf),
            next=target,
            error=error or problem,
        )
        if fresh:
            self._set_csrf_cookie(request, response, csrf)
        return response

    async def signout(self, request: Request) -> Response:
        form = await _form(request)
        if not self.auth.form_ok(request.cookies.get(ReviewAuth.CSRF_COOKIE, ""), form.get("csrf", "")):
            return self._html("error.html", 403, message="The form expired; reload the page.", me=None)
        response = RedirectResponse("/review/signin", 303, headers=_HEADERS)
        response.delete_cookie(ReviewAuth.COOKIE, path="/review")
        return response

    async def stylesheet(self, request: Request) -> Response:
        css = resources.files("audit").joinpath("review_templates", "review.css").read_text("utf-8")
        headers = {**_HEADERS, "Cache-Control": "public, max-age=3600"}
        return Response(css, media_type="text/css; charset=utf-8", headers=headers)

    # -- pages -----------------------------------------------------------------------------------

    async def dashboard(self, request: Request, session: Session) -> Response:
        principal = session.principal
        filters = _filters(request)
        if not filters.since and not filters.until:
            first, last = quarter_of(datetime.now(UTC).date())
            filters = replace(filters, since=first.isoformat(), until=last.isoformat())

        def make() -> tuple[dict[str, Any], set[str], datetime]:
            rows = list(filters.apply(self._scoped(principal), self.teams))
            return dashboard_figures(rows, self.teams), {row.rep for row in rows}, datetime.now(UTC)

        key = ("dashboard", principal.role, principal.id, principal.team, filters)
        figures, reps, as_of = await asyncio.to_thread(self._cached, key, make, FIGURES_MAX_AGE_S)
        await self._viewed(request, session, "dashboard", reps)
        start = date.fromisoformat(filters.since) if filters.since else None
        if start is not None and figures["totals"]["compliance_read"] < figures["totals"]["shown"]:
            since = datetime(start.year, start.month, start.day, tzinfo=UTC)  # after the figures:
            self._spawn(asyncio.to_thread(self.index.read_compliance, since))  # not competing with them
        return self._html(
            "dashboard.html",
            f=figures,
            filters=filters,
            teams=self.teams,
            as_of=as_of,
            **self._chrome(request, session),
        )

    async def set_list(self, request: Request, session: Session) -> Response:
        filters = _filters(request)
        try:
            page = max(1, int(request.query_params.get("page", "1")))
        except ValueError:
            raise _Refused(400, "page: use a whole number") from None

        def make() -> tuple[list[SetRow], dict[str, list[str]]]:
            scoped = self._scoped(session.principal)
            rows = list(filters.apply(scoped, self.teams))
            rows.reverse()
            choices = {
                "reps": sorted({r.rep for r in scoped}),
                "engines": sorted({r.engine for r in scoped if r.engine}),
                "competitors": sorted({r.competitor for r in scoped if r.competitor}),
            }
            return rows, choices

        key = ("sets", session.principal.role, session.principal.id, session.principal.team, filters)
        rows, choices = await asyncio.to_thread(self._cached, key, make)
        shown = rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        await self._viewed(request, session, "sets", {row.rep for row in shown})
        pages = max(1, -(-len(rows) // PAGE_SIZE))
        return self._html(
            "sets.html",
            rows=shown,
            total=len(rows),
            page=page,
            pages=pages,
            filters=filters,
            choices=choices,
            teams=self.teams,
            **self._chrome(request, session),
        )

    async def set_csv(self, request: Request, session: Session) -> Response:
        filters = _filters(request)
        rows = await asyncio.to_thread(
            lambda: list(filters.apply(self._scoped(session.principal), self.teams))
        )
        rows.reverse()
        await self._viewed(request, session, "sets.csv", {row.rep for row in rows})
        body = await asyncio.to_thread(sets_csv, rows)
        headers = {**_HEADERS, "Content-Disposition": 'attachment; filename="suggestion-sets.csv"'}
        return Response("\ufeff" + body, media_type="text/csv; charset=utf-8", headers=headers)

    async def timeline(self, request: Request, session: Session) -> Response:
        set_id = request.path_params["set_id"]
        row = self.index.get(set_id)
        if row is None:
            raise _Refused(404, "No suggestion set with that id.")
        if not session.principal.may_see(row.rep, self.teams):
            log.warning("review: %s refused set %s of another rep", session.principal.id, set_id)
            raise _Refused(403, "This suggestion set belongs to a rep outside your scope.")
        events = await asyncio.to_thread(lambda: list(self.store.events(suggestion_set_id=set_id)))
        story = set_timeline(set_id, events)
        await self._viewed(request, session, "timeline", {row.rep}, set_id)
        return self._html("timeline.html", t=story, row=row, **self._chrome(request, session))

    async def atom(self, request: Request, session: Session) -> Response:
        atom_id = request.path_params["atom_id"]
        info = await asyncio.to_thread(self.atom_lookup, atom_id) if self.atom_lookup else None
        used = request.query_params.get("v", "")
        return self._html(
            "atom.html",
            404 if info is None else 200,
            atom=info,
            atom_id=atom_id,
            used=used if used.isdigit() else "",
            back=_safe_next(request.query_params.get("back", "")),
            **self._chrome(request, session),
        )

    async def charts(self, request: Request, session: Session) -> Response:
        principal = session.principal
        filters = _filters(request)

        def make() -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]], set[str]]:
            rows = list(filters.apply(self._scoped(principal), self.teams))
            series = weekly_series(rows)
            lines = rate_lines(series, {"adoption_rate": "adoption", "correction_rate": "correction"})
            figures = dashboard_figures(rows, self.teams, top=15)
            return lines, atom_bars(figures["atoms_shown_most"]), series, {row.rep for row in rows}

        key = ("charts", principal.role, principal.id, principal.team, filters)
        lines, bars, series, reps = await asyncio.to_thread(self._cached, key, make, FIGURES_MAX_AGE_S)
        await self._viewed(request, session, "charts", reps)
        return self._html(
            "charts.html",
            lines=lines,
            bars=bars,
            series=series,
            filters=filters,
            **self._chrome(request, session),
        )


_UNSAFE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _inert(value: Any) -> Any:
    """Every value a template prints: control and bidi-override characters dropped (customer
    text must not reorder what a reviewer reads); escaping then makes it plain text."""
    if isinstance(value, Markup):  # a macro's output: built from values already finalized here
        return value
    return _UNSAFE.sub("", value) if isinstance(value, str) else value


def _filters(request: Request) -> SetFilters:
    try:
        return SetFilters.from_query(request.query_params)
    except ValueError as exc:
        raise _Refused(400, str(exc)) from None


async def _form(request: Request) -> dict[str, str]:
    raw = await request.body()
    if len(raw) > 8 * 1024:
        return {}
    parsed = urllib.parse.parse_qs(raw.decode("utf-8", "replace"), max_num_fields=10)
    return {name: values[0] for name, values in parsed.items() if values}


def _safe_next(target: str) -> str:
    """Only our own pages: ``/review`` paths, never another host (``//evil``) or scheme."""
    if target.startswith("/review") and not target.startswith("/review/signin") and "\\" not in target:
        return target
    return "/review"


def _link(path: str, filters: SetFilters, **changes: str) -> str:
    query = urllib.parse.urlencode(filters.query(**changes))
    return f"{path}?{query}" if query else path


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:g} : 1"


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}" if value >= 10 else f"{value:.1f}"


def _when(value: str) -> str:
    return value[:16].replace("T", " ")
