"""What the pages show, built from the services' values (presentation only, no rule)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from app.db.audit import AuditEvent
from app.web.i18n import Words

_FR_DATE = re.compile(r"(?:(\d{1,2})/)?(?:(\d{1,2})/)?(\d{4})")


def search_date(typed: str) -> str:
    """A birth date as typed at a French desk (JJ/MM/AAAA, MM/AAAA, AAAA) in the search's ISO form;
    anything else is passed on as typed, for the search to accept (ISO) or refuse with its message."""
    text = typed.strip()
    match = _FR_DATE.fullmatch(text)
    if match is None:
        return text
    first, second, year = match.groups()
    if first and second:
        return f"{year}-{int(second):02d}-{int(first):02d}"
    if first:
        return f"{year}-{int(first):02d}"
    return year


def show_date(value: date | datetime | None, words: Words) -> str:
    """A date (or a date and time) the way the page's language writes it."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        fmt = "%d/%m/%Y %H:%M" if words.language == "fr" else "%Y-%m-%d %H:%M"
        return value.astimezone().strftime(fmt)
    return value.strftime("%d/%m/%Y" if words.language == "fr" else "%Y-%m-%d")


_HIDDEN = frozenset({"birth_date_completed", "version", "document_id", "with", "merge", "candidates"})


@dataclass(frozen=True)
class Change:
    """One field of an audit event: its label, the value before and after."""

    label: str
    before: str
    after: str


@dataclass(frozen=True)
class HistoryEntry:
    """One line of the history timeline: what, when, who, why, and what changed."""

    action: str
    at: str
    at_iso: str
    actor: str
    roles: str
    reason: str | None
    changes: tuple[Change, ...]


def history_entries(events: list[AuditEvent], words: Words) -> list[HistoryEntry]:
    """The timeline of an identity, newest first, as the page shows it."""
    return [
        HistoryEntry(words.action(e.action), show_date(e.at, words), e.at.isoformat(), e.actor,
                     ", ".join(e.roles), e.reason, _changes(e.before, e.after, words))
        for e in events
    ]


def _changes(before: dict[str, Any] | None, after: dict[str, Any] | None, words: Words) -> tuple[Change, ...]:
    old, new = before or {}, after or {}
    keys = [k for k in new if old.get(k) != new.get(k)] + [k for k in old if k not in new]
    shown = (Change(words.field(k), _text(old.get(k), words), _text(new.get(k), words))
             for k in keys if k not in _HIDDEN)
    return tuple(c for c in shown if c.before != c.after)


def _text(value: Any, words: Words) -> str:
    if value is None or value == []:
        return "—"
    if isinstance(value, list):
        return ", ".join(_text(v, words) for v in value)
    if isinstance(value, dict):
        return str(value.get("matricule") or value.get("id") or "…")
    if isinstance(value, bool):
        return words("yes") if value else words("no")
    return str(value)


@dataclass(frozen=True)
class WorklistFilters:
    """A worklist's filters as typed: the service's arguments, the messages, the query to keep."""

    values: dict[str, Any]
    errors: dict[str, str]
    query: str


def worklist_filters(typed: dict[str, str], now: datetime, words: Words) -> WorklistFilters:
    """Identity number, minimum age in days, opened from / until (JJ/MM/AAAA, inclusive)."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    identity, older = typed.get("identity", "").strip(), typed.get("older", "").strip()
    if identity:
        if identity.isdigit() and 0 < int(identity) < 2**62:
            values["identity_id"] = int(identity)
        else:
            errors["identity"] = words("wl_bad_number")
    bounds: list[datetime] = []
    if older:
        if older.isdigit() and int(older) < 100_000:
            bounds.append(now - timedelta(days=int(older)))
        else:
            errors["older"] = words("wl_bad_number")
    for name in ("from", "to"):
        text = typed.get(name, "").strip()
        if not text:
            continue
        day = _french_day(text)
        if day is None:
            errors[name] = words("wl_bad_date")
            continue
        start = datetime.combine(day, time.min).astimezone()  # the day as the pages show dates
        if name == "from":
            values["opened_from"] = start
        else:
            bounds.append(start + timedelta(days=1))
    if bounds:
        values["opened_before"] = min(bounds)
    kept = {k: v.strip() for k, v in typed.items() if v.strip()}
    return WorklistFilters(values, errors, urlencode(kept))


def _french_day(text: str) -> date | None:
    match = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", text)
    try:
        if match:
            return date(int(match[3]), int(match[2]), int(match[1]))
        return date.fromisoformat(text)
    except ValueError:
        return None
