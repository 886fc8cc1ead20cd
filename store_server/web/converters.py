"""URL converters: a path id is a row id the database can hold, or the URL names nothing."""

from __future__ import annotations

from typing import Any

from werkzeug.routing import IntegerConverter, Map

from store_server.db.models import ROW_ID_MAX


class RowIdConverter(IntegerConverter):
    """`<int:...>` bounded to the primary keys' range (1..ROW_ID_MAX): beyond it, a 404.

    Werkzeug's own converter takes any length of digits, and an id above the column type made
    PostgreSQL fail the query (a 500) instead of finding nothing.
    """

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", ROW_ID_MAX)
        super().__init__(url_map, *args, **kwargs)


def use_row_id_converter(url_map: Map) -> None:
    """Make every `<int:...>` of the app a bounded row id (before any route is added)."""
    url_map.converters["int"] = RowIdConverter
