"""Term views: the words of a text weighted as fitted (TF-IDF), read one way when fitting
and serving, stored in the exchange model file and explained in a reading."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from supervisor.detectors.exchange import FORMAT, Head, Reading, part_of, read_model
from supervisor.detectors.lexical import Terms, Vocabulary, fit_vocabulary, matrix, terms
from supervisor.errors import ConstitutionError

TEXTS = ["Sure, here is step one.", "I cannot help with that.", "Sure, here it is.",
         "Step one: sure.", "I cannot."]


def test_terms_are_lower_case_words_and_neighbouring_pairs() -> None:
    """One-letter words are dropped; look-alike letters are read in their normal form."""
    assert terms("Sure, HERE is a step") == ["sure", "here", "is", "step", "sure here",
                                             "here is", "is step"]
    assert terms("Ｓｕｒｅ here") == terms("sure here")  # fullwidth letters


def test_a_vocabulary_keeps_the_terms_most_texts_share() -> None:
    vocabulary = fit_vocabulary(TEXTS, min_count=2, size=3)
    # "sure" is in 3 texts, "cannot" and "here" in 2 (ties by name), "it" in 1 only
    assert vocabulary.names == ("sure", "cannot", "here")
    n = len(TEXTS)
    assert vocabulary.idf[0] == pytest.approx(math.log((1 + n) / (1 + 3)) + 1)


def test_a_vector_is_the_unit_sublinear_tf_idf_of_known_terms() -> None:
    vocabulary = Vocabulary.of(["sure", "step"], np.array([1.5, 2.0]))
    positions, values = vocabulary.vector("Sure sure, step. Unknown words.")
    raw = {0: (1 + math.log(2)) * 1.5, 1: 1.0 * 2.0}
    norm = math.hypot(*raw.values())
    assert dict(zip(positions.tolist(), values.tolist(), strict=True)) == pytest.approx(
        {k: v / norm for k, v in raw.items()})
    assert vocabulary.vector("nothing known")[0].size == 0


def test_fitting_and_serving_read_a_text_alike() -> None:
    """The sparse matrix a head is fitted on holds the vectors a served text gets."""
    vocabulary = fit_vocabulary(TEXTS, min_count=1)
    dense = matrix(vocabulary, TEXTS).toarray()
    for row, text in enumerate(TEXTS):
        positions, values = vocabulary.vector(text)
        expected = np.zeros(len(vocabulary.names))
        expected[positions] = values
        assert dense[row] == pytest.approx(expected)


def test_a_head_adds_what_its_term_views_weigh_and_names_the_words() -> None:
    vocabulary = Vocabulary.of(["sure here", "cannot"], np.array([1.0, 1.0]))
    view = Terms("opening", vocabulary, np.array([3.0, -3.0]))
    head = Head(np.zeros(2), 0.0, 0.5, terms=(view,))
    features = np.zeros(2, dtype=np.float32)
    complied = head.score(features, "a prompt", "Sure here is how.")
    refused = head.score(features, "a prompt", "I cannot do that.")
    assert complied > 0.5 > refused
    assert head.weigh(features, "a prompt", "Sure here is how.")[1] == ("'sure here' +3.00",)
    # the opening view reads the first characters of the answer only
    assert part_of("opening", "p", "x" * 400 + " cannot").endswith("x")
    line = Reading(0.9, 0.5, complied, 0.5, None, 0.0, ("'sure here' +3.00",)).explain()
    assert "words 'sure here' +3.00" in line


def test_term_views_round_trip_through_the_model_file(tmp_path: Path) -> None:
    view = Terms("answer", Vocabulary.of(["step", "sure"], np.array([1.2, 1.7])),
                 np.array([0.5, -0.25]))
    head = Head(np.array([1.0]), -0.5, 0.4, 0.2, (view,))
    path = tmp_path / "m.exchange.json"
    path.write_text(json.dumps({"format": FORMAT, "encoder": {"version": "e"},
                                "request": Head(np.array([1.0]), 0.0, 0.5).to_json(),
                                "exchange": head.to_json()}))
    loaded = read_model(path).exchange
    assert loaded.terms[0].vocabulary.names == ("step", "sure")
    assert loaded.score(np.ones(1, np.float32), "", "step sure") == pytest.approx(
        head.score(np.ones(1, np.float32), "", "step sure"))


@pytest.mark.parametrize(("change", "message"), [
    ({"part": "title"}, "reads one of"),
    ({"idf": [1.0]}, "one idf per distinct term"),
    ({"weights": [1.0, float("nan")]}, "one finite weight per term"),
])
def test_a_broken_term_view_says_how_to_rewrite_the_file(
        tmp_path: Path, change: dict[str, object], message: str) -> None:
    view = {"part": "answer", "terms": ["a1", "b2"], "idf": [1.0, 1.0], "weights": [1.0, 1.0]}
    head = {"weights": [0.0], "bias": 0.0, "threshold": 0.5, "terms": [{**view, **change}]}
    path = tmp_path / "m.exchange.json"
    path.write_text(json.dumps({"format": FORMAT, "encoder": {"version": "e"},
                                "request": head, "exchange": head}))
    with pytest.raises(ConstitutionError, match=f"(?s){message}.*fit-exchange"):
        read_model(path)


def test_a_model_of_the_first_format_still_loads(tmp_path: Path) -> None:
    """Files written before term views (format /1) load with none."""
    head = {"weights": [0.0], "bias": 0.0, "threshold": 0.5}
    path = tmp_path / "old.exchange.json"
    path.write_text(json.dumps({"format": "supervisor-exchange/1", "encoder": {"version": "e"},
                                "request": head, "exchange": head}))
    assert read_model(path).exchange.terms == ()
