"""Privacy guard over the whole test run: no trait and no matricule INS in any log line.

Identito logs ids, never a patient's traits or matricule (architecture convention 10). This plugin
keeps every log line the test run produces in this process (Identito's loggers from DEBUG, every
other logger from WARNING), and every identity the tests stored: each test database is read when
its context closes (birth and used names, first names, matricules, including those of merged
identities). At the end of the run, a log line holding one of those values (a whole word of at
least four letters, or a matricule) fails the run, naming the value and the line.

Only the part of a line that can carry data is searched: the values a message interpolates
(`log.info("... %s", value)`), a message without arguments as a whole (it may be an f-string), and
the messages of the exceptions it carries. The message's own template and a traceback's file paths
and source lines are code, not data: a surname that is also an English word ("PAGES", "MARCH") in
them is not a leak. In Identito's own lines (loggers `identito.*` and `app.*`) a name is found in
any case ("dupont"); in other libraries' lines only as Identito stores it, in capitals ("DUPONT"), as
a library would print a value it was given (an SQL parameter): pyHanko's "'.Root.Pages'" is a PDF
path, not the surname PAGES.

Not covered: the logs of servers and workers the tests start in other processes (their output is
not captured by this process), and values that never reached a database (a request refused before
it was stored).
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Iterable, Mapping
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

# Words that are field vocabulary as well as possible test names: a log line may say them.
_VOCABULARY = frozenset({"PROV", "RECUP", "VALI", "QUAL", "DOUT", "FICT", "HOMA", "INSI", "TEST", "DEMO"})


def _exception_messages(error: BaseException | None) -> str:
    """The messages of an exception and of the exceptions it was raised from (no code, no paths)."""
    parts: list[str] = []
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        parts.extend(traceback.format_exception_only(type(error), error))
        error = error.__cause__ or error.__context__
    return "".join(parts)


def data_text(record: logging.LogRecord) -> str:
    """The part of a log record that can carry data: interpolated values, or an argument-less message."""
    args = record.args
    if args:
        values = args.values() if isinstance(args, Mapping) else args if isinstance(args, tuple) else (args,)
        text_part = " ".join(str(value) for value in values)
    else:
        text_part = str(record.msg)
    if record.exc_info and record.exc_info[1] is not None:
        text_part += "\n" + _exception_messages(record.exc_info[1])
    return text_part


def own_logger(name: str) -> bool:
    """Whether a logger is Identito's own (its names are searched in any case there)."""
    return name in ("identito", "app") or name.startswith(("identito.", "app."))


class _Collector(logging.Handler):
    """Keeps each distinct formatted log line (with its exception text) and the part of it data can be in.

    `lines` maps a line to (data part, whether a name is searched there in any case).
    """

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: dict[str, tuple[str, bool]] = {}

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = f"{record.name}: {record.getMessage()}"
            if record.exc_info:
                line += "\n" + logging.Formatter().formatException(record.exc_info)
            data = data_text(record)
            known = self.lines.get(line)
            if known is not None and known[0] != data:
                data = known[0] + "\n" + data
            self.lines[line] = (data, own_logger(record.name))
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


def leaks(
    lines: Iterable[str] | Mapping[str, tuple[str, bool]], names: set[str], matricules: set[str]
) -> list[tuple[str, str]]:
    """(value, line) for each log line whose data part holds a stored name (whole word) or matricule.

    `lines` maps each line to (its data part, see `data_text`; whether names are searched there in
    any case); a plain line is searched whole, in any case.
    """
    words = sorted(names - _VOCABULARY, key=len, reverse=True)
    found: list[tuple[str, str]] = []
    name_pattern = re.compile(r"\b(" + "|".join(map(re.escape, words)) + r")\b") if words else None
    parts = lines if isinstance(lines, Mapping) else {line: (line, True) for line in lines}
    for line, (data, any_case) in parts.items():
        hit: Any = name_pattern.search(data.upper() if any_case else data) if name_pattern else None
        if hit:
            found.append((hit.group(1), line))
            continue
        matricule = next((m for m in matricules if m in data), None)
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
