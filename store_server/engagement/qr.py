"""QR codes of coupons: an opaque redemption URL `{base_url}/r/{code}`, nothing personal in it."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import segno

from store_server.engagement.coupons import CODE_ALPHABET, CODE_LENGTH

# Level M restores up to 15 % of damaged modules: enough for a scratched phone screen or a
# smudged print at the till, at a smaller symbol than Q or H (ISO/IEC 18004, table 12).
ERROR_LEVEL = "m"
# Four modules of quiet zone is what ISO/IEC 18004 requires around a QR symbol.
QUIET_ZONE_MODULES = 4
DEFAULT_SCALE = 4  # pixels per module: a version-3 symbol is then about 150 px wide
_CODE = re.compile(f"[{CODE_ALPHABET}]{{{CODE_LENGTH}}}")


def redemption_url(base_url: str, code: str) -> str:
    """The URL a coupon's QR code carries; ValueError unless `code` is an opaque coupon code."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("base_url must be an http(s) URL")
    if parts.query or parts.fragment or "@" in parts.netloc:
        raise ValueError("base_url must carry no query, fragment or user info")
    if not _CODE.fullmatch(code):
        raise ValueError(f"not a coupon code: {CODE_LENGTH} characters of {CODE_ALPHABET}")
    return f"{base_url.rstrip('/')}/r/{code}"


def coupon_qr(base_url: str, code: str) -> segno.QRCode:
    """The QR symbol of a coupon's redemption URL."""
    return segno.make_qr(redemption_url(base_url, code), error=ERROR_LEVEL, boost_error=False)


def coupon_qr_svg(base_url: str, code: str, scale: int = DEFAULT_SCALE) -> str:
    """The QR code as an inline SVG element for a page."""
    return str(
        coupon_qr(base_url, code).svg_inline(
            scale=scale, border=QUIET_ZONE_MODULES, title="Coupon code", omitsize=False
        )
    )


def coupon_qr_png_data_uri(base_url: str, code: str, scale: int = DEFAULT_SCALE) -> str:
    """The QR code as a PNG `data:` URI (for e-mail, where inline SVG is not shown)."""
    return str(coupon_qr(base_url, code).png_data_uri(scale=scale, border=QUIET_ZONE_MODULES))
