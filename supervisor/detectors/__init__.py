"""Local, in-process checks that turn text into Findings: pii, pattern, dose, semantic.

Each detector kind sees every principle that uses it at once, so the expensive part
(Presidio's NLP pass, one embedding) runs once per text whatever the number of
principles. Detectors are built lazily and once per process: a constitution that uses
no `semantic` check never loads the encoder.
"""

from __future__ import annotations

from supervisor.constitution import Constitution
from supervisor.detectors import presidio_import
from supervisor.detectors.base import Calibrated, Detector, Findings

# before any detector imports Presidio: its transformers engine is never used here
presidio_import.install()

__all__ = ["Calibrated", "Detector", "Findings", "detectors_for", "preload"]


def detectors_for(constitution: Constitution) -> dict[str, Detector]:
    """The detectors the constitution needs, built on first use and shared in the process."""
    kinds = {c.kind for p in constitution.principles for c in p.checks} - {"judge"}
    built: dict[str, Detector] = {}
    for kind in sorted(kinds):
        built[kind] = _build(kind, constitution)
    return built


def _build(kind: str, constitution: Constitution) -> Detector:
    if kind == "pattern":
        from supervisor.detectors.pattern import PatternDetector

        return PatternDetector()
    if kind == "dose":
        from supervisor.detectors.dose import DoseDetector

        return DoseDetector()
    if kind == "pii":
        from supervisor.detectors.pii import shared_pii

        pii: Detector = shared_pii()
        return pii
    if kind == "exchange":
        from supervisor.detectors.exchange import bound_exchange

        exchange: Detector = bound_exchange(constitution)
        return exchange
    if kind == "semantic":
        from supervisor.detectors.semantic import shared_semantic

        # bound to the constitution's exemplar files and calibration, as `eval` measures it
        semantic: Detector = shared_semantic().bind(constitution)
        return semantic
    raise ValueError(f"no detector of kind {kind!r}")


def preload(constitution: Constitution) -> None:
    """Import the libraries the constitution's detectors use, now and in this one thread.

    Two threads importing spaCy or torch for the first time at once (a server's warm-up
    and its first request) can see each other's half-initialised modules and fail with a
    circular-import error; a server calls this once before it takes requests.
    """
    kinds = {c.kind for p in constitution.principles for c in p.checks}
    if "pii" in kinds:
        import presidio_analyzer  # noqa: F401
        import spacy  # noqa: F401
    if kinds & {"semantic", "exchange"}:  # what the encoder loads its model with
        from supervisor.detectors.embedding import preload as preload_encoder

        preload_encoder()
