"""Coupon QR codes: the SVG carries exactly segno's symbol of the opaque redemption URL."""

from __future__ import annotations

import base64
import re
import struct
import xml.etree.ElementTree as ET

import pytest
import segno

from store_server.engagement.coupons import new_code, normalise_code
from store_server.engagement.qr import (
    ERROR_LEVEL,
    QUIET_ZONE_MODULES,
    coupon_qr,
    coupon_qr_png_data_uri,
    coupon_qr_svg,
    redemption_url,
)

BASE = "https://store.example"
CODE = "8F3K2M9QXA"


def svg_modules(svg: str) -> list[list[bool]]:
    """Dark modules of a segno SVG at scale 1, read back from its path's move/line commands."""
    root = ET.fromstring(svg)  # noqa: S314 - our own output, not untrusted input
    size = int(root.attrib["width"])
    assert int(root.attrib["height"]) == size
    path = next(e for e in root.iter() if e.tag.endswith("path"))
    grid = [[False] * size for _ in range(size)]
    x = y = 0.0
    for command, a, b in re.findall(r"([Mmh])(-?[\d.]+)(?: (-?[\d.]+))?", path.attrib["d"]):
        if command == "M":
            x, y = float(a), float(b)
        elif command == "m":
            x, y = x + float(a), y + float(b)
        else:  # h: a horizontal run of dark modules on row floor(y)
            for column in range(int(x), int(x + float(a))):
                grid[int(y)][column] = True
            x += float(a)
    return grid


def padded(matrix: tuple[bytearray, ...] | list[bytearray], border: int) -> list[list[bool]]:
    width = len(matrix[0]) + 2 * border
    blank = [[False] * width for _ in range(border)]
    rows = [[False] * border + [bool(v) for v in row] + [False] * border for row in matrix]
    return blank + rows + [list(r) for r in blank]


def test_url_is_opaque_and_round_trips_through_the_till() -> None:
    code = new_code()
    url = redemption_url(BASE, code)
    assert url == f"{BASE}/r/{code}"
    assert normalise_code(url) == code  # what the till does with a scanned code
    assert redemption_url(BASE + "/", code) == url


def test_svg_embeds_exactly_segnos_symbol_of_the_url() -> None:
    svg = coupon_qr_svg(BASE, CODE, scale=1)
    expected = segno.make_qr(f"{BASE}/r/{CODE}", error=ERROR_LEVEL, boost_error=False)
    assert svg_modules(svg) == padded(expected.matrix, QUIET_ZONE_MODULES)
    other = segno.make_qr(f"{BASE}/r/8F3K2M9QXB", error=ERROR_LEVEL, boost_error=False)
    assert svg_modules(svg) != padded(other.matrix, QUIET_ZONE_MODULES)  # the check can fail


def test_symbol_is_small_and_robust() -> None:
    qr = coupon_qr(BASE, CODE)
    assert qr.error == "M"
    assert qr.designator == "3-M"  # 29 x 29 modules: easy for any till scanner


def test_png_data_uri_is_a_png_of_the_scaled_symbol() -> None:
    uri = coupon_qr_png_data_uri(BASE, CODE, scale=2)
    assert uri.startswith("data:image/png;base64,")
    png = base64.b64decode(uri.split(",", 1)[1])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])  # IHDR
    assert width == height == (29 + 2 * QUIET_ZONE_MODULES) * 2


@pytest.mark.parametrize(
    "code",
    [
        "maria@shopper.example",  # an e-mail address
        "+14155550123",  # a phone number
        "MARIA",  # a name, or anything not a generated code
        "8f3k2m9qxa",  # lower case is not what the generator makes
        "8F3K2M9QXI",  # I is not in the alphabet
        "8F3K2M9QXA/extra",
    ],
)
def test_only_an_opaque_code_goes_into_the_url(code: str) -> None:
    with pytest.raises(ValueError, match="coupon code"):
        redemption_url(BASE, code)


@pytest.mark.parametrize(
    "base",
    [
        "store.example",
        "ftp://store.example",
        "https://store.example/?shopper=42",
        "https://store.example/#maria",
        "https://maria:pw@store.example",
    ],
)
def test_base_url_carries_nothing_but_a_location(base: str) -> None:
    with pytest.raises(ValueError, match="base_url"):
        redemption_url(base, CODE)
