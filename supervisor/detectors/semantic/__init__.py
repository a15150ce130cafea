"""The `semantic` detector: how close a text comes to a principle's violating exemplars.

Each principle with a `semantic` check has exemplars (its examples plus an optional
file beside the constitution, see `exemplars`). A text is embedded once, whatever the
number of principles, and for each principle its *margin* is the cosine similarity to
the nearest violating exemplar minus that to the nearest compliant one: a text that
looks like the violations more than like the look-alike compliant answers scores high.

    uncalibrated:  score = (1 + margin) / 2            fires at the check's `threshold`
    calibrated:    score = sigmoid(w . e + a * margin + b)   fires at the fitted threshold

The calibrated form comes from `supervisor calibrate` (see `calibration`). The check's
`on` chooses what is embedded: the answer alone (`output`) or the prompt and answer
together (`exchange`, the default). A long text scores as its highest-scoring window,
so harm at the end of a long answer is not cut off. With a prompt and an exchange model
beside the constitution, an output principle fires only when the exchange also reads as
compliance with a harmful request (`Score.gate`): a refusal on a violent topic is not
violence.

Modules: `scoring` (views, windows, scores), `index` (a constitution's exemplars, heads
and vectors, made at bind), `store` (exemplar vectors cached on disk), `detector` (the
detector and the registry of bound ones). `shared_semantic()` is the process-wide
detector; `bind(constitution)` gives the one the pipeline uses. Leave-one-out needs no
extra argument: a principle copied without one example is compared with its own
exemplars, never with the one left out.
"""

from supervisor.detectors.semantic.detector import (
    BINDINGS,
    Bindings,
    SemanticDetector,
    shared_semantic,
)
from supervisor.detectors.semantic.index import SELF, Entry, ExemplarIndex, Matrices
from supervisor.detectors.semantic.scoring import (
    EVIDENCE_CHARS,
    PROMPT_CHARS,
    Exchange,
    Features,
    Score,
    Window,
    view,
)
from supervisor.detectors.semantic.store import VectorStore, cache_dir

__all__ = [
    "BINDINGS",
    "EVIDENCE_CHARS",
    "PROMPT_CHARS",
    "SELF",
    "Bindings",
    "Entry",
    "Exchange",
    "ExemplarIndex",
    "Features",
    "Matrices",
    "Score",
    "SemanticDetector",
    "VectorStore",
    "Window",
    "cache_dir",
    "shared_semantic",
    "view",
]
