"""Exemplar vectors kept on disk, so a fresh process need not embed every exemplar again.

Embedding a constitution's exemplars is most of a cold start's work, and the result
depends only on the exemplar texts, how they are viewed (`on`) and the encoder version:
that is the key (a sha256), and a file holds the two matrices it names. Exemplars are
constitution content, never user text, so nothing a user wrote is stored.

The folder is `$SUPERVISOR_CACHE_DIR/vectors`, else `$XDG_CACHE_HOME/constitutional-
supervisor/vectors`, else `~/.cache/constitutional-supervisor/vectors`. A file is written
whole under a temporary name and renamed into place; one that cannot be read or does not
match its key's shape is a miss (logged), and the caller embeds and rewrites it. Every
edit of an exemplar, and every example `constitution test` leaves out, makes a new key,
so the folder keeps the `keep` files used last (a hit marks its file used) and drops the
rest when it writes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from supervisor.cache import cache_dir as supervisor_cache_dir
from supervisor.detectors.embedding import DIMENSIONS, Vectors

FORMAT = "supervisor-exemplar-vectors/1"

log = logging.getLogger("supervisor.semantic")


def cache_dir() -> Path:
    """Where exemplar vectors are kept (see the module docstring), read from the environment."""
    return supervisor_cache_dir("vectors")


@dataclass(frozen=True, slots=True)
class Sides:
    """A principle's exemplar views as embedded: violating ones, compliant ones."""

    violating: tuple[str, ...]
    compliant: tuple[str, ...]

    def key(self, encoder: str, on: str) -> str:
        """sha256 naming these views' vectors under one encoder version."""
        body = {"format": FORMAT, "encoder": encoder, "on": on,
                "violating": self.violating, "compliant": self.compliant}
        canonical = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


class VectorStore:
    """Exemplar matrices on disk by key; `folder` None follows `cache_dir()` at each use."""

    def __init__(self, folder: Path | None = None, *, keep: int = 512) -> None:
        self._folder = folder
        self.keep = keep

    @property
    def folder(self) -> Path:
        return self._folder if self._folder is not None else cache_dir()

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.npz"

    def load(self, key: str, sides: Sides) -> tuple[Vectors, Vectors] | None:
        """The stored (violating, compliant) matrices, or None when absent or unusable."""
        path = self.path(key)
        try:
            with np.load(path, allow_pickle=False) as stored:
                violating, compliant = stored["violating"], stored["compliant"]
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            log.warning("exemplar vectors in %s are unreadable (%s); embedding again",
                        path, exc)
            return None
        if not (_fits(violating, len(sides.violating)) and _fits(compliant, len(sides.compliant))):
            log.warning("exemplar vectors in %s do not match their exemplars; embedding "
                        "again", path)
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # used now: the last to be dropped
        return violating, compliant

    def save(self, key: str, violating: Vectors, compliant: Vectors) -> None:
        """Write the matrices atomically; a folder that cannot be written is logged, not raised."""
        path = self.path(key)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            with open(temporary, "wb") as handle:
                np.savez(handle, violating=violating, compliant=compliant)
            os.replace(temporary, path)
        except OSError as exc:
            log.warning("could not keep exemplar vectors in %s (%s)", path, exc)
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)
            return
        self._prune()

    def _prune(self) -> None:
        """Drop the files used longest ago beyond `keep` (another process may race: fine)."""
        found = []
        for entry in self.folder.glob("*.npz"):
            with contextlib.suppress(OSError):
                found.append((entry.stat().st_mtime_ns, entry))
        found.sort(reverse=True)
        for _, stale in found[self.keep:]:
            with contextlib.suppress(OSError):
                stale.unlink()


def _fits(matrix: np.ndarray, texts: int) -> bool:
    """Float32 unit rows of the encoder's width, one per text (one zero row for none)."""
    if matrix.dtype != np.float32 or matrix.shape != (max(texts, 1), DIMENSIONS):
        return False
    return bool(np.isfinite(matrix).all())
