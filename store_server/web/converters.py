"""URL converters: a path id is a row id the database can hold, or the URL names nothing."""

from __future__ import annotations

from typing import Any

from werkzeug.routing import IntegerConverter, Map

from store_server.db.models import ROW_ID_MAX


def decimal_range_pattern(high: int) -> str:
    """A regular expression matching the decimal numbers 1..high, without leading zeros."""
    digits = str(high)
    size = len(digits)
    shorter = [f"[1-9][0-9]{{0,{size - 2}}}"] if size > 1 else []
    below = []  # as many digits as `high`: equal up to position i, lower there
    for i, digit in enumerate(int(d) for d in digits):
        lowest = 1 if i == 0 else 0
        if digit > lowest:
            below.append(f"{digits[:i]}[{lowest}-{digit - 1}][0-9]{{{size - i - 1}}}")
    return "|".join([*shorter, *below, digits])


class RowIdConverter(IntegerConverter):
    """`<int:...>` bounded to the primary keys' range (1..ROW_ID_MAX): beyond it, a 404.

    Werkzeug's own converter takes any length of digits, and an id above the column type made
    PostgreSQL fail the query (a 500) instead of finding nothing. The range is in the regular
    expression itself, not only in `to_python`: a value the expression matched and `to_python`
    refused made Werkzeug answer 405 (another method's rule of the same path was left) where
    the URL names nothing.
    """

    regex = f"(?:{decimal_range_pattern(ROW_ID_MAX)})"

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", ROW_ID_MAX)
        super().__init__(url_map, *args, **kwargs)


def use_row_id_converter(url_map: Map) -> None:
    """Make every `<int:...>` of the app a bounded row id (before any route is added)."""
    url_map.converters["int"] = RowIdConverter
