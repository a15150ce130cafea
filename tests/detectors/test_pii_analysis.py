"""A text's kept analysis: the checks' entities, then the redaction's, give what fresh
analyses give, in the same order, however often and in whatever order they are asked."""

from __future__ import annotations

import pytest

from supervisor.constitution import PII_ENTITIES
from supervisor.detectors.names import related_people
from supervisor.detectors.normal import normalise
from supervisor.detectors.pii import REDACT_MIN_SCORE, PiiDetector, shared_pii, specific_first

pytestmark = pytest.mark.slow

TEXTS = [
    "Patient Maria Lopez, SSN 536-22-8193, was seen on 3 March 2024 at 12 Elm Street, "
    "Springfield; call her at (415) 555-0132 or write to maria.lopez@example.org.",
    "The card on file is 4111 1111 1111 1111, expiring 09/28; IBAN GB82 WEST 1234 5698 "
    "7654 32 for the refund, routing 011000015.",
    # look-alike digits, a zero-width space and a non-breaking hyphen: the spans found
    # on the normal form map back to different offsets of this text
    "Call Dr. Tomas Berg on ５５５\u2011０１３２ or 415\u200b555\u20110199; MRN 00482913.",
    "Drink water regularly, sleep seven to nine hours, and walk most days of the week.",
    "Morrison, Rogers and Torres met Faina D. Yefremova in Boston; later Yefremova left.",
]
# (entities, min_score) as a moderation asks them: base's check, then the redaction
ASKS = [
    (("US_SSN", "CREDIT_CARD", "IBAN_CODE", "US_BANK_NUMBER", "US_PASSPORT", "US_ITIN"), 0.5),
    (PII_ENTITIES, REDACT_MIN_SCORE),
    (("PERSON", "US_SSN", "PHONE_NUMBER", "EMAIL_ADDRESS", "MEDICAL_RECORD_NUMBER"), 0.6),
    (("PHONE_NUMBER",), 0.3),
    (PII_ENTITIES, 0.9),  # kept at any score: a higher floor drops what is under it
    (PII_ENTITIES, REDACT_MIN_SCORE),  # asked again: nothing runs, the same answer
]


@pytest.fixture(scope="module")
def pii() -> PiiDetector:
    detector = shared_pii()
    detector.warm()
    return detector


def found(pii: PiiDetector, text: str, entities: tuple[str, ...], score: float
          ) -> list[tuple[str, int, int, float]]:
    return [(r.entity_type, r.start, r.end, round(float(r.score), 6))
            for r in pii.analyze(text, entities, score)]


def presidio(pii: PiiDetector, text: str, entities: tuple[str, ...], score: float
             ) -> list[tuple[str, int, int, float]]:
    """What `analyze` gives when Presidio is asked for exactly these entities at this score
    (the detector's steps around Presidio, for a text of one window)."""
    folded = normalise(text)
    wanted = sorted(set(entities))
    results = specific_first(pii.analyzer.analyze(folded.text, language="en",
                                                  entities=wanted, score_threshold=score))
    if "PERSON" in wanted:
        results = [r for r in related_people(folded.text, results) if r.entity_type in wanted]
    return [(r.entity_type, *folded.span(r.start, r.end), round(float(r.score), 6))
            for r in results]


@pytest.mark.parametrize("text", TEXTS)
def test_kept_analysis_answers_as_presidio_asked_afresh(pii: PiiDetector, text: str) -> None:
    """Each ask, after the others on the same text, equals Presidio asked for exactly it."""
    fresh = [presidio(pii, text, entities, score) for entities, score in ASKS]
    pii._recent.clear()
    kept = [found(pii, text, entities, score) for entities, score in ASKS]
    assert kept == fresh
    assert any(fresh), "the texts are meant to hold identifiers"


def test_redaction_after_the_checks_removes_what_a_fresh_one_does(pii: PiiDetector) -> None:
    """The ledger's redaction right after a check on the same text."""
    text = TEXTS[0]
    pii._recent.clear()
    alone = pii.redact_all(text)
    pii._recent.clear()
    pii.analyze(text, ASKS[0][0], ASKS[0][1])
    assert pii.redact_all(text) == alone
    assert "536-22-8193" not in alone and "maria.lopez@example.org" not in alone
