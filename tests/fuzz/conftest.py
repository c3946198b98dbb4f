"""Fixtures shared by the schema-fuzzing modules (each module starts its own ``fuzz_server``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from tests.e2e.conftest import LiveServer
from tests.fuzz.support import tokens as fuzz_tokens


@pytest.fixture(scope="module")
def tokens(fuzz_server: LiveServer) -> dict[str, str]:
    """A development token of each role (once the module's server, which reads the same secret, is up)."""
    return fuzz_tokens()


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s
