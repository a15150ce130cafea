"""Where the supervisor keeps what it can rebuild: exemplar vectors, the traced encoder.

`$SUPERVISOR_CACHE_DIR`, else `$XDG_CACHE_HOME/constitutional-supervisor`, else
`~/.cache/constitutional-supervisor`; one folder per kind below it. Everything there is
derived from shipped or constitution content, never from user text, and may be deleted.
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE_DIR = "SUPERVISOR_CACHE_DIR"  # the supervisor's cache folder instead of the default


def cache_dir(kind: str) -> Path:
    """The folder for one kind of cached file, read from the environment at each call."""
    root = os.environ.get(CACHE_DIR)
    if root:
        return Path(root) / kind
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "constitutional-supervisor" / kind
