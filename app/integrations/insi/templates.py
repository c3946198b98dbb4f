"""Pre-rendered request envelopes for the calls that carry no signed assertion.

A server-certificate call (INSI-AUTO campaigns, INSI-MANU desks) differs from the previous one of
the same shape only by its values: MessageID, the two context Ids and Temps, and the traits. Once
per shape (operation, emitter, which body fields, how many first names), zeep and the header
builders render the whole envelope with a marker in place of each value; the markers split the
serialized envelope into fixed text. A call then joins that text with its escaped values, which
gives the same bytes as rendering it again (the tests compare the two), for a fraction of the CPU.

Anything else (Security header, Carte Vitale data, nested values, a value lxml would refuse, or a
WSDL under which the markers do not come out verbatim) is rendered in full, as before.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any

from app.domain.insi import InsiOperation

_MARKER = "IDENTITOSLOT{}X"
_MARKER_RE = re.compile(r"IDENTITOSLOT(\d+)X")
# What lxml refuses in text (it would raise), so such a value is rendered in full to fail the same way.
_NOT_XML_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_MAX_SHAPES = 256


@dataclass(frozen=True, slots=True)
class Slots:
    """The per-call header values of one request."""

    message_id: str
    temps: str
    lps_id: str
    bam_id: str

    def values(self) -> list[str]:
        """In field order: the first slots of every template, before the body values."""
        return [self.message_id, self.temps, self.lps_id, self.bam_id]


#: Renders a whole request: (operation, body, emitter, slots) -> the envelope bytes.
Renderer = Callable[[InsiOperation, dict[str, Any], str, Slots], bytes]


def escape_text(value: str) -> str:
    """Text content escaped as lxml serializes it."""
    if "&" in value:
        value = value.replace("&", "&amp;")
    if "<" in value:
        value = value.replace("<", "&lt;")
    if ">" in value:
        value = value.replace(">", "&gt;")
    if "\r" in value:
        value = value.replace("\r", "&#13;")
    return value


@dataclass(frozen=True, slots=True)
class RequestTemplate:
    """Serialized envelope split at its values: ``chunks[0] v chunks[1] v ... chunks[n]``."""

    chunks: tuple[str, ...]
    order: tuple[int, ...]

    def fill(self, values: Sequence[str]) -> bytes:
        """The request with these values (slot order), escaped."""
        parts = [self.chunks[0]]
        for slot, chunk in zip(self.order, self.chunks[1:], strict=True):
            parts.append(escape_text(values[slot]))
            parts.append(chunk)
        return "".join(parts).encode("utf-8")


def _shape(body: dict[str, Any]) -> tuple[tuple[str, int], ...] | None:
    """Field names and list lengths (-1: a single value), or None when a value is not text."""
    shape = []
    for key, value in body.items():
        if isinstance(value, str):
            shape.append((key, -1))
        elif isinstance(value, list) and all(isinstance(item, str) for item in value):
            shape.append((key, len(value)))
        else:
            return None
    return tuple(shape)


def _flat(body: dict[str, Any]) -> list[str]:
    values: list[str] = []
    for value in body.values():
        if isinstance(value, list):
            values.extend(value)
        else:
            values.append(value)
    return values


def _split(rendered: str, slot_count: int, body_slots: range) -> RequestTemplate | None:
    """Cut the rendered markers out; None unless every marker came out verbatim as expected."""
    pieces = _MARKER_RE.split(rendered)
    chunks, order = tuple(pieces[0::2]), tuple(int(n) for n in pieces[1::2])
    if any(slot >= slot_count for slot in order) or set(order) != set(range(slot_count)):
        return None
    if any(order.count(slot) != 1 for slot in body_slots):
        return None
    return RequestTemplate(chunks, order)


class RequestTemplates:
    """One template per request shape, built on first use with the full renderer."""

    def __init__(self, render: Renderer) -> None:
        self._render = render
        self._templates: dict[tuple[Any, ...], RequestTemplate | None] = {}
        self._lock = threading.Lock()

    def request(
        self, operation: InsiOperation, body: dict[str, Any], emitter: str, slots: Slots
    ) -> bytes | None:
        """The request bytes, or None when this call must be rendered in full."""
        shape = _shape(body)
        if shape is None:
            return None
        values = [*slots.values(), *_flat(body)]
        if any(_NOT_XML_TEXT.search(value) for value in values):
            return None
        key = (operation, emitter, shape)
        template = self._templates.get(key, False)
        if template is False:
            template = self._build(operation, body, emitter)
            with self._lock:
                if len(self._templates) < _MAX_SHAPES:
                    self._templates[key] = template
        if template is None:
            return None
        return template.fill(values)  # type: ignore[union-attr]

    def _build(self, operation: InsiOperation, body: dict[str, Any], emitter: str) -> RequestTemplate | None:
        header_count = len(fields(Slots))
        markers = iter(_MARKER.format(n) for n in range(header_count, 10_000))
        marked: dict[str, Any] = {
            key: [next(markers) for _ in value] if isinstance(value, list) else next(markers)
            for key, value in body.items()
        }
        slot_count = header_count + len(_flat(body))
        slots = Slots(*(_MARKER.format(n) for n in range(header_count)))
        try:
            rendered = self._render(operation, marked, emitter, slots).decode("utf-8")
        except Exception:  # noqa: BLE001 - a WSDL that rejects the markers: render every call in full
            return None
        return _split(rendered, slot_count, range(header_count, slot_count))
