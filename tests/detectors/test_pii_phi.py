"""PHI is identifiable health information, not a name; stored texts stay readable.

`phi-disclosure` (healthcare) fires on a patient's name with a diagnosis or visit, on an
MRN, on a date of service or a patient's phone; never on public figures, fictional
characters, historical names, brands or drug names. Ledger redaction keeps drug names,
doses, dosing intervals and ages under 90, and removes the dates and places that
identify a person under HIPAA's Safe Harbor.
"""

from __future__ import annotations

import pytest

from supervisor.constitution import Principle, load_constitution
from supervisor.detectors.health import CONTEXT, sentences
from supervisor.detectors.pii import PiiDetector, shared_pii
from supervisor.revise import apply_local

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pii() -> PiiDetector:
    detector = shared_pii()
    detector.warm()
    return detector


@pytest.fixture(scope="module")
def phi() -> Principle:
    return load_constitution("healthcare").principle("phi-disclosure")


def fired(pii: PiiDetector, phi: Principle, text: str) -> dict[str, list[str]]:
    """label -> texts of phi-disclosure's findings on `text` (empty when it does not fire)."""
    found: dict[str, list[str]] = {}
    for finding in pii.scan([phi], prompt="", text=text).get(phi.id, ()):
        found.setdefault(finding.label, []).append(finding.text)
    return found


@pytest.mark.parametrize("text", [
    "Harry Potter is a fictional character, so he has no criminal history; in the books "
    "he is often treated in the hospital wing at Hogwarts after Quidditch injuries.",
    "Adolf Hitler became chancellor of Germany in 1933 and led the Nazi regime until 1945.",
    "Joe Biden is the 46th president of the United States; the president tested positive "
    "for COVID-19 in July 2022, as the White House said.",
    "Judo is a martial art created in Japan by Kano Jigoro in 1882.",
    "You can contact Amazon online through the Help section of its website.",
    "Robert Downey Jr. has spoken openly about his past addiction and his time in rehab.",
    "Donald Duck is a cartoon character; he has no mental health history, though the "
    "cartoons show his famous temper.",
    "The maximum daily dose of acetaminophen for adults is 4,000 mg; ibuprofen is "
    "usually taken every 6 hours with food.",
    "Call the clinic at 617-555-0100 to book a flu vaccine appointment.",
    "Barack Obama signed the Affordable Care Act, which changed how patients get insurance.",
    "The Pulse Nightclub shooting left 53 people injured and 49 dead.",
])
def test_names_without_a_patient_do_not_fire(pii: PiiDetector, phi: Principle,
                                             text: str) -> None:
    """Public, fictional and historical people, brands, drugs and a clinic's own phone
    are no patient's health information."""
    assert fired(pii, phi, text) == {}


def test_a_patient_name_with_a_diagnosis_fires_and_says_why(pii: PiiDetector,
                                                           phi: Principle) -> None:
    """The name counts with the health words that linked it, and only the name is
    redacted by the principle's remedy."""
    text = "Maria Gonzalez was diagnosed with type 2 diabetes at her last visit."
    found = fired(pii, phi, text)
    assert found["PERSON"] == ["Maria Gonzalez"]
    assert found[CONTEXT] == ["diagnosed"]
    findings = pii.scan([phi], prompt="", text=text)[phi.id]
    assert apply_local(text, [phi], findings) == (
        "<PERSON> was diagnosed with type 2 diabetes at her last visit.")


@pytest.mark.parametrize("text", [
    "Maria Gonzalez has a history of diabetes and signed the consent form for surgery.",
    "Maria Gonzalez should book a follow-up after the series of blood tests.",
])
def test_clinical_words_that_also_describe_public_lives_do_not_hide_a_patient(
        pii: PiiDetector, phi: Principle, text: str) -> None:
    """'history of', 'signed', 'book', 'series' are everyday clinical words, not fame."""
    assert fired(pii, phi, text)["PERSON"] == ["Maria Gonzalez"]


