"""Build what every process needs: the service context, the INSi gateway, the document tools."""

from __future__ import annotations

import logging
import sys

from sqlalchemy.engine import Engine

from app.config import Settings
from app.db.duplicates import DetectionQueue
from app.db.engine import make_engine
from app.db.outbox import OutboxSink
from app.db.unit_of_work import Database
from app.domain.duplicates import DetectionPolicy
from app.domain.insi import InsiGateway
from app.domain.matching import MatchModel, prior_for
from app.services.context import ChangeSink, ServiceContext
from app.services.documents import DocumentTools
from app.services.insi import journal_observer


def setup_logging(level: str) -> None:
    """Plain logs on stderr: ids only, never patient traits."""
    logging.basicConfig(level=level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")


def build_context(settings: Settings, engine: Engine | None = None,
                  sinks: list[ChangeSink] | None = None) -> ServiceContext:
    """The service context every use case receives."""
    # The HL7 outbox and the duplicate detection queue hear every identity change, in the change's
    # own transaction.
    db = Database(engine or make_engine(settings.database_url),
                  sinks=list(sinks) if sinks is not None else [OutboxSink(), DetectionQueue()])
    return ServiceContext(
        db=db,
        high_trust_documents=settings.high_trust_documents,
        birth_place_codes=settings.birth_place_codes,
        proposal_ttl_seconds=settings.qualification.proposal_ttl_seconds,
        duplicates=detection_policy(settings),
    )


def detection_policy(settings: Settings) -> DetectionPolicy:
    """How duplicates are looked up and scored, from the settings."""
    d = settings.duplicates
    return DetectionPolicy(model=MatchModel(prior_log2_odds=prior_for(d.expected_identities)),
                           block_cap=d.block_cap, candidates=d.candidates, max_loaded=d.max_loaded,
                           pending_limit=d.pending_limit)


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
    from app.domain.labels import label_sheet
    from app.integrations.documents.renderer import DocumentRenderer

    label_sheet(settings.documents.label_layout)  # an unknown default format stops the start
    return DocumentTools(
        renderer=DocumentRenderer(settings.documents),
        establishment_name=settings.establishment_name,
        max_upload_bytes=settings.documents.max_upload_bytes,
        birth_place_names=birth_place_names(settings),
        label_layout=settings.documents.label_layout,
    )
