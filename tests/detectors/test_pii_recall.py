"""What lifted PII recall on presidio-synth: numbers however separated, IBANs by their
checksum, lowercase names after strong cues, people read from people already found."""

from __future__ import annotations

import pytest

from supervisor.detectors.names import lowercase_names
from supervisor.detectors.pii import PiiDetector, shared_pii
from supervisor.detectors.recognizers import CuedPhoneRecognizer, LooseIbanRecognizer, iban_ok


def spans(recognizer: object, text: str) -> list[str]:
    # recognizers of several classes; all have analyze()
    return [text[r.start:r.end] for r in recognizer.analyze(text, [])]  # type: ignore[attr-defined]


@pytest.mark.parametrize("text", ["GB59.NAWV.7713.6867.0493.56", "gb59nawv77136867049356",
                                  "GB5 9 - NAWV - 7 7 1 3 - 6 8 6 7 - 0 4 9 3 - 5 6",
                                  "GB59  NAWV  7713 6867  0493 56"])
def test_an_iban_is_found_however_it_is_separated(text: str) -> None:
    """The mod-97 check finds the number in any layout, and stops at its country's length."""
    assert iban_ok("GB59NAWV77136867049356")
    assert spans(LooseIbanRecognizer(), f"My IBAN is {text} and more") == [text]


def test_an_iban_with_one_character_changed_is_not_one() -> None:
    assert not iban_ok("GB59NAWV77136867049357")
    assert spans(LooseIbanRecognizer(), "My IBAN is GB59.NAWV.7713.6867.0493.57") == []


@pytest.mark.parametrize("number", ["9 9 - 6 6 8 4 7 2", "699  956  915", "723813-266",
                                    "(99)-645  791"])
def test_a_cued_phone_number_is_found_with_any_separators(number: str) -> None:
    """Spaced digits, double spaces and odd grouping are still a number after 'Phone:'."""
    assert spans(CuedPhoneRecognizer(), f"Phone:\n{number}") == [number]


def test_spaced_digits_without_a_cue_are_no_phone_number() -> None:
    assert spans(CuedPhoneRecognizer(), "The scores were 9 9 - 6 6 8 4 7 2 in turn.") == []


@pytest.mark.parametrize(("text", "name"), [
    ("my name is vitoria", "vitoria"),
    ("follow up with benjamin a seiler in a couple of months.", "benjamin a seiler"),
    ("sometimes people call me višeslav", "višeslav"),
    ("eva kleist lives at 255 hersnapvej 18", "eva kleist"),
    ("tracy: i'm roberto's daughter", "roberto"),
])
def test_lowercase_names_after_strong_cues(text: str, name: str) -> None:
    assert [text[a:b] for a, b in lowercase_names(text)] == [name]


@pytest.mark.parametrize("text", ["call me back tomorrow", "follow up with them in a week",
                                  "my name is not important", "my mom's friend"])
def test_common_words_after_those_cues_are_no_names(text: str) -> None:
    assert lowercase_names(text) == []


@pytest.fixture(scope="module")
def pii() -> PiiDetector:
    detector = shared_pii()
    detector.warm()
    return detector


def people(pii: PiiDetector, text: str) -> list[str]:
    return sorted(text[r.start:r.end] for r in pii.analyze(text, ["PERSON"], 0.4))


@pytest.mark.slow
def test_names_listed_beside_a_person_are_people(pii: PiiDetector) -> None:
    """'Morrison, Rogers and Torres': one found, the list beside it follows."""
    text = "The company was started by three founders: Morrison, Rogers and Torres."
    assert people(pii, text) == ["Morrison", "Rogers", "Torres"]


@pytest.mark.slow
def test_a_word_of_a_full_name_is_that_person_again(pii: PiiDetector) -> None:
    text = "They sang verses from Faina D. Yefremova's book. Nobody writes like early Yefremova."
    assert "Yefremova" in people(pii, text)


@pytest.mark.slow
def test_a_name_on_a_street_line_is_a_place(pii: PiiDetector) -> None:
    """'5850 Jana Nerudy 894' is an address: no PERSON, a LOCATION."""
    text = "Ship it to 5850 Jana Nerudy 894, Prague."
    assert people(pii, text) == []
