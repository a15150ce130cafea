"""Reading a proposed constitution version: posted YAML, its file, or a ledger record.

Posted YAML is loaded as a file in a temporary folder; its `extends` may name only a
constitution id (a sibling of the current file, linked in, or a shipped one), never a
path, so a request cannot make the server read a file of its choosing. A version read
back from a record must rebuild hash for hash, or it is not activated.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import structlog
import yaml

from api.errors import ApiError
from supervisor.constitution import Constitution, load_constitution, shipped
from supervisor.errors import ConstitutionError
from supervisor.proposals import Proposal, Version, rebuilt

log = structlog.get_logger("api.activation")
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def rebuilt_or_none(content: Mapping[str, Any] | None, active: Version | None,
                     constitution: Constitution) -> Constitution | None:
    """The version a start record holds, or None when absent or unreadable (logged)."""
    if content is None or active is None:
        return None
    try:
        return rebuilt(content, path=active.path or constitution.path, lineage=active.lineage)
    except ValueError as exc:
        log.error("constitution_unreadable", constitution=constitution.id,
                  sha256=active.sha256, error=str(exc))
        return None


def recorded(content: Mapping[str, Any] | None, found: Proposal) -> Constitution:
    """The proposed version from its record; 409 when this version cannot rebuild it
    hash for hash (recorded by another tool, or under an older schema)."""
    try:
        new = rebuilt(content, path=found.new.path, lineage=found.new.lineage) \
            if content is not None else None
    except ValueError:
        new = None
    if new is None or new.sha256 != found.new.sha256:
        raise ApiError(409, f"proposal {found.id}: the recorded content does not rebuild "
                            f"{found.constitution} {found.new.version} (sha256 "
                            f"{found.new.sha256[:12]}) under this version of the service; "
                            "reject it and propose the version again", code="unreadable")
    return new


def from_file(path: str) -> Constitution:
    """The constitution's own file, read again; 400 naming the problem."""
    try:
        return load_constitution(path)
    except ConstitutionError as exc:
        raise ApiError(400, f"its file does not load: {exc}", param="yaml",
                       code="bad_constitution") from None


def from_text(text: str, current: Constitution) -> Constitution:
    """A posted YAML text, loaded as a file beside nothing: `extends` may name only a
    constitution id (the current file's sibling or a shipped one), never a path, so a
    request cannot make the server read a file of its choosing."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ApiError(400, f"`yaml` is not YAML: {exc}", param="yaml",
                       code="bad_constitution") from None
    if not isinstance(raw, dict):
        raise ApiError(400, "`yaml` must be a constitution: a mapping with id, version and "
                            "principles", param="yaml", code="bad_constitution")
    parent = raw.get("extends")
    if parent is not None and not (isinstance(parent, str) and _ID.match(parent)):
        raise ApiError(400, "`extends` in a posted constitution names a constitution by id "
                            f"(one of {', '.join(shipped())}), never a path", param="yaml",
                       code="bad_constitution")
    with _folder(current, parent) as folder:
        path = folder / "proposed.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            loaded = load_constitution(path)
        except ConstitutionError as exc:
            message = str(exc).replace(str(path), "the posted yaml")
            raise ApiError(400, message, param="yaml", code="bad_constitution") from None
    return replace(loaded, path=current.path)


@contextmanager
def _folder(current: Constitution, parent: str | None) -> Iterator[Path]:
    """A temporary folder holding, when the text extends a sibling of the current file,
    a link to that sibling (so `extends` resolves as it would beside the real file)."""
    sibling = (Path(current.path).parent / f"{parent}.yaml"
               if current.path and parent else None)
    with tempfile.TemporaryDirectory(prefix="proposal-") as name:
        folder = Path(name)
        if sibling is not None and sibling.is_file():
            (folder / sibling.name).symlink_to(sibling)
        yield folder
