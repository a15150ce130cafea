"""The pii detector: Presidio plus our recognizers, offline, split per principle, redaction."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from supervisor.constitution import Principle
from supervisor.decision import Finding
from supervisor.detectors.pii import (
    CHUNK_CHARS,
    PiiDetector,
    shared_pii,
    windows,
    without_overlaps,
)
from supervisor.detectors.recognizers import aba_ok, dea_ok, luhn_ok, npi_ok

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pii() -> PiiDetector:
    detector = shared_pii()
    detector.warm()
    return detector


def labels(pii: PiiDetector, text: str, *entities: str) -> dict[str, str]:
    return {r.entity_type: text[r.start:r.end] for r in pii.analyze(text, entities, 0.3)}


def principle(pid: str, entities: list[str], min_score: float) -> Principle:
    return Principle.model_validate({
        "id": pid, "statement": "No identifiers in the answer.", "action": "block",
        "citations": ["x"], "checks": [{"pii": {"entities": entities, "min_score": min_score}}]})


def test_checksums_accept_known_good_and_reject_one_digit_off() -> None:
    """NPI, DEA, ABA and Luhn checks accept published-valid numbers and reject altered ones."""
    assert npi_ok("1234567893") and not npi_ok("1234567894")
    assert dea_ok("AB1234563") and not dea_ok("AB1234564")
    assert aba_ok("011000015") and not aba_ok("011000016")
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")


def test_finds_core_identifiers(pii: PiiDetector) -> None:
    """A name, SSN, card, email and MRN in one answer are each found as their type."""
    text = ("Patient John Whitaker, SSN 536-22-8193, MRN 00482913, card 4111 1111 1111 1111,"
            " email jw@example.org.")
    found = labels(pii, text, "PERSON", "US_SSN", "MEDICAL_RECORD_NUMBER", "CREDIT_CARD",
                   "EMAIL_ADDRESS")
    assert found == {"PERSON": "John Whitaker", "US_SSN": "536-22-8193",
                     "MEDICAL_RECORD_NUMBER": "00482913", "CREDIT_CARD": "4111 1111 1111 1111",
                     "EMAIL_ADDRESS": "jw@example.org"}


def test_labelled_numbers_need_their_label_and_checksum(pii: PiiDetector) -> None:
    """Routing and NPI numbers are found with a valid checksum, not with a bad one."""
    assert labels(pii, "routing number 011000015", "ABA_ROUTING_NUMBER")
    assert not labels(pii, "routing number 011000016", "ABA_ROUTING_NUMBER")
    assert labels(pii, "NPI: 1234567893", "NPI") == {"NPI": "1234567893"}
    assert not labels(pii, "NPI: 1234567894", "NPI")
    assert labels(pii, "account number 9876543210", "ACCOUNT_NUMBER")
    assert not labels(pii, "the order has 9876543210 grains", "ACCOUNT_NUMBER")


def test_email_domain_check_is_offline(pii: PiiDetector) -> None:
    """The email recognizer uses the bundled suffix list: a real TLD passes, a fake one fails."""
    assert labels(pii, "write to ana@clinic.org", "EMAIL_ADDRESS")
    assert not labels(pii, "write to ana@clinic.notarealtld", "EMAIL_ADDRESS")


def test_scan_splits_findings_per_principle_and_min_score(pii: PiiDetector) -> None:
    """One Presidio pass; each principle keeps only its entities above its own min_score."""
    cards = principle("cards", ["CREDIT_CARD"], 0.5)
    people = principle("people", ["PERSON"], 0.9)
    found = pii.scan([cards, people], prompt="", text="Maria Lopez paid with 4111111111111111.")
    assert [f.label for f in found["cards"]] == ["CREDIT_CARD"]
    assert "people" not in found  # spaCy's PERSON score (0.85) is below 0.9


def test_redact_replaces_spans_with_entity_type(pii: PiiDetector) -> None:
    """Redaction keeps the sentence and puts <TYPE> where the identifier was."""
    text = "Patient John Whitaker, SSN 536-22-8193, was seen."
    assert pii.redact_all(text) == "Patient <PERSON>, SSN <US_SSN>, was seen."


@pytest.mark.parametrize("code", ["034e1fcb", "a0e30ece", "b059fc13", "ae8912d2", "f41b62dc"])
def test_codes_are_not_taken_for_places_or_groups(pii: PiiDetector, code: str) -> None:
    """Hex run ids spaCy tagged as a place or a group stay readable in a record's context
    (an example's ledger lookup by run id failed on them); addresses still go."""
    assert pii.redact_all(code) == code
    assert pii.redact_all(f"run {code} of the clinic app") == f"run {code} of the clinic app"
    assert "Baker" not in pii.redact_all("She lives at 221B Baker Street.")


def test_specific_identifier_wins_an_overlap_with_a_generic_one() -> None:
    """Where a routing number and spaCy's DATE overlap, the routing label is kept."""
    a = Finding("", "pii", "DATE_TIME", 8, 17, "", 0.85)
    b = Finding("", "pii", "ABA_ROUTING_NUMBER", 8, 17, "", 0.85)
    assert [f.label for f in without_overlaps([a, b])] == ["ABA_ROUTING_NUMBER"]


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prefix=st.text(alphabet=st.characters(whitelist_categories=("Ll", "Zs")), max_size=30),
       area=st.integers(100, 665), group=st.integers(10, 99), serial=st.integers(1000, 9999))
