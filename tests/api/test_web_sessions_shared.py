"""Browser sessions live in the database: two `identito serve` processes on the same database (two
hosts behind a load balancer, or a restart) serve the same session; signing out at one ends it at
the other; the table holds the id's hash, not the id; an idle session ends; seen_at is written at
most once a minute, not at every page."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from app.services.context import ServiceContext
from app.web import sessions as web_sessions_module
from app.web.sessions import COOKIE_NAME, SessionStore, id_hash
from tests.cli_support import free_port
from tests.e2e.conftest import _database, running_server

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def _sign_in(url: str) -> str:
    """The dev sign-in at one server; the session cookie it sets."""
    with httpx.Client(base_url=url, follow_redirects=False) as client:
        page = client.get("/app/signin")
        token = _TOKEN.search(page.text)
        assert token is not None
        done = client.post("/app/signin/dev", data={"csrf_token": token.group(1), "user": "agent-s",
                                                     "roles": ["admission"]})
        assert done.status_code == 303 and done.headers["location"] == "/app/"
        return str(client.cookies[COOKIE_NAME])


def _dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _home(url: str, cookie: str) -> httpx.Response:
    return httpx.get(f"{url}/app/", cookies={COOKIE_NAME: cookie}, follow_redirects=False)


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_two_processes_serve_the_same_session_and_a_restart_keeps_it(
        engine: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    url = _database(engine, request, tmp_path)
    with running_server(url, _dir(tmp_path / "a"), free_port()) as one, \
            running_server(url, _dir(tmp_path / "b"), free_port()) as other:
        cookie = _sign_in(one.url)
        at_other = _home(other.url, cookie)
        assert at_other.status_code == 200 and "Connecté(e) : agent-s" in at_other.text
        with one.ctx.engine.connect() as connection:
            stored = connection.execute(text("SELECT id_hash, subject, roles FROM web_session "
                                             "WHERE subject IS NOT NULL")).all()
        assert len(stored) == 1 and stored[0][1:] == ("agent-s", "admission")
        assert stored[0][0] not in cookie and len(stored[0][0]) == 64  # a hash, not the id

        signout = httpx.post(f"{other.url}/app/signout", cookies={COOKIE_NAME: cookie},
                             data={"csrf_token": _TOKEN.search(at_other.text).group(1)},  # type: ignore[union-attr]
                             follow_redirects=False)
        assert signout.status_code == 303
        back = _home(one.url, cookie)
        assert back.status_code == 303 and back.headers["location"] == "/app/signin"  # ended at both

        cookie = _sign_in(other.url)
    with running_server(url, _dir(tmp_path / "c"), free_port()) as restarted:
        again = _home(restarted.url, cookie)
        assert again.status_code == 200 and "Connecté(e) : agent-s" in again.text  # no one signed out


def test_an_idle_session_ends_and_seen_at_is_written_once_a_minute(ctx: ServiceContext) -> None:
    now = [1_000_000.0]
    store = SessionStore("k" * 40, ctx=ctx, idle_seconds=30 * 60, max_age_seconds=12 * 3600,
                         clock=lambda: now[0])
    session = store.sign_in(store.new(), "agent-t", frozenset({"admission"}), "agent-t")
    store.commit(session)
    cookie = store.cookie_value(session)

    def seen_at() -> float:
        with ctx.engine.connect() as connection:
            return float(connection.execute(text("SELECT seen_at FROM web_session WHERE id_hash = :h"),
                                            {"h": id_hash(session.id)}).scalar_one())

    now[0] += 30
    loaded = store.load(cookie)
    assert loaded is not None and loaded.subject == "agent-t"
    store.commit(loaded)
    assert seen_at() == 1_000_000.0  # within the minute: nothing written
    now[0] += web_sessions_module.TOUCH_SECONDS
    loaded = store.load(cookie)
    assert loaded is not None
    store.commit(loaded)
    assert seen_at() == now[0]
    now[0] += 30 * 60 + 1
    assert store.load(cookie) is None  # idle too long
    with ctx.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM web_session")).scalar_one() == 0


def test_the_cookie_key_is_shared_by_the_processes_of_a_deployment() -> None:
    configured = web_sessions_module.cookie_secret("set-by-ops", "x")
    assert configured == ("set-by-ops", True)
    one, other = (web_sessions_module.cookie_secret(None, None, "client-secret") for _ in range(2))
    assert one == other and one[1] is True and "client-secret" not in one[0]
    alone = web_sessions_module.cookie_secret(None, None, None)
    assert alone[1] is False and alone != web_sessions_module.cookie_secret(None, None, None)


def test_a_flash_message_survives_the_redirect_between_processes(
        request: pytest.FixtureRequest, tmp_path: Path) -> None:
    url = _database("postgresql", request, tmp_path)
    with running_server(url, _dir(tmp_path / "a"), free_port()) as one, \
            running_server(url, _dir(tmp_path / "b"), free_port()) as other:
        cookie = _sign_in(one.url)
        page = _home(one.url, cookie)
        token = _TOKEN.search(page.text).group(1)  # type: ignore[union-attr]
        done = httpx.post(f"{one.url}/app/signout", cookies={COOKIE_NAME: cookie},
                          data={"csrf_token": token}, follow_redirects=False)
        fresh = done.cookies[COOKIE_NAME]
        shown = httpx.get(f"{other.url}/app/signin", cookies={COOKIE_NAME: fresh})
        assert "Vous êtes déconnecté(e)." in shown.text  # set by one process, shown by the other
        again = httpx.get(f"{one.url}/app/signin", cookies={COOKIE_NAME: fresh})
        assert again.status_code == 200 and "Vous êtes déconnecté(e)." not in again.text  # once only

