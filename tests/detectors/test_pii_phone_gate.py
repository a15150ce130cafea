"""Presidio's phone recognizer behind a digit gate finds exactly what it finds alone."""

from __future__ import annotations

import json
import re
from pathlib import Path

import phonenumbers
import pytest
from phonenumbers import PhoneMetadata
from phonenumbers.phonenumbermatcher import _CLOSING_PARENS, _OPENING_PARENS
from phonenumbers.phonenumberutil import (
    _PLUS_CHARS,
    _VALID_PUNCTUATION,
    COUNTRY_CODES_FOR_NON_GEO_REGIONS,
    SUPPORTED_REGIONS,
)
from presidio_analyzer import RecognizerRegistry
from presidio_analyzer.predefined_recognizers import PhoneRecognizer

from supervisor.detectors.pii import PiiDetector, shared_pii
from supervisor.detectors.recognizers import (
    FEWEST_PHONE_DIGITS,
    PHONE_RUN_CHARS,
    GatedPhoneRecognizer,
    could_hold_phone_number,
    gate_phone_numbers,
)

SYNTH = Path(__file__).resolve().parents[3] / "shared" / "eval" / "presidio-synth" \
    / "synth_dev_750.json"
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
# short, spaced, letter-mixed and foreign numbers near the gate's edge; Presidio reports
# "1648" (four digits) and "3369 24" as phone numbers, so a longer gate would lose them
EDGES = [
    "dial 1648 for the desk", ">3369 24 Clarke Avenue",
    "no digits at all", "call 555", "room 12, bed 3", "1-2-3", "1 2 3 4", "1xx2xx3",
    "12x34", "ext 1234", "+49 30 1234", "030 1234", "Tel. 0711 123", "(030) 12 34",
    "+683 4002", "Niue +683 4002 or Tokelau +690 3012", "DE 1234 in 2024", "in 2024.",
    "+44 20 7946 0958", "0044 20 7946 0958", "+１ ４１５ ５５５ ０１３２",
    "1-800-FLOWERS", "1-800-FLO-WERS", "call 1x2x3x4 now", "(555) 0132 x12",
    "born 12/03/1990, seen 3 March", "ID 4 2 1 9 8", "\u200b5\u200b5\u200b5\u200b0",
]


def stock() -> PhoneRecognizer:
    return PhoneRecognizer()


def spans(results: list) -> list[tuple[int, int, str, float]]:
    return [(r.start, r.end, r.entity_type, r.score) for r in results]


def variants(text: str) -> list[str]:
    """The text as written and as people disguise numbers: full-width digits, digits
    spaced out, dashes of other kinds, an "x" between digit groups."""
    return [
        text,
        text.translate(FULL_WIDTH),
        re.sub(r"(?<=\d)(?=\d)", " ", text),
        text.replace("-", "\u2010").replace(" ", "\u00a0"),
        re.sub(r"(?<=\d)[ .-](?=\d)", "x", text),
    ]


def synth_texts() -> list[str]:
    if not SYNTH.exists():
        pytest.skip(f"{SYNTH} is absent: the shared evaluation data is not checked out")
    return [row["full_text"] for row in json.loads(SYNTH.read_text())]


def test_the_gate_knows_every_character_the_matcher_reads() -> None:
    """Every character libphonenumber lets into a candidate is one of the gate's."""
    theirs = re.compile("[" + _VALID_PUNCTUATION + _PLUS_CHARS + _OPENING_PARENS
                        + _CLOSING_PARENS + "]", re.IGNORECASE)
    ours = re.compile("[" + PHONE_RUN_CHARS + "]")
    missing = [hex(c) for c in range(0x110000) if theirs.match(chr(c)) and not ours.match(chr(c))]
    assert missing == []


def test_no_valid_number_is_shorter_than_the_gate() -> None:
    """FEWEST_PHONE_DIGITS is at most the shortest national number of any region."""
    shortest = min(
        min(n for n in metadata.general_desc.possible_length if n > 0)
        for metadata in [PhoneMetadata.metadata_for_region(r) for r in SUPPORTED_REGIONS]
        + [PhoneMetadata.metadata_for_nongeo_region(c) for c in COUNTRY_CODES_FOR_NON_GEO_REGIONS]
    )
    assert shortest >= FEWEST_PHONE_DIGITS
    assert phonenumbers.is_valid_number(phonenumbers.parse("+683 4002"))  # Niue: 4 digits


def test_the_gate_skips_text_without_a_long_enough_digit_run() -> None:
    """Three digits, or digits split by words, cannot be a phone number; four can."""
    assert not could_hold_phone_number("no digits at all")
    assert not could_hold_phone_number("call 555 or room 12")
    assert not could_hold_phone_number("in 20 min, 3 times")
    assert could_hold_phone_number("in 2024")
    assert could_hold_phone_number("5 5 5-0")
    assert could_hold_phone_number("1xx2xx3")  # letters libphonenumber may read as digits


@pytest.mark.parametrize("text", EDGES)
def test_gated_recognizer_equals_presidio_on_edge_cases(text: str) -> None:
    """Numbers at the gate's edge: the same findings, written in every disguise."""
    for variant in variants(text):
        assert spans(GatedPhoneRecognizer().analyze(variant, ["PHONE_NUMBER"])) == \
            spans(stock().analyze(variant, ["PHONE_NUMBER"])), variant


@pytest.mark.slow
def test_gated_recognizer_equals_presidio_on_presidio_synth() -> None:
    """All 750 presidio-synth texts and four disguised variants of each."""
    gated, plain = GatedPhoneRecognizer(), stock()
    skipped = found = 0
    for text in synth_texts():
        for variant in variants(text):
            expected = spans(plain.analyze(variant, ["PHONE_NUMBER"]))
            assert spans(gated.analyze(variant, ["PHONE_NUMBER"])) == expected, variant
            skipped += not could_hold_phone_number(variant)
            found += bool(expected)
    assert skipped > 1000 and found > 100  # the gate skips many texts, and numbers are found


def test_gate_replaces_presidios_recognizer_in_place() -> None:
    """Same place in the registry, same regions, leniency and context words."""
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.load_predefined_recognizers(languages=["en"])
    names = [r.name for r in registry.recognizers]
    before = next(r for r in registry.recognizers if type(r) is PhoneRecognizer)
    gate_phone_numbers(registry)
    after = registry.recognizers[names.index("PhoneRecognizer")]
    assert [r.name for r in registry.recognizers] == names
    assert type(after) is GatedPhoneRecognizer
    assert (after.supported_regions, after.leniency, after.context) == \
        (before.supported_regions, before.leniency, before.context)


@pytest.mark.slow
def test_the_detector_analyses_with_the_gated_recognizer() -> None:
    """The shared detector's Presidio has no ungated phone recognizer left."""
    detector: PiiDetector = shared_pii()
    detector.warm()
    kinds = [type(r) for r in detector.analyzer.registry.recognizers]
    assert GatedPhoneRecognizer in kinds and PhoneRecognizer not in kinds
    text = "Reach the ward on +44 20 7946 0958."
    assert [(r.entity_type, text[r.start:r.end]) for r in
            detector.analyze(text, ["PHONE_NUMBER"], 0.0)] == \
        [("PHONE_NUMBER", "+44 20 7946 0958")]
