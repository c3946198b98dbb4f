"""The identitovigilance indicators page (HAS certification file): every table of the period with
its chart (inline SVG drawn here, no script) and its CSV export. The counting is the service's and
its read model's (app/services/indicators.py, app/db/indicators.py); handlers only lay it out.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from markupsafe import Markup

from app.domain.errors import InvalidTrait
from app.services import indicators as indicator_service
from app.services.indicators import Indicators, IndicatorTable
from app.web.campaigns import word_or
from app.web.charts import bar_chart
from app.web.deps import ActorDep, CtxDep, render
from app.web.i18n import Words
from app.web.views import show_date

router = APIRouter()
MonthParam = Annotated[str, Query(alias="from", max_length=7)]
# What each table's chart draws: its count columns (a mean or a detail column stays in the table).
CHARTED = {"identities": ("total",), "worklist": ("opened", "closed")}


@dataclass(frozen=True)
class ShownTable:
    """A table as the page shows it: title, column headings, rows, chart, export address."""

    name: str
    title: str
    headings: tuple[str, ...]
    rows: tuple[tuple[str, tuple[str, ...]], ...]
    chart: Markup
    csv_url: str
    swatches: int  # the first columns drawn in the chart (their headings carry the bar's colour)


def _heading(words: Words, key: str) -> str:
    return word_or(words, f"col_{key}", key)


def _label(words: Words, table: IndicatorTable, label: str) -> str:
    if table.first == "status":
        return f"{label} {words.status(label)}"
    if table.first == "age":
        return word_or(words, f"age_{label}", label)
    return label


def _cell(value: float) -> str:
    return f"{value:.1f}" if isinstance(value, float) else str(value)


def _shown(words: Words, table: IndicatorTable, query: str) -> ShownTable:
    title = words(f"ind_{table.name}")
    charted = CHARTED.get(table.name, table.columns)
    labels = [_label(words, table, label) for label, _ in table.rows]
    series = [(_heading(words, c), [float(values[table.columns.index(c)]) for _, values in table.rows])
              for c in charted]
    chart = bar_chart(f"chart-{table.name}", words("ind_chart", table=title), labels, series)
    headings = (words(f"col_{table.first}"), *(_heading(words, c) for c in table.columns))
    rows = tuple((label, tuple(_cell(v) for v in values))
                 for label, (_, values) in zip(labels, table.rows, strict=True))
    csv_url = f"/app/cell/indicators/{table.name}.csv{query}"
    return ShownTable(table.name, title, headings, rows, chart, csv_url, len(charted))


def _query(report: Indicators) -> str:
    return f"?from={report.first_month}&to={report.last_month}"


@router.get("/cell/indicators", name="indicators")
def indicators_page(request: Request, actor: ActorDep, ctx: CtxDep, from_month: MonthParam = "",
                    to_month: Annotated[str, Query(alias="to", max_length=7)] = "") -> Response:
    """Every indicator of the period (default: the last 12 months), charts and tables."""
    words: Words = request.app.state.words
    error = None
    try:
        report = indicator_service.indicators(ctx, actor, from_month or None, to_month or None)
    except InvalidTrait as exc:
        error = exc.message(words.language)
        report = indicator_service.indicators(ctx, actor)
    query = _query(report)
    return render(request, "indicators.html", status_code=422 if error else 200, report=report, error=error,
                  tables=[_shown(words, t, query) for t in report.tables],
                  form={"from": from_month or report.first_month, "to": to_month or report.last_month},
                  generated=show_date(report.generated_at, words))


@router.get("/cell/indicators/{name}.csv", name="indicators_csv")
def indicators_csv(request: Request, name: str, actor: ActorDep, ctx: CtxDep, from_month: MonthParam = "",
                   to_month: Annotated[str, Query(alias="to", max_length=7)] = "") -> Response:
    """One table as CSV: the first column's label (month ``YYYY-MM``, status or age), then one column per
    count, headed with the page's words (and the stable code in brackets)."""
    words: Words = request.app.state.words
    report = indicator_service.indicators(ctx, actor, from_month or None, to_month or None)
    try:
        table = report.table(name)
    except KeyError:
        return render(request, "error.html", status_code=404, message=words("not_found"), title=None)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([table.first, *(f"{_heading(words, c)} [{c}]" if _heading(words, c) != c else c
                                    for c in table.columns)])
    writer.writerows([label, *(_cell(v) for v in values)] for label, values in table.rows)
    filename = f"indicateurs-{name}-{report.first_month}-{report.last_month}.csv"
    return Response(buffer.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
