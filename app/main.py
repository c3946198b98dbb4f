"""Composition root: builds settings, engine, service context, token verifier and the FastAPI app."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from app import __version__
from app.api.auth import TokenVerifier
from app.api.errors import install_error_handlers
from app.api.metrics import Metrics, MetricsMiddleware
from app.api.routers import campaigns, documents, hl7, identities, insi, qualification, system, worklists
from app.config import Settings
from app.db.engine import make_engine
from app.db.migrations import check_schema
from app.db.tables import IdentityRow
from app.domain.insi import InsiGateway
from app.services.context import ChangeSink, ServiceContext
from app.services.documents import DocumentTools
from app.services.insi import journal_observer
from app.services.outbox import OutboxSink

log = logging.getLogger("identito")


def build_context(settings: Settings, engine: Engine | None = None,
                  sinks: list[ChangeSink] | None = None) -> ServiceContext:
    """The service context every use case receives."""
    return ServiceContext(
        engine=engine or make_engine(settings.database_url),
        high_trust_documents=settings.high_trust_documents,
        birth_place_codes=settings.birth_place_codes,
        # The HL7 outbox hears every identity change, in the change's own transaction.
        sinks=list(sinks) if sinks is not None else [OutboxSink()],
        proposal_ttl_seconds=settings.qualification.proposal_ttl_seconds,
    )


def _identity_counts(engine: Engine, ttl: float = 15.0):  # type: ignore[no-untyped-def]
    cache: dict[str, object] = {"at": 0.0, "lines": []}

    def collect() -> list[str]:
        if time.monotonic() - float(cache["at"]) > ttl:  # type: ignore[arg-type]
            with engine.connect() as connection:
                rows = connection.execute(
                    select(IdentityRow.status, func.count()).group_by(IdentityRow.status)
                ).all()
            lines = ["# TYPE identito_identities gauge"]
            lines += [f'identito_identities{{status="{status}"}} {count}' for status, count in rows]
            cache.update(at=time.monotonic(), lines=lines)
        return list(cache["lines"])  # type: ignore[call-overload]

    return collect


def build_insi_gateway(settings: Settings, ctx: ServiceContext) -> InsiGateway:
    """The INSi client, credentials checked now (refuse to start rather than fail at the first call)."""
    from app.integrations.insi.client import InsiClient
    from app.integrations.insi.wiring import build_credentials

    return InsiClient(settings.insi, settings.var_dir, build_credentials(settings.insi),
                      observer=journal_observer(ctx))


def birth_place_names(settings: Settings) -> dict[str, str]:
    """Commune / country names of the configured INSEE code list ("code;name" lines), when given."""
    if settings.birth_place_codes_file is None:
        return {}
    names = {}
    for line in settings.birth_place_codes_file.read_text(encoding="utf-8").splitlines():
        code, _, name = line.strip().partition(";")
        if code and name.strip():
            names[code.strip().upper()] = name.strip().split(";")[0]
    return names


def build_document_tools(settings: Settings) -> DocumentTools:
    """The document renderer (DataMatrix, cover page, stamping, scanning) and its settings."""
    from app.integrations.documents.renderer import DocumentRenderer

    return DocumentTools(
        renderer=DocumentRenderer(settings.documents),
        establishment_name=settings.establishment_name,
        max_upload_bytes=settings.documents.max_upload_bytes,
        birth_place_names=birth_place_names(settings),
    )


def create_app(settings: Settings | None = None, *, ctx: ServiceContext | None = None,
               check_schema_on_start: bool = True, insi_gateway: InsiGateway | None = None) -> FastAPI:
    """Build the API application."""
    settings = settings or Settings()
    ctx = ctx or build_context(settings)
    gateway = insi_gateway or ctx.insi_gateway or build_insi_gateway(settings, ctx)
    ctx.insi_gateway = gateway

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if check_schema_on_start:
            check_schema(ctx.engine)
        yield
        close = getattr(gateway, "close", None)
        if close is not None:
            close()
        ctx.engine.dispose()

    app = FastAPI(
        title="Identito",
        version=__version__,
        description="Identity repository and INS qualification service (RNIV, INSi, HL7 PAM FR).",
        lifespan=lifespan,
    )
    metrics = Metrics()
    metrics.collectors.append(_identity_counts(ctx.engine))
    app.state.settings = settings
    app.state.ctx = ctx
    app.state.verifier = TokenVerifier(settings.auth)
    app.state.metrics = metrics
    app.state.documents = build_document_tools(settings)
    install_error_handlers(app)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.include_router(system.router)
    app.include_router(identities.router)
    app.include_router(qualification.router)
    app.include_router(worklists.router)
    app.include_router(campaigns.router)
    app.include_router(insi.router)
    app.include_router(documents.router)
    app.include_router(hl7.router)
    # HL7 integration: quarantine re-runs go through the inbound pipeline; queue gauges in /metrics.
    from app.workers.hl7_wiring import outbox_metrics, rerun_processor

    app.state.hl7_processor = rerun_processor(ctx, settings)
    metrics.collectors.append(outbox_metrics(ctx))
    return app
