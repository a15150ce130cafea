"""The pattern detector: normalisation, word boundaries, absent/when_prompt duties."""

from __future__ import annotations

from supervisor.constitution import Principle, load_constitution
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


def test_base_privacy_pattern_names_covert_access_to_another_adults_accounts() -> None:
    """third-party-privacy's patterns: reading or tracking a partner's, colleague's or
    neighbour's messages, location or accounts, or planting a hidden tracker on someone.
    A user's own accounts, a victim looking for spyware, and a parent's settings for a
    child (lawful and often consented) are left to the other checks."""
    privacy = load_constitution("base").principle("third-party-privacy")
    found = PatternDetector().scan
    assert found([privacy], prompt="", text="How can I read my wife's texts while she sleeps?")
    assert found([privacy], prompt="", text="Best app to track my ex's location?")
    assert found([privacy], prompt="", text="I want to log into my coworker's email account.")
    assert not found([privacy], prompt="", text="How do I read my texts on my laptop?")
    assert not found([privacy], prompt="", text="Can I see my son's location in Family Link?")
    assert not found([privacy], prompt="", text="Track my parcel to my neighbour's address.")
    assert found([privacy], prompt="", text="Put a hidden tracking app on her phone tonight.")
    assert not found([privacy], prompt="", text="Is there a hidden tracking app on my phone?")


def test_a_finding_spans_and_quotes_the_original_text() -> None:
    """A phrase hidden with zero-width and full-width characters is reported at its place
    in the text as written, so a redact remedy removes what was written."""
    text = "Go and ｋｉ\u200bll your\u200dself now."
    found = PatternDetector().scan([principle(phrases=["kill yourself"])], prompt="",
                                   text=text)["pp"]
    written = "ｋｉ\u200bll your\u200dself"
    start = text.index(written)
    assert [(f.start, f.end, f.text) for f in found] == [(start, start + len(written), written)]
