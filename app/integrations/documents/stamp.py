"""Prepend the cover page to a PDF as an incremental update: the original bytes stay untouched.

The output is the original file, byte for byte, followed by an update section (ISO 32000-1
§7.5.6): the cover page's objects, a new version of the page tree root listing the cover first,
and a cross-reference section of the same kind as the original's (table or stream) pointing back
to it with /Prev. Nothing is re-rendered, the /Info metadata and /ID are carried over, and the
byte ranges covered by existing signatures still hash the same.

Optionally the INS block is also placed on the document's own first page: that page gets a new
version whose /Contents wraps the original streams (kept as they are) between q/Q and appends the
block as a Form XObject. This is refused on a signed document (its first page would change).
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterator
from typing import cast

from pypdf import PdfReader
from pypdf.generic import (
    ArrayObject,
    DictionaryObject,
    FloatObject,
    IndirectObject,
    NameObject,
    NumberObject,
    PdfObject,
    StreamObject,
)

from app.domain.cover_page import DocumentRejected, StampedDocument
from app.integrations.documents.pdfinput import OpenedPdf, is_signed, startxref

BLOCK_NAME = "/IdentitoINS"


class _Update:
    """Objects of one incremental update section, numbered from the original's /Size."""

    def __init__(self, opened: OpenedPdf) -> None:
        self.opened = opened
        self.next_id = _first_free_number(opened.reader)
        self.objects: dict[tuple[int, int], bytes] = {}

    def reserve(self) -> IndirectObject:
        ref = IndirectObject(self.next_id, 0, None)
        self.next_id += 1
        return ref

    def put(self, ref: IndirectObject, obj: PdfObject) -> None:
        self.objects[(ref.idnum, ref.generation)] = serialise(obj)

    def import_graph(
        self, obj: PdfObject, source: PdfReader, skip: frozenset[str] = frozenset()
    ) -> PdfObject:
        """Copy an object graph from another PDF, giving each indirect object a new number here."""
        mapping: dict[int, IndirectObject] = {}

        def copy(value: PdfObject) -> PdfObject:
            if isinstance(value, IndirectObject):
                if value.idnum not in mapping:
                    mapping[value.idnum] = self.reserve()
                    self.put(mapping[value.idnum], copy(cast(PdfObject, source.get_object(value))))
                return mapping[value.idnum]
            if isinstance(value, StreamObject):
                new_stream = _RawStream(value._data)  # the encoded bytes, filters kept
                for key, item in value.items():
                    if key != "/Length":
                        new_stream[NameObject(key)] = copy(item)
                return new_stream
            if isinstance(value, DictionaryObject):
                return DictionaryObject({NameObject(k): copy(v) for k, v in value.items()})
            if isinstance(value, ArrayObject):
                return ArrayObject(copy(v) for v in value)
            return value

        if isinstance(obj, DictionaryObject) and not isinstance(obj, StreamObject) and skip:
            return DictionaryObject({NameObject(k): copy(v) for k, v in obj.items() if k not in skip})
        return copy(obj)


MAX_OBJECT_NUMBER = 8_388_607  # ISO 32000-1 Annex C


def _first_free_number(reader: PdfReader) -> int:
    """Above both the trailer's /Size and every object number actually in the file (a lying /Size)."""
    size = reader.trailer.get("/Size", 0)
    used = [idnum for table in reader.xref.values() for idnum in table]
    used += list(reader.xref_objStm)
    first: int = max([int(cast(int, size)), *(int(n) + 1 for n in used)])
    if first > MAX_OBJECT_NUMBER:
        raise DocumentRejected(reason="broken PDF (object numbers out of range)")
    return first


class _RawStream(DictionaryObject):
    """A stream written with its already-encoded data."""

    def __init__(self, data: bytes) -> None:
        super().__init__()
        self.data = data


def serialise(obj: PdfObject) -> bytes:
    """The PDF syntax of a direct object (streams with their raw data)."""
    out = io.BytesIO()
    if isinstance(obj, _RawStream):
        head = DictionaryObject(obj)
        head[NameObject("/Length")] = NumberObject(len(obj.data))
        head.write_to_stream(out)
        out.write(b"\nstream\n" + obj.data + b"\nendstream")
    else:
        obj.write_to_stream(out)
    return out.getvalue()


