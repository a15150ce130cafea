"""`Record`: one ledger entry as stored, frozen, for code that reads the ledger.

The stores and the index hand back the stored JSON object (`dict[str, Any]`); `Record.of`
turns it into a value whose fields are named and typed and whose body cannot be changed
by the code that shows it. `to_dict` gives back exactly the stored object, so a record
read this way still hashes to its `hash` and serialises unchanged: the format is the
stored one, old records included.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from supervisor.errors import LedgerError

FIELDS = ("seq", "id", "ts", "kind", "body", "prev_hash", "hash")


@dataclass(frozen=True, slots=True)
class Record:
    """One ledger entry: its place in the chain (`seq`, `prev_hash`, `hash`), its id,
    time and kind, and its body (read-only; lists in it are tuples)."""

    seq: int
    id: str
    ts: str
    kind: str
    body: Mapping[str, Any]
    prev_hash: str
    hash: str

    @classmethod
    def of(cls, stored: Mapping[str, Any]) -> Record:
        """The record of a stored JSON object; a LedgerError names what is missing."""
        missing = [name for name in FIELDS if name not in stored]
        if missing or not isinstance(stored.get("body"), Mapping):
            what = ", ".join(missing) if missing else "an object body"
            raise LedgerError(f"ledger record {stored.get('id', '(no id)')} lacks {what}; "
                              "run `supervisor audit verify` to find the damage")
        return cls(int(stored["seq"]), str(stored["id"]), str(stored["ts"]),
                   str(stored["kind"]), _frozen(stored["body"]), str(stored["prev_hash"]),
                   str(stored["hash"]))

    def to_dict(self) -> dict[str, Any]:
        """The stored object, for JSON answers, exports and code that takes a dict."""
        return {"body": _thawed(self.body), "hash": self.hash, "id": self.id,
                "kind": self.kind, "prev_hash": self.prev_hash, "seq": self.seq,
                "ts": self.ts}

    @property
    def action(self) -> str | None:
        """A decision's action (`allow`, `block`, ...); None for other kinds."""
        return str(self.body["action"]) if self.kind == "decision" else None

    @property
    def sealed(self) -> bool:
        """Whether the body keeps its texts encrypted (`store_text: encrypted`)."""
        return bool(self.body.get("sealed"))


def _frozen(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({key: _frozen(item) for key, item in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_frozen(item) for item in value)
    return value


def _thawed(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _thawed(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return [_thawed(item) for item in value]
    return value
