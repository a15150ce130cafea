"""Which exemplar lines a principle's head is fitted on, and what the shared offset aims at."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from supervisor.constitution import load_constitution
from supervisor.detectors.exemplars import exemplar_file, read_exemplars
from supervisor.evaluation.calibrate import AUTHORED, _agreement, _authored, _exemplar_rows, _rows
from supervisor.evaluation.datasets import Item, moderation


def test_compliant_lookalikes_are_negatives_for_every_head() -> None:
    """self-harm's head reads its own file whole, and the compliant lines of the other
    files (a safe "kill a mosquito" is safe under every principle), but not their
    violating lines: a threat is violence without being self-harm."""
    base = load_constitution("base")
    rows = _exemplar_rows(base.principle("self-harm"), base)
    outputs = {r.output for r in rows}
    own = exemplar_file(base, "self-harm")
    other = exemplar_file(base, "violence-instructions")
    assert own is not None and other is not None
    assert {e.output for e in read_exemplars(own)} <= outputs
    violence = read_exemplars(other)
    assert {e.output for e in violence if not e.violated} <= outputs
    assert not {e.output for e in violence if e.violated} & outputs
    assert len(outputs) == len(rows)  # a line in two files is one row


def test_the_shared_offset_also_answers_to_every_exemplar_row_once() -> None:
    """The look-alikes are the only training text that shows what over-blocking costs,
    so the offset is tuned on them as a set of their own: each head's exemplar row once
    (so each has an out-of-fold score), a violation when some file says so. A
    principle without a semantic check lends its compliant lines, not its violations,
    which no head is meant to catch."""
    base = load_constitution("base")
    principles = [p for p in base.principles if p.check("semantic") is not None]
    rows = [_exemplar_rows(p, base) for p in principles]
    items = _authored(rows)
    lines = [line for per_head in rows for line in per_head]
    assert {(i.prompt, i.output) for i in items} == {(e.prompt, e.output) for e in lines}
    assert len(items) == len({i.id for i in items})
    assert all(i.id.startswith(f"{AUTHORED}:") for i in items)
    violating = {(e.prompt, e.output) for e in lines if e.violated}
    assert {(i.prompt, i.output) for i in items if i.violation} == violating
    injection = exemplar_file(base, "injected-instructions")
    assert injection is not None and base.principle("injected-instructions").check(
        "semantic") is None
    outputs = {i.output for i in items}
    assert {e.output for e in read_exemplars(injection) if not e.violated} <= outputs
    assert not {e.output for e in read_exemplars(injection) if e.violated} & outputs


def test_a_set_without_violations_counts_by_what_it_lets_through() -> None:
    """An app's own everyday answers have no violation, so their F1 is 0 whatever the
    heads do and could not pull the shared offset; they count by the share let through,
    while a labelled set still counts by F1."""
    assert _agreement([False] * 4, [False, True, False, False]) == 0.75
    assert _agreement([False] * 4, [False] * 4) == 1.0
    assert _agreement([True, False], [True, True]) == 2 / 3  # F1 = 2PR/(P+R), P 0.5, R 1


def test_a_text_clean_under_every_labelled_category_is_a_negative_for_the_rest(
        tmp_path: Path) -> None:
    """The moderation set has no privacy category, and some rows leave a category out.
    A text clean under every category it is labelled for is a negative for the others
    too (so the privacy head learns from ordinary text, not only from authored lines);
    a text that violates some category is still no negative for a principle it is not
    labelled for, since harms overlap."""
    base = load_constitution("base")
    path = tmp_path / "m.jsonl.gz"
    with gzip.open(path, "wt") as handle:
        handle.write(json.dumps({"prompt": "Lovely weather for the match today.", "H": 0})
                     + "\n")
        handle.write(json.dumps({"prompt": "a hateful text", "H": 1}) + "\n")
    items = list(moderation(path, base).items)
    items.append(Item("3", "", "a text nobody labelled", False))
    _, labels, ids = _rows(base.principle("third-party-privacy"), items, {})
    assert (ids, labels) == (["1"], [False])
    _, labels, ids = _rows(base.principle("hate"), items, {})
    assert (ids, labels) == (["1", "2"], [False, True])
