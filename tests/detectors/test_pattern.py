"""The pattern detector: normalisation, word boundaries, absent/when_prompt duties."""

from __future__ import annotations

from supervisor.constitution import Principle
from supervisor.detectors.pattern import PatternDetector, normalise


def principle(**pattern: object) -> Principle:
    return Principle.model_validate({
        "id": "pp", "statement": "A test principle statement.", "action": "block",
        "citations": ["x"], "checks": [{"pattern": pattern}]})


def scan(p: Principle, text: str, prompt: str = "") -> list[str]:
    found = PatternDetector().scan([p], prompt=prompt, text=text)
    return [f.label for f in found.get("pp", ())]


def test_phrase_matches_through_case_width_and_zero_width_tricks() -> None:
    """Full-width letters, zero-width spaces and capitals do not hide a phrase."""
    p = principle(phrases=["kill yourself"])
    assert scan(p, "KILL yourself")
    assert scan(p, "ｋｉｌｌ yourself")
    assert scan(p, "ki\u200bll your\u200dself")


def test_phrase_needs_word_boundaries() -> None:
    """A phrase inside a longer word does not match (skill yourselfish)."""
    assert not scan(principle(phrases=["kill yourself"]), "skill yourselfish")


def test_absent_fires_only_when_missing_and_when_prompt_gates_it() -> None:
    """`absent` reports a missing duty; `when_prompt` limits it to matching prompts."""
    p = principle(absent=[r"\b911\b"], when_prompt=["chest pain"])
    assert scan(p, "Rest.", prompt="I have chest pain") == ["missing"]
    assert scan(p, "Call 911 now.", prompt="I have chest pain") == []
    assert scan(p, "Rest.", prompt="What is a calorie?") == []


def test_normalise_removes_invisible_characters() -> None:
    """Normalisation folds width and case and drops invisible format characters."""
    assert normalise("Ａ\u200bB\ufeffc") == "abc"
