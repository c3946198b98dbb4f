"""FHIR JSON bodies are the compact UTF-8 JSON of the resource, byte for byte what
``json.dumps(resource, ensure_ascii=False, separators=(",", ":"))`` writes (the serialiser changed
for speed; clients and signatures over stored responses see the same bytes)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from app.api.fhir.render import JSON_TYPE, fhir_response

TEXT = st.text(st.characters(exclude_categories=("Cs",)))  # any character a str can encode in UTF-8
SCORES = st.integers(-20_000, 20_000).map(lambda n: round(n / 10_000, 4))  # $match scores: 4 decimals
LEAVES = st.none() | st.booleans() | st.integers(-(2**63), 2**63) | SCORES | TEXT
VALUES = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(TEXT, inner, max_size=4), max_leaves=20)


def _expected(resource: dict[str, Any]) -> bytes:
    return json.dumps(resource, ensure_ascii=False, separators=(",", ":")).encode()


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(TEXT, VALUES, max_size=6))
def test_json_body_is_the_compact_utf8_json_of_the_resource(extra: dict[str, Any]) -> None:
    resource = {"resourceType": "Bundle", **extra}
    response = fhir_response(resource, "json")
    assert response.body == _expected(resource)
    assert response.media_type == JSON_TYPE + "; charset=utf-8"


def test_names_with_accents_quotes_controls_and_emoji_are_written_as_before() -> None:
    resource = {"resourceType": "Patient", "name": [{"family": "D'ARTAGNAN-LÉA \"Zoë\" \\ \t\n\x00\x1f\x7f",
                                                   "given": ["ÅSA", "\u2028\u2029", "😀", "/"]}],
                "score": 0.0001, "total": 0, "active": False, "link": None}
    assert fhir_response(resource, "json").body == _expected(resource)
