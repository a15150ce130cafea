"""PII span scoring: half-overlap matching, type mapping, unsupported types kept."""

from __future__ import annotations

from dataclasses import dataclass

from supervisor.evaluation.pii import Sample, Span, score_pii


@dataclass
class Result:
    entity_type: str
    start: int
    end: int


def test_found_missed_and_wrong_type_are_counted() -> None:
    """A covering prediction finds its span; a wrong type or tiny overlap does not."""
    samples = [
        Sample("Ana Silva paid with card 4111111111111111 in Porto", (
            Span("PERSON", 0, 9), Span("CREDIT_CARD", 25, 41), Span("GPE", 45, 50),
            Span("ORGANIZATION", 0, 3))),
    ]

    def analyze(text: str, entities: list[str], min_score: float) -> list[Result]:
        return [Result("PERSON", 0, 3), Result("CREDIT_CARD", 25, 41), Result("URL", 45, 50)]

    scores = score_pii(samples, analyze)
    by = {e.entity: e for e in scores.entities}
    assert by["PERSON"].found == 0  # 3 of 9 characters is under half
    assert by["CREDIT_CARD"].found == 1 and by["CREDIT_CARD"].precision == 1.0
    assert by["GPE"].found == 0 and by["GPE"].ours == "LOCATION"
    assert by["ORGANIZATION"].ours is None and by["ORGANIZATION"].gold == 1
    assert scores.target_recall == 0.5  # PERSON missed, CREDIT_CARD found
