"""Privacy guard over the whole test run: no trait and no matricule INS in any log line.

Identito logs ids, never a patient's traits or matricule (architecture convention 10). This plugin
keeps every log line the test run produces in this process (Identito's loggers from DEBUG, every
other logger from WARNING), and every identity the tests stored: each test database is read when
its context closes (birth and used names, first names, matricules, including those of merged
identities). At the end of the run, a log line holding one of those values (a whole word of at
least four letters, or a matricule) fails the run, naming the value and the line.

Not covered: the logs of servers and workers the tests start in other processes (their output is
not captured by this process), and values that never reached a database (a request refused before
it was stored).
"""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

# Words that are field vocabulary as well as possible test names: a log line may say them.
_VOCABULARY = frozenset({"PROV", "RECUP", "VALI", "QUAL", "DOUT", "FICT", "HOMA", "INSI", "TEST", "DEMO"})


class _Collector(logging.Handler):
    """Keeps each distinct formatted log line (with its exception text)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = f"{record.name}: {record.getMessage()}"
            if record.exc_info:
                line += "\n" + logging.Formatter().formatException(record.exc_info)
            self.lines.add(line)
        except Exception:  # noqa: BLE001, S110 - a log line that cannot be formatted carries nothing
            pass


_collector = _Collector()
_names: set[str] = set()
_matricules: set[str] = set()


def remember(engine: Engine) -> None:
    """Read the traits and matricules a test stored (called when its context closes)."""
    try:
        with engine.connect() as connection:
            for row in connection.execute(text("SELECT birth_name, used_name, first_names FROM identity")):
                for value in row:
                    _names.update(w for w in re.split(r"[ \-']+", value or "") if len(w) >= 4)
            _matricules.update(connection.execute(text("SELECT matricule FROM ins")).scalars())
    except Exception:  # noqa: BLE001, S110 - a test that broke its database has nothing more to read
        pass


def start() -> None:
    """Start collecting log lines (at the start of the run)."""
    logging.getLogger().addHandler(_collector)
    identito = logging.getLogger("identito")
    if identito.level == logging.NOTSET or identito.level > logging.DEBUG:
        identito.setLevel(logging.DEBUG)


def leaks(lines: set[str], names: set[str], matricules: set[str]) -> list[tuple[str, str]]:
    """(value, line) for each log line holding a stored name (whole word) or matricule."""
    words = sorted(names - _VOCABULARY, key=len, reverse=True)
    found: list[tuple[str, str]] = []
    name_pattern = re.compile(r"\b(" + "|".join(map(re.escape, words)) + r")\b") if words else None
    for line in lines:
        hit: Any = name_pattern.search(line.upper()) if name_pattern else None
        if hit:
            found.append((hit.group(1), line))
            continue
        matricule = next((m for m in matricules if m in line), None)
        if matricule:
            found.append((matricule, line))
    return found


def finish(session: pytest.Session) -> None:
    """Check the lines collected (at the end of the run); fail the run on a leak."""
    logging.getLogger().removeHandler(_collector)
    found = leaks(_collector.lines, _names, _matricules)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if not found:
        if reporter is not None:
            reporter.write_line(f"privacy guard: {len(_collector.lines)} distinct log lines hold none of the "
                                f"{len(_names)} names and {len(_matricules)} matricules the tests stored")
        return
    lines = [f"PRIVACY: {len(found)} log line(s) hold a trait or a matricule of a test identity:"]
    lines += [f"  {value!r} in: {line[:300]}" for value, line in sorted(found)[:20]]
    for text_line in lines:
        if reporter is not None:
            reporter.write_line(text_line, red=True)
        else:
            print(text_line)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