def test_redaction_never_leaks_an_ssn_it_found(pii: PiiDetector, prefix: str, area: int,
                                               group: int, serial: int) -> None:
    """Whatever text surrounds it, a found SSN is absent from the redacted text."""
    ssn = f"{area}-{group}-{serial}"
    text = f"{prefix} ssn {ssn} on file"
    found = [r for r in pii.analyze(text, ["US_SSN"], 0.0)]
    redacted = pii.redact_all(text)
    for r in found:
        assert text[r.start:r.end] not in redacted


@pytest.mark.parametrize("number", ["+46 (0)8 928 571 38", "(579)888-3058", "01.84.17.61.18",
                                    "+447700 921 916", "259.735.7502x459"])
def test_phone_shapes_are_found_without_a_cue(pii: PiiDetector, number: str) -> None:
    """International, North American and French phone shapes are phones on their own."""
    assert labels(pii, f"Reach us: {number}", "PHONE_NUMBER") == {"PHONE_NUMBER": number}
    assert labels(pii, f"The line is {number} today", "PHONE_NUMBER") == {
        "PHONE_NUMBER": number}


def test_short_phone_numbers_need_a_cue(pii: PiiDetector) -> None:
    """'Phone: 467 3395' is a phone number; '467 3395 units shipped' is not."""
    assert labels(pii, "Phone: 467 3395", "PHONE_NUMBER") == {"PHONE_NUMBER": "467 3395"}
    assert labels(pii, "They're not answering at 71-33-52-22", "PHONE_NUMBER")
    assert not labels(pii, "We shipped 467 3395 units in 2023.", "PHONE_NUMBER")


def test_a_card_number_is_not_also_a_phone_number(pii: PiiDetector) -> None:
    """A generic phone match lying on a Luhn-valid card is dropped; the card stays."""
    found = labels(pii, "Call about card 4111 1111 1111 1111 please", "PHONE_NUMBER",
                   "CREDIT_CARD")
    assert found == {"CREDIT_CARD": "4111 1111 1111 1111"}


def test_cued_person_names_reach_principles(pii: PiiDetector) -> None:
    """A name spaCy's small model misses is found from its cue and reported as PERSON."""
    found = labels(pii, "My name is Bekbolat Musliyevich.", "PERSON")
    assert found == {"PERSON": "Bekbolat Musliyevich"}


def test_reused_spacy_pass_gives_the_same_redaction_as_a_fresh_one(pii: PiiDetector) -> None:
    """Redacting a text just checked (spaCy's pass reused) equals a detector seeing it new."""
    text = "Dr. Maria Lopez (phone 415-555-0132) saw Tom Baker, SSN 536-22-8193."
    fresh = PiiDetector().redact_all(text)
    pii.analyze(text, {"PERSON"})  # the check's pass, kept
    assert pii.redact_all(text) == fresh
    assert "Lopez" not in fresh and "536-22-8193" not in fresh


def test_a_labelled_sample_ssn_is_still_redacted(pii: PiiDetector) -> None:
    """Presidio skips well-known sample SSNs; next to its label, one is redacted anyway."""
    redacted = pii.redact_all("Patient John Smith, SSN 123-45-6789, social security "
                              "number: 078-05-1120.")
    assert "123-45-6789" not in redacted and "078-05-1120" not in redacted
    assert redacted.count("<US_SSN>") == 2


@pytest.mark.parametrize("number", ["000-00-0000", "666-12-3456",
                                    "123-00-4567", "123-45-0000", "111111111"])
def test_a_label_does_not_make_an_impossible_ssn_one(pii: PiiDetector, number: str) -> None:
    """The label skips Presidio's sample list, not the SSA's rules for issued numbers."""
    assert "US_SSN" not in labels(pii, f"SSN: {number}", "US_SSN")


def test_an_account_number_is_not_also_a_phone_number(pii: PiiDetector) -> None:
    """Every numbered identifier outranks a generic phone shape on the same digits."""
    found = labels(pii, "Account number: 2125550143.", "PHONE_NUMBER", "ACCOUNT_NUMBER")
    assert found == {"ACCOUNT_NUMBER": "2125550143"}


