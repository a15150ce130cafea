"""Calibration files: per-principle scoring heads fitted on labelled data, read at run time.

`supervisor calibrate` writes `<constitution-id>.calibration.json` beside the
constitution. For each principle with a `semantic` check it holds a small logistic head
over the text's embedding and its exemplar margin, and the threshold chosen on the
training split. The file's sha256 goes into every decision's provenance, so a record
says which fit produced it.

A head applies only to the principle it was fitted for: each entry carries the
principle's fingerprint (sha256 of the principle without its examples). Editing a
principle's statement or checks makes its entry stale and the detector falls back to
the constitution's threshold; leaving an example out (as `constitution test` does)
does not. A file fitted with another encoder version (model, precision, quantization
scheme) is not used at all.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from supervisor.constitution import Constitution, Principle
from supervisor.detectors.exemplars import beside
from supervisor.errors import ConstitutionError

FORMAT = "supervisor-calibration/1"
SUFFIX = ".calibration.json"


# the check kinds a fingerprint always names (set or None): the kinds there were when
# the first calibration files were written; a kind added later is named only where set,
# so a new kind in the schema does not make every fitted head stale
FIRST_KINDS = ("judge", "semantic", "pii", "pattern")


def fingerprint(principle: Principle) -> str:
    """sha256 of the principle's canonical JSON without its examples."""
    body = principle.model_dump(mode="json", exclude={"examples"})
    body["checks"] = [{k: v for k, v in check.items() if k in FIRST_KINDS or v is not None}
                      for check in body["checks"]]
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Head:
    """score = sigmoid(w . embedding + margin_weight * margin + bias); fires at `threshold`."""

    weights: tuple[float, ...]
    margin_weight: float
    bias: float
    threshold: float
    fingerprint: str

    def score(self, vectors: npt.NDArray[np.float32],
              margins: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        """Scores in [0, 1] for rows of embeddings and their exemplar margins."""
        logits = vectors @ np.asarray(self.weights) + self.margin_weight * margins + self.bias
        return np.asarray(1.0 / (1.0 + np.exp(-np.clip(logits, -50, 50))), dtype=np.float64)

    def to_json(self) -> dict[str, Any]:
        """The JSON form written to the calibration file."""
        return {"fingerprint": self.fingerprint, "threshold": round(self.threshold, 6),
                "bias": round(self.bias, 8), "margin_weight": round(self.margin_weight, 8),
                "weights": [round(w, 8) for w in self.weights]}


@dataclass(frozen=True, slots=True)
class Calibration:
    """A loaded calibration file: heads by principle id, the encoder it was fitted with."""

    path: str
    sha256: str
    constitution: str
    encoder: str
    heads: Mapping[str, Head]

    def head_for(self, principle: Principle) -> Head | None:
        """The principle's head, unless the principle changed since the fit."""
        head = self.heads.get(principle.id)
        return head if head is not None and head.fingerprint == fingerprint(principle) else None


def calibration_path(constitution: Constitution) -> Path:
    """Where `supervisor calibrate` writes this constitution's calibration."""
    if not constitution.path:
        raise ConstitutionError("the constitution has no file, so there is nowhere beside it to "
                                "write a calibration; load it from a YAML file")
    return Path(constitution.path).parent / f"{constitution.id}{SUFFIX}"


def find_calibration(constitution: Constitution, encoder: str) -> Calibration | None:
    """The nearest calibration file in the extends chain fitted with this encoder version."""
    for path in beside(constitution, SUFFIX):
        loaded = read_calibration(path)
        if loaded.encoder == encoder:
            return loaded
    return None


def read_calibration(path: Path) -> Calibration:
    """Load and check one calibration file (cached until the file changes)."""
    return _read(str(path), path.stat().st_mtime_ns)


@lru_cache(maxsize=16)
def _read(path: str, mtime_ns: int) -> Calibration:
    raw = Path(path).read_bytes()
    try:
        body = json.loads(raw)
        if body.get("format") != FORMAT:
            raise ValueError(f"format is {body.get('format')!r}, expected {FORMAT!r}")
        heads = {pid: _head(entry) for pid, entry in body["principles"].items()}
        return Calibration(path=path, sha256=hashlib.sha256(raw).hexdigest(),
                           constitution=str(body["constitution"]["id"]),
                           encoder=str(body["encoder"].get("version", "")), heads=heads)
    except (ValueError, KeyError, TypeError) as exc:
        raise ConstitutionError(f"not a calibration file ({exc}); run `supervisor calibrate` "
                                "again to rewrite it", path=path) from None


def _head(entry: Mapping[str, Any]) -> Head:
    weights = tuple(float(w) for w in entry["weights"])
    numbers = (*weights, float(entry["bias"]), float(entry["margin_weight"]),
               float(entry["threshold"]))
    if not all(math.isfinite(n) for n in numbers):
        raise ValueError("a head has a non-finite number")
    return Head(weights, float(entry["margin_weight"]), float(entry["bias"]),
                float(entry["threshold"]), str(entry["fingerprint"]))

