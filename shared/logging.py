"""structlog, configured once per process: JSON lines off a terminal, console on one.

Every line carries ``timestamp``, ``level``, ``service`` and ``event``; lines about an article carry
``article_id`` (bound with contextvars by the stage plumbing). Lines from the standard library's
loggers (FastStream, uvicorn) go through the same processors, so the stream is uniform.
Logs go to stderr: stdout belongs to commands' output (``newswire process``).
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from shared.settings import LogFormat

# Keys that must never reach a log line, whatever a caller binds.
REDACTED_KEYS = frozenset({"api_key", "secret", "password", "authorization", "body", "html", "text"})


def _add_service(service: str) -> Processor:
    def add_service(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
        event_dict.setdefault("service", service)
        return event_dict

    return add_service


def _redact(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    for key in REDACTED_KEYS.intersection(event_dict):
        event_dict[key] = "[redacted]"
    return event_dict


def _drop_stdlib_noise(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    # stdlib records carry these as LogRecord extras; they repeat what the line already says.
    for key in ("color_message", "_record", "_from_structlog"):
        event_dict.pop(key, None)
    return event_dict


def use_json(log_format: LogFormat, stream: TextIO) -> bool:
    if log_format == "auto":
        return not stream.isatty()
    return log_format == "json"


def configure_logging(
    service: str,
    *,
    level: str = "INFO",
    log_format: LogFormat = "auto",
    stream: TextIO | None = None,
) -> None:
    """Set up structlog and the stdlib root logger for this process. Call once, at start-up."""
    out = stream if stream is not None else sys.stderr
    common: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        _add_service(service),
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    last: list[Processor] = [_redact]
    renderer: Processor
    if use_json(log_format, out):
        renderer = structlog.processors.JSONRenderer()
        last.append(structlog.processors.format_exc_info)
    else:
        # Tracebacks without their frames' locals: those may hold article bodies or keys.
        renderer = structlog.dev.ConsoleRenderer(
            exception_formatter=structlog.dev.RichTracebackFormatter(show_locals=False)
        )

    # Our own lines go straight to the stream: through the stdlib's logging machinery a line cost
    # ~3x as much, and every processed message writes one.
    structlog.configure(
        processors=[*common, *last, renderer],
        logger_factory=structlog.WriteLoggerFactory(file=out),
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        # Not cached: a logger would keep the stream of the configuration it was first used under
        # (in-process commands and tests configure again); the lookup costs ~1 us a line.
        cache_logger_on_first_use=False,
    )
    # Lines of the standard library's loggers (FastStream, uvicorn) pass the same processors.
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*common, structlog.stdlib.ExtraAdder(), *last],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            _drop_stdlib_noise,
            renderer,
        ],
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn and FastStream give their loggers handlers of their own (FastStream at import time,
    # so import it first); route those loggers through ours instead.
    import faststream  # noqa: F401 (imported for its side effect: it creates its logger)

    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "faststream"):
        named = logging.getLogger(name)
        named.handlers.clear()
        named.propagate = True
