"""The normal form every detector reads, and the offset map back to the original text."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from supervisor.detectors.normal import DASHES, SPACES, fold, normalise, pieces

SSN = "536-22-8193"
# a plain SSN's pattern in the normal form: what a recognizer would find
FOUND = re.compile(r"\d{3}-\d{2}-\d{4}")


def test_look_alike_dashes_digits_and_spaces_fold_to_ascii() -> None:
    """Dash and minus variants become "-", full-width digits ASCII digits, odd spaces " "."""
    for dash in ("\u2011", "\u2010", "\u2013", "\u2212", "\ufe63", "\uff0d"):
        assert normalise(SSN.replace("-", dash)).text == SSN
    assert normalise("５３６-２２-８１９３").text == SSN
    assert normalise("call\u00a0me\u202fnow\u3000please").text == "call me now please"


def test_zero_width_characters_are_removed_and_their_span_kept() -> None:
    """Zero-width characters vanish, and the span of the number around them covers them."""
    original = "SSN: 5\u200b36-2\u200c2-8\u200d1\u206093\ufeff."
    folded = normalise(original)
    assert folded.text == "SSN: 536-22-8193."
    match = FOUND.search(folded.text)
    assert match is not None
    start, end = folded.span(match.start(), match.end())
    assert original[start:end] == "5\u200b36-2\u200c2-8\u200d1\u206093"


def test_ascii_text_is_its_own_normal_form() -> None:
    """Ordinary ASCII text is unchanged and its offsets are the same (detectors score it as
    before)."""
    text = "Patient John Whitaker, SSN 536-22-8193, was treated."
    folded = normalise(text)
    assert folded.text == text and folded.identity
    assert folded.span(27, 38) == (27, 38)


def test_a_span_inside_a_folded_character_widens_to_the_whole_character() -> None:
    """A ligature folds to two letters; a span on either maps to the one original character."""
    folded = normalise("a\ufb01b")  # "aﬁb" -> "afib"
    assert folded.text == "afib"
    assert folded.span(2, 3) == (1, 2) and folded.span(1, 2) == (1, 2)
    assert folded.span(0, 4) == (0, 3)


def test_casefold_for_phrases_keeps_the_map() -> None:
    """Case folding that lengthens a character (ß to ss) still maps back to it."""
    folded = normalise("Stra\u00dfe KILL", casefold=True)
    assert folded.text == "strasse kill"
    assert folded.span(8, 12) == (7, 11)


def test_a_combining_mark_after_ascii_composes_with_its_letter() -> None:
    """"e" and a combining acute become "é", mapped to both original characters."""
    folded = normalise("cafe\u0301!")
    assert folded.text == "caf\u00e9!"
    assert folded.span(3, 4) == (3, 5) and folded.span(4, 5) == (5, 6)


@given(st.text(max_size=60))
def test_every_normalised_index_maps_to_a_valid_original_index(text: str) -> None:
    """The map sends each normalised character to a non-empty span of the original, in
    order, and the end of the text to the end of the original."""
    folded = normalise(text)
    previous = 0
    for index in range(len(folded.text)):
        start, end = folded.span(index, index + 1)
        assert 0 <= start < end <= len(text)
        assert folded.origin(index) == start >= previous
        previous = start
    assert folded.origin(len(folded.text)) == len(text)
    assert folded.span(0, len(folded.text))[1] <= len(text)


DIGITS = {str(d): (str(d), chr(0xFF10 + d)) for d in range(10)}  # ASCII and full-width
INVISIBLE = ("", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff")
SEPARATORS = ("-", *DASHES, *SPACES)


@given(st.data(), st.text(alphabet=st.characters(whitelist_categories=("Ll", "Lu", "Zs")),
                          max_size=20), st.text(alphabet="abc .,", max_size=20))
def test_redacting_a_found_span_leaves_no_digit_of_the_entity(
        data: st.DataObject, prefix: str, suffix: str) -> None:
    """An SSN disguised with look-alike digits, dashes and zero-width characters is found in
    the normal form, and cutting its mapped span out of the original leaves none of its
    digits (nor a zero-width character between them)."""
    disguised = ""
    for index, char in enumerate(SSN):
        disguised += data.draw(st.sampled_from(INVISIBLE)) if index else ""
        pool = DIGITS[char] if char.isdigit() else SEPARATORS
        disguised += data.draw(st.sampled_from(pool))
    text = f"{prefix} ssn {disguised}{suffix}"
    folded = normalise(text)
    match = FOUND.search(folded.text)
    if all(s in ("-", *DASHES) for s in disguised if not s.isdigit() and s not in INVISIBLE):
        assert match is not None  # every dash folds to "-": the number reads plainly
    if match is None:
        return
    start, end = folded.span(match.start(), match.end())
    redacted = text[:start] + "<US_SSN>" + text[end:]
    assert not any(c.isdigit() for c in redacted)
    assert disguised[1:-1] not in redacted


@given(st.text(max_size=60), st.booleans())
def test_the_normal_form_is_each_piece_folded_in_turn(text: str, casefold: bool) -> None:
    """Runs taken whole (ASCII, text already in normal form) fold as their pieces would
    one by one: the shortcuts change nothing."""
    expected = "".join(fold(text[a:b], casefold=casefold) for a, b in pieces(text, 0, len(text)))
    assert normalise(text, casefold=casefold).text == expected
