"""Access logs never carry the query string (it holds search traits)."""

import logging

from app.cli.core import DropQueryString


def test_query_string_is_dropped() -> None:
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5000", "GET", "/identities?birth_name=DUPONT&ins=275126322074974",
                                "1.1", 200), None)
    assert DropQueryString().filter(record)
    assert record.getMessage() == '127.0.0.1:5000 - "GET /identities HTTP/1.1" 200'
