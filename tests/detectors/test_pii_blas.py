"""spaCy's NER on numpy's BLAS, held to one thread while a pass runs: same entities."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from supervisor.constitution import PII_ENTITIES
from supervisor.detectors.pii import OneBlasThread, PiiDetector

SYNTH = Path(__file__).resolve().parents[3] / "shared" / "eval" / "presidio-synth" \
    / "synth_dev_750.json"
TEXTS = [
    "Patient Maria Lopez, SSN 536-22-8193, was seen on 3 March 2024 at 12 Elm Street, "
    "Springfield; call her at (415) 555-0132 or write to maria.lopez@example.org.",
    "Dr. Tomas Berg of Northgate clinic reviewed the imaging with Priya Natarajan on "
    "Monday; the family in Oslo was told on 12 November.",
    "Morrison, Rogers and Torres met Faina D. Yefremova in Boston; later Yefremova left.",
]


def blas_threads() -> list[int]:
    assert np.ones((2, 2)) @ np.ones((2, 2)) is not None  # numpy's BLAS is loaded
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def test_one_thread_while_any_holder_remains_then_the_old_count() -> None:
    """Two overlapping holds: one thread until the last ends, then the count before."""
    before = blas_threads()
    assert before, "numpy's BLAS is not visible to threadpoolctl"
    hold = OneBlasThread()
    first, second = hold.held(), hold.held()
    first.__enter__()
    assert set(blas_threads()) == {1}
    second.__enter__()
    first.__exit__(None, None, None)  # the first ends while the second still runs
    assert set(blas_threads()) == {1}
    second.__exit__(None, None, None)
    assert blas_threads() == before


def ner_ops_use_blis(detector: PiiDetector) -> set[bool]:
    ner = detector.analyzer.nlp_engine.nlp["en"].get_pipe("ner")
    return {node.ops.use_blis for node in ner.model.walk()}


@pytest.fixture(scope="module")
def detectors() -> tuple[PiiDetector, PiiDetector]:
    on_numpy, on_blis = PiiDetector(), PiiDetector(numpy_blas=False)
    on_numpy.warm()
    on_blis.warm()
    return on_numpy, on_blis


@pytest.mark.slow
def test_the_detector_multiplies_with_numpy_unless_asked_not_to(
        detectors: tuple[PiiDetector, PiiDetector]) -> None:
    on_numpy, on_blis = detectors
    assert ner_ops_use_blis(on_numpy) == {False}
    assert ner_ops_use_blis(on_blis) == {True}


@pytest.mark.slow
def test_numpy_blas_finds_what_blis_finds(detectors: tuple[PiiDetector, PiiDetector]) -> None:
    """Every entity on our texts and the first 200 presidio-synth texts, at any score."""
    on_numpy, on_blis = detectors
    texts = list(TEXTS)
    if SYNTH.exists():
        texts += [row["full_text"] for row in json.loads(SYNTH.read_text())[:200]]

    def found(detector: PiiDetector, text: str) -> list[tuple[str, int, int, float]]:
        return [(r.entity_type, r.start, r.end, r.score)
                for r in detector.analyze(text, PII_ENTITIES, 0.0)]

    people = 0
    for text in texts:
        expected = found(on_blis, text)
        assert found(on_numpy, text) == expected, text
        people += any(e[0] == "PERSON" for e in expected)
    assert people >= 3  # NER's entities are among them