def prepend_cover(opened: OpenedPdf, cover_pdf: bytes, block_pdf: bytes | None = None) -> StampedDocument:
    """Original bytes + an update section adding the cover page (and the first-page block if asked)."""
    update = _Update(opened)
    cover_reader = PdfReader(io.BytesIO(cover_pdf))
    cover_ref = update.reserve()
    cover_page = update.import_graph(cover_reader.pages[0], cover_reader, frozenset({"/Parent"}))
    assert isinstance(cover_page, DictionaryObject)
    cover_page[NameObject("/Parent")] = opened.pages_ref
    update.put(cover_ref, cover_page)
    tree = DictionaryObject(cast(DictionaryObject, opened.pages_ref.get_object()))
    tree[NameObject("/Kids")] = ArrayObject([cover_ref, *cast(ArrayObject, tree["/Kids"])])
    tree[NameObject("/Count")] = NumberObject(opened.page_count + 1)
    update.put(opened.pages_ref, tree)
    signed = is_signed(opened)
    stamped = False
    if block_pdf is not None and not signed:
        _stamp_first_page(update, block_pdf)
        stamped = True
    return StampedDocument(_write(update), stamped, signed)


def _stamp_first_page(update: _Update, block_pdf: bytes) -> None:
    """New version of page 1: q + original contents + Q + the INS block drawn as a Form XObject."""
    page_ref = update.opened.first_page_ref
    page = update.opened.reader.get_object(page_ref)
    assert isinstance(page, DictionaryObject)
    form_ref, block_box = _block_form(update, block_pdf)
    new_page = DictionaryObject(page)
    resources, name = _resources_with(page, form_ref)
    new_page[NameObject("/Resources")] = resources
    for key in ("/MediaBox", "/CropBox", "/Rotate"):
        inherited = _inherited(page, key)
        if inherited is not None:
            new_page[NameObject(key)] = inherited
    before, after = update.reserve(), update.reserve()
    update.put(before, _RawStream(b"q\n"))
    update.put(after, _RawStream(b"\nQ\n" + _placement(new_page, block_box, name) + b"\n"))
    original = page.raw_get("/Contents") if "/Contents" in page else ArrayObject()
    if isinstance(original, IndirectObject) and isinstance(original.get_object(), ArrayObject):
        original = original.get_object()  # an indirect array of streams
    originals = list(original) if isinstance(original, ArrayObject) else [original]
    new_page[NameObject("/Contents")] = ArrayObject([before, *originals, after])
    update.put(page_ref, new_page)


def _block_form(update: _Update, block_pdf: bytes) -> tuple[IndirectObject, ArrayObject]:
    """The one-page block PDF turned into a Form XObject of this update."""
    block_reader = PdfReader(io.BytesIO(block_pdf))
    block_page = block_reader.pages[0]
    box = ArrayObject(FloatObject(float(v)) for v in block_page.mediabox)
    form_ref = update.reserve()
    form = _RawStream(zlib.compress(block_page.get_contents().get_data()))  # type: ignore[union-attr]
    form.update(
        {
            NameObject("/Type"): NameObject("/XObject"),
            NameObject("/Subtype"): NameObject("/Form"),
            NameObject("/Filter"): NameObject("/FlateDecode"),
            NameObject("/BBox"): box,
            NameObject("/Resources"): update.import_graph(block_page.raw_get("/Resources"), block_reader),
        }
    )
    update.put(form_ref, form)
    return form_ref, box


def _resources_with(page: DictionaryObject, form_ref: IndirectObject) -> tuple[DictionaryObject, str]:
    """A copy of the page's (possibly inherited) resources naming the block under an unused name."""
    inherited = _inherited(page, "/Resources")
    resources = DictionaryObject(cast(DictionaryObject, inherited.get_object()) if inherited else {})
    xobjects = resources.get("/XObject")
    xobjects = DictionaryObject(xobjects.get_object() if xobjects is not None else {})
    name, counter = BLOCK_NAME, 1
    while name in xobjects:  # stamped before: keep the earlier block's name bound to its form
        counter += 1
        name = f"{BLOCK_NAME}{counter}"
    xobjects[NameObject(name)] = form_ref
    resources[NameObject("/XObject")] = xobjects
    return resources, name


def _inherited(page: DictionaryObject, key: str) -> PdfObject | None:
    """An inheritable page attribute, looked up through the /Parent chain (ISO 32000-1 §7.7.3.4)."""
    node: DictionaryObject | None = page
    for _ in range(64):
        if node is None:
            return None
        if key in node:
            return cast(PdfObject, node.raw_get(key))
        parent = node.get("/Parent")
        node = parent.get_object() if parent is not None else None
    return None