def test_analysis_holds_a_core_so_an_encoder_pass_beside_it_keeps_to_the_other(
        pii: PiiDetector, monkeypatch: pytest.MonkeyPatch) -> None:
    """While Presidio analyses, one of the shared cores is held (and handed back after)."""
    from supervisor.detectors.cores import shared_cores

    cores = shared_cores()
    seen: list[int] = []
    analyze = pii.analyzer.analyze

    def counting(*args: object, **kwargs: object) -> object:
        seen.append(cores.idle)
        return analyze(*args, **kwargs)

    monkeypatch.setattr(pii.analyzer, "analyze", counting)
    before = cores.idle
    assert labels(pii, "SSN 536-22-8193", "US_SSN") == {"US_SSN": "536-22-8193"}
    assert seen == [before - 1] and cores.idle == before


@given(length=st.integers(0, 5_000), size=st.integers(3, 900), share=st.floats(0, 0.49))
def test_windows_overlap_and_their_own_parts_cut_the_text_once(length: int, size: int,
                                                               share: float) -> None:
    """Windows are at most `size` long and cover the text; their own parts follow one
    another from 0 to the end, each at least half the overlap inside its window's cuts."""
    overlap = min(int(size * share), (size - 1) // 2)
    cut = windows(length, size, overlap)
    assert cut[0].start == 0 == cut[0].own_start and cut[-1].end == length == cut[-1].own_end
    for window in cut:
        assert window.end - window.start <= size
        if window.start:
            assert window.own_start - window.start >= overlap // 2
        if window.end < length:
            assert window.end - window.own_end >= overlap // 2
    for before, after in pairwise(cut):
        assert before.own_end == after.own_start and before.end - after.start == overlap


FILLER = "The patient reported mild symptoms and was advised to rest at home. "


def test_entities_on_and_between_window_cuts_are_found_once() -> None:
    """With small windows, an SSN lying across any cut (or near one) is found once, whole,
    at its own offsets, and redaction removes every one."""
    pii = PiiDetector(chunk_chars=2_000, overlap_chars=200)
    ssns = [f"{area}-22-8193" for area in range(530, 546)]
    parts, cursor = [], 0
    for index, ssn in enumerate(ssns):  # each one a few characters before a cut
        at = (index + 1) * 1_800 - 3 * index
        parts.append((FILLER * 40)[: at - cursor] + " " + ssn + " ")
        cursor = at + len(ssn) + 2
    text = "".join(parts) + FILLER
    found = pii.analyze(text, ["US_SSN"], 0.4)
    assert sorted(text[r.start:r.end] for r in found) == ssns
    redacted = pii.redact_all(text)
    assert not any(ssn in redacted for ssn in ssns)
    assert redacted.count("<US_SSN>") == len(ssns)


def test_a_text_longer_than_spacy_takes_is_analysed_to_its_end(pii: PiiDetector) -> None:
    """1,040,000 characters (spaCy refuses more than 1,000,000 at once): an SSN across
    the first window's cut and one near the end are both found and redacted."""
    cut = CHUNK_CHARS - 5
    body = FILLER * (1_040_000 // len(FILLER) + 1)
    text = (body[:cut] + " 536-22-8193 " + body[cut:1_040_000 - 30]
            + " SSN 219-09-9999 end.")
    assert len(text) > 1_040_000
    redacted = pii.redact_all(text)  # one pass over the text: about 30 s on two busy cores
    assert redacted == text.replace("536-22-8193", "<US_SSN>").replace("219-09-9999",
                                                                       "<US_SSN>")


ZERO_WIDTH = ("", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff")


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), prefix=st.text(alphabet=st.characters(whitelist_categories=("Ll",)),
                                      max_size=20))
def test_redaction_leaves_no_digit_of_a_disguised_ssn(pii: PiiDetector, data: st.DataObject,
                                                     prefix: str) -> None:
    """An SSN written with any mix of look-alike dashes, full-width digits and zero-width
    characters between its digits is redacted to the last of its characters."""
    from supervisor.detectors.normal import DASHES

    disguised = ""
    for index, char in enumerate("536-22-8193"):
        disguised += data.draw(st.sampled_from(ZERO_WIDTH)) if index else ""
        if char.isdigit():
            disguised += data.draw(st.sampled_from((char, chr(0xFF10 + int(char)))))
        else:
            disguised += data.draw(st.sampled_from(("-", " ", "/", *DASHES[:12])))
    redacted = pii.redact_all(f"{prefix} record {disguised} on file")
    # (spaCy may take odd letters and the number for one PERSON: still redacted)
    assert not any(c.isdigit() for c in redacted)
    assert not any(c in redacted for c in ZERO_WIDTH[1:])


def test_building_the_analyzer_prints_no_line_per_foreign_recognizer(
        caplog: pytest.LogCaptureFixture) -> None:
    """Presidio warns once for each recognizer of another language it skips; a server's
    log is no place for those, and the logger's own level is left as it was."""
    import logging

    before = logging.getLogger("presidio-analyzer").level
    with caplog.at_level(logging.WARNING, logger="presidio-analyzer"):
        PiiDetector().analyzer  # noqa: B018 (built on first access)
    assert not [r for r in caplog.records if "not added to registry" in r.getMessage()]
    assert logging.getLogger("presidio-analyzer").level == before
