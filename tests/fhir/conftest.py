"""Fixtures of the FHIR tests: the seeded population behind a live server, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from app.config import Settings
from app.main import create_app
from app.services.context import ServiceContext
from tests.conftest import auth
from tests.fhir.live import FhirClient, serve
from tests.fhir.support import Population, seed


@dataclass
class Live:
    """The live server's base URL, the population, and a client per role."""

    base: str
    people: Population
    settings: Settings

    def client(self, *roles: str) -> FhirClient:
        return FhirClient(self.base, auth(self.settings, *roles))


@pytest.fixture
def live(settings: Settings, ctx: ServiceContext) -> Iterator[Live]:
    """The seeded population served over a real socket."""
    people = seed(ctx)
    with serve(create_app(settings, ctx=ctx)) as base:
        yield Live(base, people, settings)


@pytest.fixture
def desk(live: Live) -> FhirClient:
    """A client with the admission role."""
    return live.client("admission")
