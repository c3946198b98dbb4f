"""Identitovigilance indicators for the HAS certification file: identities per status and attribute,
and per calendar month (UTC) identities created, INSi outcomes, worklist items opened and closed
(and their age), duplicate pairs found and decided, merges and unmerges, corrections.

The counting is the read model's (app/db/indicators.py); this use case checks the role, picks the
period and lays the counts out as tables (one row per month, zero where nothing happened), the same
tables for the API, the page, its charts and its CSV exports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from app.db.indicators import ATTRIBUTES, CORRECTION_ACTIONS, MonthCount
from app.domain.errors import InvalidTrait
from app.domain.messages import register
from app.domain.roles import Role, require_any
from app.services.context import Actor, ServiceContext

READERS = (Role.IDENTITOVIGILANCE, Role.ADMIN)
STATUSES = ("PROV", "RECUP", "VALI", "QUAL")
INSI_ANSWERS = ("00", "01", "02")
DEFAULT_MONTHS = 12
MAX_MONTHS = 60
_MONTH = re.compile(r"(\d{4})-(\d{2})")

register("indicators-month", "Invalid month {value}: expected YYYY-MM.",
         "Mois invalide {value} : attendu AAAA-MM.")
register("indicators-period",
         "The period must go from an earlier month to a later one, {max} months at most.",
         "La période doit aller d'un mois à un mois postérieur, {max} mois au plus.")

Value = int | float


@dataclass(frozen=True)
class IndicatorTable:
    """One table: a first column (``month``, ``status`` or ``age``) and value columns, one row per
    line; ``monthly`` tables have one row per month of the period."""

    name: str
    first: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, tuple[Value, ...]], ...]
    monthly: bool = True


@dataclass(frozen=True)
class Indicators:
    """The tables of a period (months ``first_month`` to ``last_month`` included)."""

    first_month: str
    last_month: str
    months: tuple[str, ...]
    generated_at: datetime
    tables: tuple[IndicatorTable, ...]

    def table(self, name: str) -> IndicatorTable:
        """A table by its name (KeyError if there is none)."""
        for table in self.tables:
            if table.name == name:
                return table
        raise KeyError(name)


TABLES = ("identities", "identities_created", "insi_outcomes", "worklist", "worklist_age", "duplicates",
          "corrections")


def _parse_month(text: str) -> date:
    match = _MONTH.fullmatch(text.strip())
    if match is None or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1900:
        raise InvalidTrait("indicators-month", field="month", value=text[:10])
    return date(int(match.group(1)), int(match.group(2)), 1)


def _add_months(day: date, n: int) -> date:
    index = day.year * 12 + day.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def _period(today: date, first_month: str | None, last_month: str | None) -> list[date]:
    """The first day of every month of the period (default: the last 12 months, this one included)."""
    last = _parse_month(last_month) if last_month else date(today.year, today.month, 1)
    first = _parse_month(first_month) if first_month else _add_months(last, 1 - DEFAULT_MONTHS)
    count = (last.year - first.year) * 12 + last.month - first.month + 1
    if not 1 <= count <= MAX_MONTHS:
        raise InvalidTrait("indicators-period", field="period", max=MAX_MONTHS)
    return [_add_months(first, i) for i in range(count)]


def _pivot(name: str, months: list[str], counts: list[MonthCount],
           keys: tuple[str, ...] = ()) -> IndicatorTable:
    """Month x key counts as a table: the given keys first, then any other key seen, sorted."""
    columns = tuple(keys) + tuple(sorted({c.key for c in counts} - set(keys)))
    cells = {(c.month, c.key): c.count for c in counts}
    rows = tuple((m, tuple(cells.get((m, k), 0) for k in columns)) for m in months)
    return IndicatorTable(name, "month", columns, rows)


def indicators(ctx: ServiceContext, actor: Actor, first_month: str | None = None,
               last_month: str | None = None) -> Indicators:
    """Every indicator table of a period (identitovigilance, admin)."""
    require_any(actor.roles, *READERS)
    now = ctx.now()
    days = _period(now.date(), first_month, last_month)
    since = datetime(days[0].year, days[0].month, 1, tzinfo=UTC)
    end = _add_months(days[-1], 1)
    until = datetime(end.year, end.month, 1, tzinfo=UTC)
    months = [d.strftime("%Y-%m") for d in days]
    with ctx.reading() as reader:
        model = reader.indicators
        by_status = {s.status: s for s in model.identities_by_status()}
        created = model.identities_created(since, until)
        insi = model.insi_outcomes(since, until)
        opened = model.worklist_opened(since, until)
        closed = model.worklist_closed(since, until)
        ages = model.worklist_open_ages(now)
        found = model.duplicate_pairs_found(since, until)
        decided = model.duplicate_pairs_decided(since, until)
        merges = model.merges(since, until)
        corrections = model.corrections(since, until)
    statuses = STATUSES + tuple(sorted(set(by_status) - set(STATUSES)))
    identities = IndicatorTable("identities", "status", ("total", *ATTRIBUTES), tuple(
        (s, (by_status[s].total, *(by_status[s].attributes[a] for a in ATTRIBUTES)) if s in by_status
         else (0,) * (1 + len(ATTRIBUTES))) for s in statuses), monthly=False)
    opened_n = {m: 0 for m in months}
    for c in opened:
        opened_n[c.month] += c.count
    closed_of = {c.month: c for c in closed}
    worklist = IndicatorTable("worklist", "month", ("opened", "closed", "mean_days_to_close"), tuple(
        (m, (opened_n[m], closed_of[m].count if m in closed_of else 0,
             closed_of[m].mean_days if m in closed_of else 0.0)) for m in months))
    found_n = {m: 0 for m in months}
    for c in found:
        found_n[c.month] += c.count
    duplicates = _pivot("duplicates", months, [MonthCount(m, "found", n) for m, n in found_n.items()]
                        + decided + merges, ("found", "dismissed", "linked", "merged", "unmerged"))
    return Indicators(months[0], months[-1], tuple(months), now, (
        identities,
        _pivot("identities_created", months, created, STATUSES),
        _pivot("insi_outcomes", months, insi, INSI_ANSWERS),
        worklist,
        IndicatorTable("worklist_age", "age", ("open",), tuple((k, (n,)) for k, n in ages.items()),
                       monthly=False),
        duplicates,
        _pivot("corrections", months, corrections, CORRECTION_ACTIONS),
    ))
