"""DataMatrix symbol: build -> render -> decode with independent tools (zxing-cpp, dmtxread)."""

from __future__ import annotations

import io
import re
from datetime import date

import pytest
from PIL import Image

from app.domain.datamatrix import InsPayload, build_payload
from app.domain.ins import OID_NIA, OID_NIR, OID_NIR_DEMO, OID_NIR_TEST, nir_key
from app.domain.traits import Sex
from app.integrations.documents.symbol import encode_symbol, render_png, render_svg
from tests.documents_support import run, zxing_bytes

LONG_NAME = ("ABCDEFGHIJKLMNOPQRSTUVWXYZ-" * 4)[:99] + "Z"
LONG_FIRST = ("JEAN'PIERRE MARIE " * 6)[:99].rstrip() + "E"


def matricule(body: str) -> str:
    return body + f"{nir_key(body):02d}"


CASES = {
    "spec-example": InsPayload(
        "277010115400329", OID_NIR, "SARAH-LOU ANNA", "GARCIA-HAMMADI", Sex.F, date(1977, 1, 21), "01154"
    ),
    "names-at-100-oid-19": InsPayload(
        matricule("1850375123456"), OID_NIR, LONG_FIRST[:100], LONG_NAME, Sex.M, date(1985, 3, 7), "75056"
    ),
    "oid-20-without-s7": InsPayload(
        matricule("2800599123456"), OID_NIR_TEST, "MARIE", "DURAND", Sex.F, date(1980, 5, 9)
    ),
    "oid-20-demo-long-names-no-s7": InsPayload(
        matricule("1990199123456"), OID_NIR_DEMO, LONG_FIRST[:100], LONG_NAME, Sex.M, date(1999, 1, 1)
    ),
    "corsica-2a": InsPayload(
        matricule("297022A020778"), OID_NIR, "ANNA", "CASANOVA", Sex.F, date(1997, 2, 1), "2A004"
    ),
    "corsica-2b": InsPayload(
        matricule("160012B020777"), OID_NIA, "PAUL", "SANTONI", Sex.M, date(1960, 1, 1), "2B033"
    ),
}


@pytest.fixture(params=sorted(CASES))
def payload(request) -> str:
    return build_payload(CASES[request.param])


def test_lengths_of_the_edge_cases():
    assert len(LONG_NAME) == 100 and len(LONG_FIRST[:100]) == 100
    assert CASES["corsica-2a"].matricule == "297022A02077878"
    assert CASES["corsica-2b"].matricule == "160012B02077713"
    assert len(OID_NIR) == 19 and len(OID_NIR_TEST) == 20


def test_png_decodes_to_the_exact_payload_bytes(payload):
    image = Image.open(io.BytesIO(render_png(encode_symbol(payload), module_px=6)))
    assert zxing_bytes(image) == [payload.encode("ascii")]


def test_symbol_is_square_with_a_quiet_zone(payload):
    symbol = encode_symbol(payload)
    image = Image.open(io.BytesIO(render_png(symbol, module_px=4, quiet_modules=2))).convert("L")
    assert image.width == image.height == (symbol.size + 4) * 4
    border = [image.getpixel((x, y)) for x in range(image.width) for y in range(8)]
    assert min(border) == 255
    assert all(row[0] for row in symbol.rows) and all(symbol.rows[-1])  # the L finder pattern


def c40_values(codewords: list[int]) -> list[int]:
    values = []
    for first, second in zip(codewords[0::2], codewords[1::2], strict=False):
        packed = first * 256 + second - 1
        values += [packed // 1600, (packed // 40) % 40, packed % 40]
    return values


def c40_text(values: list[int]) -> str:
    basic = {3: " ", **{4 + i: str(i) for i in range(10)}, **{14 + i: chr(65 + i) for i in range(26)}}
    return "".join(basic.get(v, "?") for v in values)


def test_header_is_encoded_in_c40_according_to_dmtxread(payload, tmp_path):
    path = tmp_path / "symbol.png"
    path.write_bytes(render_png(encode_symbol(payload), module_px=6))
    lines = run("dmtxread", "-c", path).split()
    data = [int(m.group(1)) for m in (re.match(r"d:(\d+)", line) for line in lines) if m]
    assert data[0] == 230  # latch to C40
    header_codewords = data[1:19]  # 26 C40 values need 9 pairs (27 values)
    assert 254 not in header_codewords  # no unlatch before the header is consumed
    assert c40_text(c40_values(header_codewords))[:26] == "IS01" + "0" * 22


def svg_to_image(svg: str, scale: int = 6) -> Image.Image:
    side = int(re.search(r'viewBox="0 0 (\d+) (\d+)"', svg).group(1))
    image = Image.new("L", (side * scale, side * scale), 255)
    for x, y, width in re.findall(r"M(\d+) (\d+)h(\d+)v1h-\d+z", svg):
        x0, y0 = int(x) * scale, int(y) * scale
        image.paste(0, (x0, y0, x0 + int(width) * scale, y0 + scale))
    return image


def test_svg_is_vector_and_decodes(payload):
    svg = render_svg(encode_symbol(payload), width_mm=22)
    assert 'width="22mm"' in svg and "<image" not in svg and "<path" in svg
    assert zxing_bytes(svg_to_image(svg)) == [payload.encode("ascii")]
