"""ER7 (pipe-and-hat) encoding helpers: character sets, escaping, and a regular field tree.

python-hl7 splits the message; its tree is irregular (a field without separators is a plain
string), so ``field_tree`` turns any field into repetitions -> components -> subcomponents of
unescaped strings. The HL7 null ``""`` is kept verbatim: it means "delete this value".
"""

from __future__ import annotations

from dataclasses import dataclass

import hl7
from hl7.util import unescape

from app.integrations.hl7.errors import Hl7FormatError

UTF8 = "UNICODE UTF-8"
LATIN1 = "8859/1"
HL7_NULL = '""'
# MSH-18 label -> Python codec. An empty MSH-18 means the PAM FR 2.11 default, UTF-8.
CODECS: dict[str, str] = {UTF8: "utf-8", "UTF-8": "utf-8", LATIN1: "latin-1", "ASCII": "ascii", "": "utf-8"}
_ESCAPES = (("\\", "\\E\\"), ("|", "\\F\\"), ("^", "\\S\\"), ("&", "\\T\\"), ("~", "\\R\\"))

Tree = list[list[list[str]]]


def codec_of(charset: str) -> str:
    """Python codec for an MSH-18 value; unsupported sets raise an HL7 format error."""
    codec = CODECS.get(charset.strip().upper())
    if codec is None:
        raise Hl7FormatError("hl7-charset-unsupported", field="MSH-18", charset=charset[:30])
    return codec


def read_charset(raw: bytes) -> str:
    """MSH-18 of a raw message, read before decoding (MSH is plain ASCII)."""
    first = raw.lstrip(b"\x0b\r\n ").split(b"\r", 1)[0].split(b"\n", 1)[0]
    if not first.startswith(b"MSH") or len(first) < 8:
        raise Hl7FormatError("hl7-not-hl7", field="MSH", hl7_code="100")
    separator = first[3:4]
    fields = first.split(separator)
    return fields[17].decode("latin-1").strip() if len(fields) > 17 else ""


def decode(raw: bytes) -> tuple[str, str]:
    """Decode a raw message per its MSH-18; returns (text, MSH-18 label)."""
    charset = read_charset(raw)
    codec = codec_of(charset)
    try:
        text = raw.decode(codec)
    except UnicodeDecodeError:
        raise Hl7FormatError("hl7-charset-mismatch", field="MSH-18", charset=charset or UTF8) from None
    return text.replace("\r\n", "\r").replace("\n", "\r").strip("\x0b\x1c\r "), charset or UTF8


def encode(text: str, charset: str) -> bytes:
    """Encode an outbound message in the subscriber's character set (unmappable -> '?')."""
    return text.encode(codec_of(charset), errors="replace")


def escape(value: str) -> str:
    """Escape HL7 delimiters in a value (HL7 v2.5 §2.7.4); CR/LF become hex escapes."""
    for char, sequence in _ESCAPES:
        value = value.replace(char, sequence)
    return value.replace("\r", "\\X0D\\").replace("\n", "\\X0A\\")


@dataclass(frozen=True)
class Er7Message:
    """A split message: segment lookup and regular field trees."""

    message: hl7.Message

    @classmethod
    def split(cls, text: str, keep: frozenset[str] | None = None) -> Er7Message:
        """Split decoded text with python-hl7; ``keep``: split only these segments (and MSH).

        A reader that needs a few segments skips splitting the others (PV1, ZBE, OBX, NK1... of
        an ADT message), which is most of the parsing time of a long message.
        """
        if keep is not None:
            text = "\r".join(s for s in text.split("\r") if s[:3] == "MSH" or s[:3] in keep)
        try:
            return cls(hl7.parse(text))
        except Exception as exc:  # python-hl7 raises assorted errors on garbage
            raise Hl7FormatError("hl7-not-hl7", field="MSH", hl7_code="100") from exc

    def segment(self, name: str) -> hl7.Segment | None:
        """First segment with that id, or None."""
        for segment in self.message:
            if str(segment[0]) == name:
                return segment
        return None

    def segment_names(self) -> list[str]:
        """Ids of all segments, in order."""
        return [str(segment[0]) for segment in self.message]

    def tree(self, segment: hl7.Segment | None, number: int) -> Tree:
        """Field ``number`` of a segment as repetitions -> components -> subcomponents."""
        if segment is None or number >= len(segment):
            return []
        field = segment[number]
        if str(segment[0]) == "MSH" and number <= 2:
            return [[[str(field)]]]
        return [self._repetition(rep) for rep in field]

    def _repetition(self, rep: object) -> list[list[str]]:
        if isinstance(rep, str):
            return [[self._unescape(rep)]]
        return [
            [self._unescape(comp)] if isinstance(comp, str) else [self._unescape(s) for s in comp]
            for comp in rep  # type: ignore[attr-defined]
        ]

    def _unescape(self, value: str) -> str:
        return str(unescape(self.message, value)) if value else ""

    def value(self, segment: hl7.Segment | None, number: int, comp: int = 1, sub: int = 1) -> str:
        """One value (first repetition), '' when absent; 1-based component/subcomponent."""
        tree = self.tree(segment, number)
        return pick(tree[0], comp, sub) if tree else ""


def pick(rep: list[list[str]], comp: int, sub: int = 1) -> str:
    """Component ``comp``, subcomponent ``sub`` of one repetition (1-based), '' when absent."""
    if comp > len(rep) or sub > len(rep[comp - 1]):
        return ""
    return rep[comp - 1][sub - 1]
