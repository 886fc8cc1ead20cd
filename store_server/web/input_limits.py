"""What any request must be before a view sees it: strict JSON, no NUL characters anywhere.

Every JSON body goes through `StrictJSONProvider.loads` (Flask's `request.get_json` calls it),
so no view can forget the rules, and each refusal is a 400 with its own code:

- `invalid_json`: `NaN`, `Infinity` and numbers that only fit as infinity (`1e999`), which
  Python's json reads but no column or schema means; integers beyond 64 bits.
- `too_deep`: more than MAX_JSON_DEPTH nested arrays and objects (deeper would recurse in the
  parser and in validation; no body of the API nests more than a few levels).
- `nul_character`: U+0000 in any string or key: PostgreSQL refuses it in text.

Malformed JSON stays a `ValueError`, which `get_json(silent=True)` turns into None and
`parse_body` into `malformed_json`, as before. `refuse_hostile_input`, run before every view,
decodes any JSON body under these rules (so the refusal is the same before and after
authentication, on every endpoint) and applies the NUL rule to the path, the query string and
form fields.
"""

from __future__ import annotations

import json
import math
from itertools import chain
from typing import Any

from flask import request
from flask.json.provider import DefaultJSONProvider

from store_server.web.errors import ApiError

MAX_JSON_DEPTH = 32
# A JSON integer is at most a signed 64-bit value: no column holds more, and past 2**53 a
# browser could not even read it back.
MAX_JSON_INTEGER = 2**63 - 1
NUL = "\x00"
# Fewer characters than this (a sign included) is always within MAX_JSON_INTEGER.
_SHORT_INTEGER = len(str(MAX_JSON_INTEGER))


def _nul_error(where: str, loc: list[str | int] | None = None) -> ApiError:
    message = f"{where} contains a NUL character (U+0000)"
    details: dict[str, Any] = {"where": where}
    if loc is not None:  # where in the body, in `parse_body`'s shape
        details["fields"] = [{"loc": loc, "msg": message}]
    return ApiError(400, "nul_character", message, details)


def _reject_constant(name: str) -> Any:
    raise ApiError(400, "invalid_json", f"{name} is not a JSON number", {"value": name})


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ApiError(400, "invalid_json", "a number is too large", {"value": text[:40]})
    return value


def _bounded_int(text: str) -> int:
    if len(text) < _SHORT_INTEGER:
        return int(text)
    # Compare lengths first: int() of thousands of digits is slow (and then a ValueError).
    if len(text.lstrip("-")) > len(str(MAX_JSON_INTEGER)) or abs(int(text)) > MAX_JSON_INTEGER:
        raise ApiError(400, "invalid_json", "an integer is beyond 64 bits", {"value": text[:40]})
    return int(text)


def check_json_value(value: Any) -> None:
    """Raise a 400 if a decoded JSON value nests too deep or holds a NUL in a string or key."""
    pending: list[tuple[Any, tuple[str | int, ...]]] = [(value, ())]
    while pending:  # iterative: the value may be nested deeper than Python's recursion limit
        item, loc = pending.pop()
        if isinstance(item, str):
            if NUL in item:
                raise _nul_error("a string of the body", list(loc))
        elif isinstance(item, dict):
            if len(loc) >= MAX_JSON_DEPTH:
                raise _too_deep()
            if any(NUL in key for key in item):
                raise _nul_error("a key of the body", list(loc))
            pending.extend((child, (*loc, key)) for key, child in item.items())
        elif isinstance(item, list):
            if len(loc) >= MAX_JSON_DEPTH:
                raise _too_deep()
            pending.extend((child, (*loc, index)) for index, child in enumerate(item))


