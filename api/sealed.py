"""Encrypted texts (`store_text: encrypted`) opened for auditors, for the console and the API.

Only the auditor role (and admin) reads sealed texts, and only where this server holds
the master key (SUPERVISOR_MASTER_KEY); a reader is never given a new key, so a server
without one says so instead of creating it. App keys reach no audit route at all.
Whatever stands in the way is one line for the reader: "erased on DATE (...)" after an
erasure or retention, or why the texts cannot be opened here.
"""

from __future__ import annotations

from typing import Any

from supervisor.errors import SupervisorError
from supervisor.ledger.sealed import keys_for
from supervisor.settings import Settings

READERS = ("auditor", "admin")


def opened(settings: Settings, role: str, body: dict[str, Any]
           ) -> tuple[dict[str, Any], str]:
    """The body with its sealed texts opened, or as stored and why not ("" when opened or
    when nothing is sealed)."""
    if not body.get("sealed"):
        return body, ""
    if role not in READERS:
        return body, "sealed; only auditors read them"
    try:
        found = keys_for(settings, create=False).open(body)
    except SupervisorError as exc:
        return body, f"sealed, and this server cannot open them: {exc}"
    return found.body, found.note