def test_a_surname_after_a_title_is_a_patient(pii: PiiDetector, phi: Principle) -> None:
    """One word counts after Mr./Ms. (a drug and a lab value are health information)."""
    found = fired(pii, phi, "Ms. Lopez is on warfarin and her INR was 4.2 yesterday.")
    assert found["PERSON"] == ["Lopez"]


def test_the_same_name_without_health_information_does_not_fire(pii: PiiDetector,
                                                                phi: Principle) -> None:
    """Take the diagnosis away and the name is no disclosure."""
    assert fired(pii, phi, "Maria Gonzalez wrote the guide to the new parking rules.") == {}


def test_an_mrn_fires_on_its_own(pii: PiiDetector, phi: Principle) -> None:
    """A medical record number is health information by itself: no name needed."""
    assert fired(pii, phi, "Record MRN 00482913 is ready.")["MEDICAL_RECORD_NUMBER"] == [
        "00482913"]


def test_a_patients_phone_and_dates_of_service_fire(pii: PiiDetector,
                                                   phi: Principle) -> None:
    """Contact details and admission dates count in a sentence about a patient."""
    found = fired(pii, phi, "Maria Gonzalez (MRN 00482913) was seen for the biopsy; "
                            "call her at 617-555-0148.")
    assert found["PHONE_NUMBER"] == ["617-555-0148"]
    found = fired(pii, phi, "Ellen Park was admitted on March 4 for pneumonia.")
    assert "PERSON" in found and any("March 4" in d for d in found["DATE_TIME"])


def test_a_dosing_interval_is_not_a_date_of_service(pii: PiiDetector,
                                                    phi: Principle) -> None:
    """'every 6 hours for 3 days' beside a patient is treatment, not a date to redact."""
    found = fired(pii, phi, "Patient Ellen Park should take 500 mg every 6 hours for 3 days.")
    assert "PERSON" in found and "DATE_TIME" not in found


DOSING = ("The maximum daily dose of acetaminophen is 4,000 mg: a 72-year-old should "
          "take 1,000 mg every 6 hours at most, and less in 2024 guidance from Texas.")


def test_stored_text_keeps_drugs_doses_intervals_and_ages(pii: PiiDetector) -> None:
    """Nothing in a dosing answer identifies anyone: the stored text equals the answer."""
    assert pii.redact_all(DOSING) == DOSING


def test_stored_text_loses_dates_places_and_ages_that_identify(pii: PiiDetector) -> None:
    """A birth date, a street address, a city and an age over 89 are redacted; the year
    alone and the state stay."""
    text = ("Ellen Park, a 92-year-old, was born on March 3, 1931 and lives at "
            "12 Elm Street in Springfield, Illinois since 1980.")
    redacted = pii.redact_all(text)
    for gone in ("Ellen Park", "92-year-old", "March 3", "12 Elm Street", "Springfield"):
        assert gone not in redacted
    assert "Illinois" in redacted and "since 1980" in redacted


def test_linked_entities_must_be_checked_entities() -> None:
    """A linked_to_health entity that the check does not list is a mistake to fix."""
    with pytest.raises(ValueError, match="linked_to_health names PERSON"):
        Principle.model_validate({
            "id": "phi", "statement": "No identifiers in the answer.", "action": "block",
            "citations": ["x"], "checks": [{"pii": {"entities": ["US_SSN"],
                                                    "linked_to_health": ["PERSON"]}}]})


def test_sentences_keep_titles_and_initials_inside() -> None:
    """'Dr.' and 'Jr.' do not end a sentence; a full stop and a line break do."""
    text = "Dr. Lee saw Robert Downey Jr. today. He is well.\nNext line"
    parts = [text[s.start:s.end].strip() for s in sentences(text)]
    assert parts == ["Dr. Lee saw Robert Downey Jr. today.", "He is well.", "Next line"]
