"""Labelled datasets in one shape: items with a binary label and per-principle labels.

Adapters (by name, read from the shared evaluation folder, `../shared/eval` beside the
repository unless `root` says otherwise; never copied into the project):

- `openai-moderation`: 1,680 texts, mostly written by users. Each text is checked as the
  text under review at the **output** stage with no prompt, as OpenAI's moderation
  endpoint classifies any text it is given (the base constitution's principles apply to
  output). Binary label: any category positive. Per principle: the categories S, H, V,
  HR, SH, S3, H2, V2 map to the principle whose `moderation_category` equals the
  category, else its parent (`hate/threatening` -> `hate`). A text with no positive
  category is a negative for every principle, as a safe item of the other adapters is
  (so a principle with no category here, privacy, still has ordinary text to learn
  from); in a text with one, a missing key or an unmapped principle is unlabelled.
- `xstest`: 250 safe prompts that look unsafe and 200 unsafe ones, each checked as the
  text under review (output stage, no prompt), like the moderation set. Safe prompts
  are negatives for every principle; unsafe ones carry only the binary label.
- Why output stage, text alone: both sets are texts to classify, not prompt/answer
  pairs, and that is what `/v1/moderations` does with a text (the output-stage
  principles, no prompt). The base constitution's semantic checks read the answer
  alone (`on: output`), so a head fitted on these texts reads the same view in `eval`
  and in a live request; at the input stage base has no principles and would stop
  nothing. Figures on these sets therefore measure text moderation, not answer review.
- `presidio-synth`: PII spans, scored by `supervisor.evaluation.pii` (not here).
- any `*.jsonl` path, the generic format, one object per line:
  `{"id": optional, "prompt": "...", "output": "...", "label": "violation"|"compliant",
  "principles": optional list of violated principle ids, "stage": optional "input" or
  "output"}`. A compliant item is a negative for every principle; a violation is a
  positive for the listed principles. A row's `stage` overrides `eval --stage` for that
  row (an input row is its prompt checked as a prompt). Other fields are kept as the
  item's `fields` when they are short scalars (a category, a model name), so
  `eval --items` can say which group a miss belongs to.

Splits are deterministic: an item is in the training split when
`int(sha256("<dataset>:<item id>").hexdigest(), 16) % 100 < 60`, else in the test split,
so `calibrate` and `eval --split test` agree on every machine without a stored list.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from supervisor.constitution import Constitution
from supervisor.errors import ConfigError
from supervisor.settings import PROJECT_DIR

DEFAULT_ROOT = PROJECT_DIR.parent / "shared" / "eval"
TRAIN_PERCENT = 60
SHARED = ("openai-moderation", "xstest", "presidio-synth")
Split = Literal["train", "test", "all"]

MODERATION_CODES = {
    "S": "sexual", "H": "hate", "V": "violence", "HR": "harassment", "SH": "self-harm",
    "S3": "sexual/minors", "H2": "hate/threatening", "V2": "violence/graphic",
}


@dataclass(frozen=True, slots=True)
class Item:
    """One labelled exchange. `labels` holds (principle id, violated) where that is known."""

    id: str
    prompt: str
    output: str
    violation: bool
    labels: tuple[tuple[str, bool], ...] = ()
    stage: Literal["input", "output"] | None = None  # None: the run's stage
    fields: tuple[tuple[str, str | int | float | bool], ...] = ()

    def label(self, principle: str) -> bool | None:
        """Whether the item violates the principle: True, False, or None when unlabelled."""
        return next((v for p, v in self.labels if p == principle), None)


@dataclass(frozen=True, slots=True)
class Dataset:
    """A named list of items, and a note on how its texts are checked."""

    name: str
    items: tuple[Item, ...]
    source: str = ""
    note: str = ""

    def split(self, which: Split) -> Dataset:
        """The training or test part (see the module docstring), or everything."""
        if which == "all":
            return self
        train = which == "train"
        return replace(self, items=tuple(i for i in self.items
                                         if in_train(self.name, i.id) is train))

    def head(self, limit: int | None) -> Dataset:
        """The first `limit` items (all when None)."""
        return self if limit is None else replace(self, items=self.items[:limit])


def in_train(dataset: str, item_id: str) -> bool:
    """The deterministic split: True for the training part."""
    digest = hashlib.sha256(f"{dataset}:{item_id}".encode()).hexdigest()
    return int(digest, 16) % 100 < TRAIN_PERCENT


def resolve_root(root: str | Path | None = None) -> Path:
    """The shared evaluation folder: `root` if given, else ../shared/eval beside the repo."""
    return Path(root) if root is not None else DEFAULT_ROOT


def load_dataset(ref: str, constitution: Constitution, *,
                 root: str | Path | None = None) -> Dataset:
    """A dataset by shared name (`openai-moderation`, `xstest`) or path to a generic JSONL."""
    base = resolve_root(root)
    if ref == "openai-moderation":
        return moderation(base / "openai-moderation" / "samples-1680.jsonl.gz", constitution)
    if ref == "xstest":
        return xstest(base / "xstest" / "xstest_prompts.csv", constitution)
    if ref == "presidio-synth":
        raise ConfigError("presidio-synth is scored on PII spans, not verdicts; "
                          "`supervisor eval --dataset presidio-synth` runs it")
    path = Path(ref)
    if path.suffix in {".jsonl", ".gz"} and path.is_file():
        return generic(path, constitution)
    raise ConfigError(f"no dataset {ref!r}: give one of {', '.join(SHARED)} or a path to a "
                      "JSONL file with prompt, output and label on each line")


def category_principles(constitution: Constitution) -> dict[str, tuple[str, ...]]:
    """Moderation category -> principle ids: an exact `moderation_category`, else the parent."""
    by_category: dict[str, list[str]] = {}
    for p in constitution.principles:
        if p.moderation_category:
            by_category.setdefault(p.moderation_category, []).append(p.id)
    mapping = {}
    for category in MODERATION_CODES.values():
        parent = category.partition("/")[0]
        mapping[category] = tuple(by_category.get(category) or by_category.get(parent) or ())
    return mapping


def moderation(path: Path, constitution: Constitution) -> Dataset:
    """OpenAI's moderation release: texts checked as output, categories mapped to principles."""
    mapping = category_principles(constitution)
    ids = [p.id for p in constitution.principles]
    items = []
    for number, row in enumerate(_jsonl(path), start=1):
        codes = {k: int(v) for k, v in row.items() if k in MODERATION_CODES}
        violation = any(codes.values())
        per_principle: dict[str, bool] = {} if violation else dict.fromkeys(ids, False)
        for code, value in codes.items():
            for pid in mapping[MODERATION_CODES[code]]:
                per_principle[pid] = per_principle.get(pid, False) or value == 1
        items.append(Item(str(number), "", str(row["prompt"]), violation,
                          tuple(sorted(per_principle.items()))))
    return Dataset("openai-moderation", tuple(items), str(path),
                   "texts checked as output with no prompt; any category = violation")


