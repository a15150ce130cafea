"""Exemplars of the `semantic` detector: a principle's examples plus files beside its constitution.

A principle's own `examples` are few (they are its tests); a semantic check needs more
sentences to compare with. Extra ones live in a folder beside the constitution file:

    constitutions/<constitution-id>.exemplars/<principle-id>.jsonl

one JSON object per line, with the fields of an example:

    {"prompt": "optional question", "output": "the text", "expect": "violated"}
    {"output": "a compliant text that looks alike", "expect": "compliant"}

Unknown keys are refused. A constitution that extends another inherits its exemplars
for the principles it inherits: the folder of the nearest constitution in the `extends`
chain that has a file for the principle is used (`healthcare` uses
`base.exemplars/hate.jsonl` for the `hate` principle it takes from `base`). The files
must not repeat the constitution's own examples: `constitution test` leaves an example
out of the exemplars while testing it, and a copy in a file would defeat that. Nor may
they reword a text of an evaluation set (`tests/evaluation/test_contamination.py`):
`calibrate` fits heads on these lines, and `eval` would then measure recall of them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pydantic import ValidationError

from supervisor.constitution import SHIPPED_DIR, Constitution, Example, Principle
from supervisor.errors import ConstitutionError


@dataclass(frozen=True, slots=True)
class Exemplar:
    """One labelled text a semantic check compares against; `source` says where it came from."""

    prompt: str
    output: str
    violated: bool
    source: str


def lineage_ids(constitution: Constitution) -> tuple[str, ...]:
    """The constitution's id, then its parents' ids, nearest first."""
    parents = tuple(entry.rpartition("@")[0] for entry in reversed(constitution.lineage))
    return (constitution.id, *parents)


def search_dirs(constitution: Constitution) -> tuple[Path, ...]:
    """Where files beside a constitution are looked for: its own folder, then the shipped one."""
    dirs = [Path(constitution.path).parent] if constitution.path else []
    return tuple(dict.fromkeys((*dirs, SHIPPED_DIR)))


def beside(constitution: Constitution, suffix: str) -> Iterator[Path]:
    """Existing files named `<id><suffix>` for the constitution and its parents, nearest first."""
    for cid in lineage_ids(constitution):
        for folder in search_dirs(constitution):
            path = folder / f"{cid}{suffix}"
            if path.exists():
                yield path


def exemplar_file(constitution: Constitution, principle_id: str) -> Path | None:
    """The exemplar file that applies to a principle of this constitution, if any."""
    return next(beside(constitution, f".exemplars/{principle_id}.jsonl"), None)


def exemplars_for(principle: Principle,
                  constitution: Constitution | None = None) -> tuple[Exemplar, ...]:
    """The principle's examples, then the lines of its exemplar file (when bound to a file)."""
    own = tuple(Exemplar(e.prompt, e.output, e.expect == "violated", "example")
                for e in principle.examples)
    path = exemplar_file(constitution, principle.id) if constitution is not None else None
    if path is None:
        return own
    seen = {(e.prompt, e.output) for e in own}
    extra = tuple(e for e in read_exemplars(path) if (e.prompt, e.output) not in seen)
    return own + extra


@lru_cache(maxsize=64)
def _read(path: str, mtime_ns: int) -> tuple[Exemplar, ...]:
    found: list[Exemplar] = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                example = Example.model_validate(json.loads(line))
            except (json.JSONDecodeError, ValidationError) as exc:
                raise ConstitutionError(
                    f"not an exemplar: {str(exc).splitlines()[0]}; write one JSON object per "
                    'line like {"output": "...", "expect": "violated"}', path=path,
                    line=number) from None
            if not example.output.strip():
                raise ConstitutionError("an exemplar needs a non-empty output", path=path,
                                        line=number, key="output")
            found.append(Exemplar(example.prompt, example.output,
                                  example.expect == "violated", f"{Path(path).name}:{number}"))
    return tuple(found)


def read_exemplars(path: Path) -> tuple[Exemplar, ...]:
    """The exemplars of one JSONL file, re-read when the file changes."""
    return _read(str(path), path.stat().st_mtime_ns)
