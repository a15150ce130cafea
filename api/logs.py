"""Structured JSON logs for the service (structlog): one object per line, never a text.

Log lines carry ids, routes, statuses, timings, actions and record ids. Prompts and
answers never go to the log; the ledger holds them under the constitution's policy.
"""

from __future__ import annotations

import logging
import sys

import structlog


def configure(level: str = "info") -> None:
    """JSON lines on stderr with time, level and logger name, from `level` up."""
    threshold = getattr(logging, level.upper(), logging.INFO)
    logging.basicConfig(format="%(message)s", stream=sys.stderr, level=threshold)
    for noisy in ("presidio-analyzer", "presidio-anonymizer", "sentence_transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING)  # per-recognizer load chatter
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, structlog.processors.add_log_level,
                    structlog.processors.TimeStamper(fmt="iso", utc=True),
                    structlog.processors.format_exc_info, structlog.processors.JSONRenderer()],
        wrapper_class=structlog.make_filtering_bound_logger(threshold),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True)