def _placement(page: DictionaryObject, block_box: ArrayObject, name: str) -> bytes:
    """Draw the block upright in the top-right corner of the page as displayed (/Rotate honoured)."""
    box = [float(v.get_object()) for v in cast(ArrayObject, page.get("/CropBox") or page["/MediaBox"])]
    x0, y0, x1, y1 = min(box[0], box[2]), min(box[1], box[3]), max(box[0], box[2]), max(box[1], box[3])
    width, height = float(block_box[2]), float(block_box[3])
    margin = 14.0
    rotate = int(page.get("/Rotate", 0)) % 360
    a, b = width + margin, height + margin
    corner = {0: (x1, y1), 90: (x0, y1), 180: (x0, y0), 270: (x1, y0)}.get(rotate, (x1, y1))
    cos, sin = {0: (1, 0), 90: (0, 1), 180: (-1, 0), 270: (0, -1)}.get(rotate, (1, 0))
    tx = corner[0] - (cos * a - sin * b)
    ty = corner[1] - (sin * a + cos * b)
    return f"q {cos} {sin} {-sin} {cos} {tx:.3f} {ty:.3f} cm {name} Do Q".encode()


def _write(update: _Update) -> bytes:
    """Original + new objects + a cross-reference section of the original's kind + trailer."""
    data = update.opened.data
    out = io.BytesIO()
    out.write(data)
    if not data.endswith((b"\n", b"\r")):
        out.write(b"\n")
    offsets: dict[tuple[int, int], int] = {}
    for (idnum, generation), body in sorted(update.objects.items()):
        offsets[(idnum, generation)] = out.tell()
        out.write(f"{idnum} {generation} obj\n".encode() + body + b"\nendobj\n")
    trailer = update.opened.reader.trailer
    previous = startxref(data)
    extra = {key: trailer.raw_get(key) for key in ("/Root", "/Info", "/ID") if key in trailer}
    if data[previous : previous + 4] == b"xref":
        _write_table(out, offsets, update.next_id, previous, extra)
    else:
        _write_stream(out, offsets, update.reserve(), previous, extra)
    return out.getvalue()


def _sections(ids: list[int]) -> Iterator[tuple[int, list[int]]]:
    """Contiguous runs of object numbers."""
    run: list[int] = []
    for idnum in sorted(ids):
        if run and idnum != run[-1] + 1:
            yield run[0], run
            run = []
        run.append(idnum)
    if run:
        yield run[0], run


def _write_table(
    out: io.BytesIO,
    offsets: dict[tuple[int, int], int],
    size: int,
    previous: int,
    extra: dict[str, PdfObject],
) -> None:
    position = out.tell()
    generations = {idnum: gen for idnum, gen in offsets}
    lines = [b"xref\n"]
    for first, run in _sections(list(generations)):
        lines.append(f"{first} {len(run)}\n".encode())
        lines.extend(f"{offsets[(i, generations[i])]:010d} {generations[i]:05d} n\r\n".encode() for i in run)
    out.write(b"".join(lines))
    trailer = DictionaryObject({NameObject(k): v for k, v in extra.items()})
    trailer[NameObject("/Size")] = NumberObject(size)
    trailer[NameObject("/Prev")] = NumberObject(previous)
    out.write(b"trailer\n" + serialise(trailer) + f"\nstartxref\n{position}\n%%EOF\n".encode())


def _write_stream(
    out: io.BytesIO,
    offsets: dict[tuple[int, int], int],
    ref: IndirectObject,
    previous: int,
    extra: dict[str, PdfObject],
) -> None:
    position = out.tell()
    offsets = {**offsets, (ref.idnum, 0): position}
    generations = {idnum: gen for idnum, gen in offsets}
    index: list[int] = []
    rows = b""
    for first, run in _sections(list(generations)):
        index += [first, len(run)]
        rows += b"".join(
            b"\x01" + offsets[(i, generations[i])].to_bytes(8, "big") + generations[i].to_bytes(2, "big")
            for i in run
        )
    stream = _RawStream(zlib.compress(rows))
    stream.update({NameObject(k): v for k, v in extra.items()})
    stream.update(
        {
            NameObject("/Type"): NameObject("/XRef"),
            NameObject("/Size"): NumberObject(ref.idnum + 1),
            NameObject("/Prev"): NumberObject(previous),
            NameObject("/Index"): ArrayObject(NumberObject(n) for n in index),
            NameObject("/W"): ArrayObject(NumberObject(n) for n in (1, 8, 2)),
            NameObject("/Filter"): NameObject("/FlateDecode"),
        }
    )
    out.write(f"{ref.idnum} 0 obj\n".encode() + serialise(stream) + b"\nendobj\n")
    out.write(f"startxref\n{position}\n%%EOF\n".encode())