def _check_json_depth(value: Any) -> list[float]:
    """Raise a 400 if a decoded JSON value nests too deep: `check_json_value` without the
    NUL rule, level by level over the containers only (a gateway batch holds a thousand
    objects: a Python step per object, or building its location, costs more than decoding
    the body, so each level's items are gathered by `chain` and filtered in one pass).
    Returns the value's floats, for `strict_loads` to check in one sum."""
    containers = [value] if value.__class__ in _CONTAINERS else []
    floats = [value] if value.__class__ is float else []
    depth = 0
    while containers:
        if depth >= MAX_JSON_DEPTH:
            raise _too_deep()
        dicts = [c for c in containers if c.__class__ is dict]
        lists = [c for c in containers if c.__class__ is not dict]
        items = list(chain(chain.from_iterable(map(dict.values, dicts)), *lists))
        containers = [item for item in items if item.__class__ in _CONTAINERS]
        floats += [item for item in items if item.__class__ is float]
        depth += 1
    return floats


_CONTAINERS = (dict, list)


def _may_hold_nul(text: str | bytes) -> bool:
    """Whether JSON text can decode to a string holding U+0000: only through the escape
    `\\u0000` (the decoder refuses a raw control character in a string), or in bytes that are
    not UTF-8 (UTF-16 and UTF-32, which json.loads also reads, hold zero bytes)."""
    if isinstance(text, bytes):
        return b"\\u0000" in text or b"\x00" in text
    return "\\u0000" in text or NUL in text


def _too_deep() -> ApiError:
    return ApiError(
        400,
        "too_deep",
        f"the body nests arrays and objects more than {MAX_JSON_DEPTH} levels deep",
        {"max_depth": MAX_JSON_DEPTH},
    )


def _may_hold_long_integer(text: str | bytes) -> bool:
    """Whether JSON text has a run of digits as long as MAX_JSON_INTEGER's: without one, every
    integer in it is within 64 bits, and no number is long enough to read as infinity."""
    if isinstance(text, str):
        return _LONG_DIGITS in text.translate(_ONE_FOR_EVERY_DIGIT)
    return _LONG_DIGITS_BYTES in text.translate(_ONE_FOR_EVERY_DIGIT_BYTES)


_LONG_DIGITS = "1" * _SHORT_INTEGER
_LONG_DIGITS_BYTES = _LONG_DIGITS.encode()
_ONE_FOR_EVERY_DIGIT = str.maketrans("0123456789", "1" * 10)
_ONE_FOR_EVERY_DIGIT_BYTES = bytes.maketrans(b"0123456789", b"1" * 10)


def strict_loads(text: str | bytes) -> Any:
    """Decode a JSON body under the rules above (ApiError), or raise ValueError if malformed.

    The usual body (no NUL possible, no long run of digits) is decoded by json's C parser
    alone, and its floats checked after, in one sum: a hook per number (`parse_int`,
    `parse_float`) costs a Python call each, a thousand a gateway batch. Anything else, or a
    sum that is not finite, is decoded again with the hooks, which name the bad number.
    """
    if not _may_hold_nul(text) and not _may_hold_long_integer(text):
        try:
            value = json.loads(text, parse_constant=_reject_constant)
        except RecursionError as exc:
            raise _too_deep() from exc
        # Finite floats can only sum to infinity by overflowing: decided by the hooks then.
        if math.isfinite(sum(_check_json_depth(value))):
            return value
    try:
        value = json.loads(
            text,
            parse_constant=_reject_constant,
            parse_float=_finite_float,
            parse_int=_bounded_int,
        )
    except RecursionError as exc:  # far deeper than the limit: the parser gave up first
        raise _too_deep() from exc
    if _may_hold_nul(text):
        check_json_value(value)
    else:
        _check_json_depth(value)
    return value


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON, reading request bodies with `strict_loads`."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Decode JSON strictly (the keyword arguments of json.loads are not offered)."""
        return strict_loads(s)


def refuse_hostile_input() -> None:
    """A `before_request` hook: the JSON rules above on a JSON body, and 400 `nul_character`
    for U+0000 in the path, query or form."""
    if NUL in request.path:
        raise _nul_error("the path")
    if any(NUL in key or NUL in value for key, value in request.args.items(multi=True)):
        raise _nul_error("the query string")
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data") and any(
        NUL in key or NUL in value for key, value in request.form.items(multi=True)
    ):
        raise _nul_error("a form field")
    if request.is_json and request.content_length != 0:
        request.get_json(silent=True)  # cached for the view; raises ApiError on a rule
