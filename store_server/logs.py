"""One structured log line per event, the gateway's format: logfmt, or JSON (`STORE_LOG_FORMAT`).

The lines are those of gateway/logs.py (store_server may not import the gateway);
tests/test_log_format.py renders the same records through both and compares.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from store_server.settings import LOG_FORMATS

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%z"


class EventFormatter(logging.Formatter):
    """Renders a record as one logfmt or JSON line; a message that is not already
    ``event=... key=value`` text becomes the ``msg`` field."""

    def __init__(self, log_format: str = "logfmt") -> None:
        super().__init__(datefmt=_TIME_FORMAT)
        if log_format not in LOG_FORMATS:
            raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}")
        self.log_format = log_format

    def format(self, record: logging.LogRecord) -> str:
        """One line: the time, level and logger, then the event's own fields."""
        message = record.getMessage()
        fields: list[tuple[str, str]] = [
            ("ts", self.formatTime(record, self.datefmt)),
            ("level", record.levelname),
            ("logger", record.name),
        ]
        parsed = parse_logfmt(message) if message.startswith("event=") else None
        fields.extend(parsed if parsed is not None else [("msg", message)])
        if record.exc_info:
            fields.append(("exc", self.formatException(record.exc_info)))
        if self.log_format == "json":
            return json.dumps(dict(fields), ensure_ascii=False)
        return " ".join(f"{key}={_quote(value)}" for key, value in fields)


def parse_logfmt(line: str) -> list[tuple[str, str]] | None:
    """The ``key=value`` pairs of a logfmt line (quoted values unescaped); None if it is not."""
    pairs: list[tuple[str, str]] = []
    i, n = 0, len(line)
    while i < n:
        equals = line.find("=", i)
        if equals <= i or " " in line[i:equals]:
            return None
        key, i = line[i:equals], equals + 1
        if i < n and line[i] == '"':
            chars: list[str] = []
            i += 1
            while i < n and line[i] != '"':
                if line[i] == "\\" and i + 1 < n:
                    i += 1
                    chars.append("\n" if line[i] == "n" else line[i])
                else:
                    chars.append(line[i])
                i += 1
            if i >= n:
                return None
            value, i = "".join(chars), i + 1
        else:
            end = line.find(" ", i)
            end = n if end < 0 else end
            value, i = line[i:end], end
        pairs.append((key, value))
        while i < n and line[i] == " ":
            i += 1
    return pairs


def configure_logging(level: int | str = logging.INFO, log_format: str = "logfmt") -> None:
    """Send one line per event to stderr, in logfmt or JSON (again: the format changes).

    Like `logging.basicConfig`, it leaves a root logger someone else configured alone.
    """
    root = logging.getLogger()
    ours = [h for h in root.handlers if isinstance(h.formatter, EventFormatter)]
    for handler in ours:
        handler.setFormatter(EventFormatter(log_format))
    if ours:
        root.setLevel(level)
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(EventFormatter(log_format))
    logging.basicConfig(level=level, handlers=[handler])


def gunicorn_log_config(level: str, log_format: str) -> dict[str, Any]:
    """gunicorn's `logconfig_dict`: its own lines (start, stop, worker deaths) in our format."""
    handler = {"class": "logging.StreamHandler", "stream": "ext://sys.stderr", "formatter": "event"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"event": {"()": EventFormatter, "log_format": log_format}},
        "handlers": {"stderr": handler},
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": ["stderr"], "propagate": False},
            "gunicorn.access": {"level": level, "handlers": [], "propagate": False},
        },
    }


def _quote(text: str) -> str:
    if text == "" or any(c in text for c in ' "=\n\r\t'):
        escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'"{escaped}"'
    return text