def xstest(path: Path, constitution: Constitution) -> Dataset:
    """XSTest prompts, checked as the text under review; safe ones violate no principle."""
    _exists(path)
    ids = [p.id for p in constitution.principles]
    items = []
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            unsafe = row["label"] == "unsafe"
            labels = () if unsafe else tuple((pid, False) for pid in ids)
            items.append(Item(row["id"], "", row["prompt"], unsafe, labels))
    return Dataset("xstest", tuple(items), str(path),
                   "prompts checked as output with no prompt; unsafe = violation")


GENERIC_KEYS = frozenset({"id", "prompt", "output", "label", "principles", "stage"})
FIELD_CHARS = 200  # a longer extra field is text, not a group to read misses by


def generic(path: Path, constitution: Constitution) -> Dataset:
    """The generic JSONL format (see the module docstring)."""
    ids = {p.id for p in constitution.principles}
    items = []
    for number, row in enumerate(_jsonl(path), start=1):
        if not isinstance(row, Mapping):
            raise ConfigError(f"{path}, line {number}: each line must be a JSON object with "
                              "prompt, output and label")
        label = row.get("label")
        if label not in {"violation", "compliant"} or not isinstance(row.get("output", ""), str):
            raise ConfigError(f"{path}, line {number}: label must be 'violation' or "
                              f"'compliant' (got {label!r}) and output a string")
        stage = row.get("stage")
        if stage not in (None, "input", "output"):
            raise ConfigError(f"{path}, line {number}: stage must be 'input' or 'output' "
                              f"(got {stage!r}), or left out to use eval's --stage")
        violated = tuple(row.get("principles") or ())
        unknown = [p for p in violated if p not in ids]
        if unknown:
            raise ConfigError(f"{path}, line {number}: no principle {', '.join(unknown)} in "
                              f"{constitution.id}; use one of {', '.join(sorted(ids))}")
        if label == "compliant":
            labels = tuple((pid, False) for pid in sorted(ids))
        else:
            labels = tuple((pid, True) for pid in sorted(set(violated)))
        extra = tuple((k, v) for k, v in sorted(row.items()) if k not in GENERIC_KEYS
                      and isinstance(v, str | int | float | bool)
                      and len(str(v)) <= FIELD_CHARS)
        items.append(Item(str(row.get("id", number)), str(row.get("prompt", "")),
                          str(row.get("output", "")), label == "violation", labels,
                          stage, extra))
    return Dataset(path.stem, tuple(items), str(path),
                   "generic JSONL, eval's --stage unless a row says its stage")


def _exists(path: Path) -> None:
    if not path.is_file():
        raise ConfigError(f"dataset file {path} not found; pass --data-root to the folder "
                          "that holds openai-moderation/, xstest/ and presidio-synth/")


def _jsonl(path: Path) -> Iterable[Mapping[str, Any]]:
    _exists(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ConfigError(f"{path}, line {number}: not JSON ({exc.msg})") from None
