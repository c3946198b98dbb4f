"""Composition root: builds settings, engine, service context, token verifier and the FastAPI app."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from app import __version__
from app.api.auth import TokenVerifier
from app.api.errors import install_error_handlers
from app.api.fhir.app import create_fhir_app
from app.api.metrics import Metrics, MetricsMiddleware
from app.api.problems import declare_problems
from app.api.routers import (
    campaigns,
    documents,
    duplicates,
    hl7,
    identities,
    indicators,
    insi,
    links,
    merges,
    mss_messages,
    qualification,
    system,
    worklists,
)
from app.api.security_headers import SecurityHeadersMiddleware
from app.config import Settings
from app.db.migrations import check_schema
from app.domain.insi import InsiGateway
from app.services.context import ServiceContext
from app.web.app import create_web_app
from app.wiring.context import build_context, build_document_tools, build_insi_gateway
from app.wiring.hl7 import rerun_processor
from app.wiring.metrics import duplicate_metrics, identity_counts, name_count_metrics, outbox_metrics
from app.wiring.mss import build_mss_tools, mss_metrics

__all__ = ["build_context", "create_app", "create_served_app"]

log = logging.getLogger("identito")


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
    metrics.collectors.append(identity_counts(ctx))
    app.state.settings = settings
    app.state.ctx = ctx
    app.state.verifier = TokenVerifier(settings.auth)
    metrics.collectors.append(app.state.verifier.failures.render)  # refused tokens (docs/security.md)
    app.state.metrics = metrics
    app.state.documents = build_document_tools(settings)
    app.state.mss = build_mss_tools(settings)
    install_error_handlers(app)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    # Outermost: every response, errors and mounted apps included (docs/security.md).
    app.add_middleware(SecurityHeadersMiddleware, https=settings.public_url.startswith("https://"))
    routers = (system, identities, links, qualification, worklists, duplicates, merges, campaigns, insi,
               indicators, documents, mss_messages, hl7)
    declare_problems(*(module.router for module in routers))  # their problem documents (OpenAPI)
    # FHIR R4 (docs/fhir.md), mounted first: no other route takes a path under /fhir/, and the router
    # tries its routes in order (mounted last, every FHIR request was first tested against all of them).
    app.mount("/fhir", create_fhir_app(settings, ctx, app.state.verifier))
    app.include_router(system.router)
    app.include_router(identities.router)
    app.include_router(links.router)
    app.include_router(qualification.router)
    app.include_router(worklists.router)
    app.include_router(duplicates.router)
    app.include_router(merges.router)
    app.include_router(campaigns.router)
    app.include_router(insi.router)
    app.include_router(indicators.router)
    app.include_router(documents.router)
    app.include_router(mss_messages.router)
    app.include_router(hl7.router)
    # HL7 integration: quarantine re-runs go through the inbound pipeline; queue gauges in /metrics.
    app.state.hl7_processor = rerun_processor(ctx, settings)
    metrics.collectors.append(outbox_metrics(ctx))
    metrics.collectors.append(duplicate_metrics(ctx))
    metrics.collectors.append(name_count_metrics(ctx))
    metrics.collectors.append(mss_metrics(ctx))
    # Browser pages for desks and the cell (docs/web.md); `/` sends a browser there, /docs stays.
    app.mount("/app", create_web_app(settings, ctx, documents=app.state.documents,
                                      hl7_processor=app.state.hl7_processor))
    app.add_api_route("/", lambda: RedirectResponse("/app/", status_code=307), include_in_schema=False)
    return app


def create_served_app() -> FastAPI:
    """The application of a serving process (``identito serve``, each worker): ``create_app``, then
    the start-up objects (modules, routes, schemas, the FHIR resource classes: about 260,000) kept
    out of the cyclic garbage collector, which never frees them anyway. A full collection walked them
    all, the worker stopped 120 to 150 ms, every 1000 to 1500 searches (a FHIR page allocates twice
    what a REST page does: twice as often); frozen, a full collection takes a few ms."""
    app = create_app()
    gc.collect()
    gc.freeze()
    return app
