"""The cue-based name recognizer: names found from the words around them, not from a list."""

from __future__ import annotations

import pytest

from supervisor.detectors.names import CuedNameRecognizer


def names(text: str) -> list[str]:
    return [text[r.start:r.end] for r in CuedNameRecognizer().analyze(text, ["PERSON"])]


@pytest.mark.parametrize(("text", "expected"), [
    ("My name is Siiri", ["Siiri"]),
    ("Name:    Iva D. Grusová Address: PSC 6695", ["Iva D. Grusová"]),
    ("Please follow up with Sigrid Nyström in a couple of months.", ["Sigrid Nyström"]),
    ("Willemine ten Pas will be talking in the conference room.", ["Willemine ten Pas"]),
    ("I want to add Irenke Sörös as a beneficiary.", ["Irenke Sörös"]),
    ("Have you heard of Ravil G Yefimov before?", ["Ravil G Yefimov"]),
    ("Ubul: What a wife.", ["Ubul"]),
    ("Danial, can I please speak to you?", ["Danial"]),
    ("It was under my partner's name Shane M Culp", ["Shane M Culp"]),
])
def test_cued_names_are_found(text: str, expected: list[str]) -> None:
    """A capitalised name after a naming cue, with initials and particles, is one span."""
    assert names(text) == expected


@pytest.mark.parametrize("text", [
    "The appointment is on Monday at the Riverside clinic.",
    "Date: 2003-08-28 12:13:52",
    "Bot: Where would you like the parcel delivered?",
    "The report was written for Entertainment Weekly.",
    "Take ibuprofen with food, as the label directs.",
    "Send it to Paris by Friday.",
])
def test_capitalised_words_without_a_person_cue_are_not_names(text: str) -> None:
    """Dates, labels, magazines, weekdays and one-word places after weak cues stay unflagged."""
    assert names(text) == []


def test_weak_cue_needs_a_full_name() -> None:
    """After 'to' or 'with' one capitalised word is not enough; first and last name are."""
    assert names("Give the form to Reception") == []
    assert names("Give the form to Amadeo Vitorović") == ["Amadeo Vitorović"]
