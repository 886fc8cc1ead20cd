"""Structured log lines: one event per line as ``event=name key=value ...`` (logfmt)."""

from __future__ import annotations

import logging
import sys

LogValue = str | int | float | bool | None


def format_event(event: str, **fields: LogValue) -> str:
    """Render an event and its fields as one logfmt line."""
    parts = [f"event={_quote(event)}"]
    parts.extend(f"{key}={_quote(value)}" for key, value in fields.items())
    return " ".join(parts)


def log_event(logger: logging.Logger, level: int, event: str, **fields: LogValue) -> None:
    """Log one structured event line at ``level``."""
    if logger.isEnabledFor(level):
        logger.log(level, format_event(event, **fields))


def configure_logging(level: int = logging.INFO) -> None:
    """Send log lines to stderr with a timestamp, level and logger name."""
    logging.basicConfig(
        stream=sys.stderr,
        level=level,
        format="ts=%(asctime)s level=%(levelname)s logger=%(name)s %(message)s",
        datefmt="%Y-%m-%dT%H:%M:%S%z",
    )


def _quote(value: LogValue) -> str:
    if value is None:
        text = "null"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    else:
        text = str(value)
    if text == "" or any(c in text for c in ' "=\n\r\t'):
        escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'"{escaped}"'
    return text
