"""Exemplar files, calibration files and text windows: formats and their error messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from supervisor.constitution import load_constitution
from supervisor.detectors.calibration import (
    FORMAT,
    calibration_path,
    find_calibration,
    fingerprint,
    read_calibration,
)
from supervisor.detectors.embedding import windows
from supervisor.detectors.exemplars import exemplar_file, exemplars_for, read_exemplars
from supervisor.errors import ConstitutionError


def test_exemplar_lines_follow_the_example_fields(tmp_path: Path) -> None:
    """Each line is an example (prompt optional, output, expect); the source names the line."""
    path = tmp_path / "p.jsonl"
    path.write_text('{"output": "bad text", "expect": "violated"}\n\n'
                    '{"prompt": "q", "output": "good text", "expect": "compliant"}\n')
    first, second = read_exemplars(path)
    assert (first.output, first.violated, first.source) == ("bad text", True, "p.jsonl:1")
    assert (second.prompt, second.violated, second.source) == ("q", False, "p.jsonl:3")


@pytest.mark.parametrize("line", [
    '{"text": "x", "expect": "violated"}',
    '{"output": "x", "expect": "maybe"}',
    'not json',
    '{"output": "  ", "expect": "violated"}',
])
def test_bad_exemplar_line_names_file_and_line(tmp_path: Path, line: str) -> None:
    """Unknown keys, bad labels, broken JSON and empty outputs are refused with the line."""
    path = tmp_path / "p.jsonl"
    path.write_text('{"output": "fine", "expect": "compliant"}\n' + line + "\n")
    with pytest.raises(ConstitutionError, match="line 2"):
        read_exemplars(path)


def test_child_constitution_inherits_parent_exemplars(tmp_path: Path) -> None:
    """A principle inherited from `base` uses base's exemplar file unless the child has one."""
    child = tmp_path / "child.yaml"
    child.write_text("id: child\nversion: 1.0.0\nextends: base\n")
    loaded = load_constitution(child)
    inherited = exemplar_file(loaded, "hate")
    assert inherited is not None and inherited.parent.name == "base.exemplars"
    own = tmp_path / "child.exemplars"
    own.mkdir()
    (own / "hate.jsonl").write_text('{"output": "x y z", "expect": "violated"}\n')
    assert exemplar_file(loaded, "hate") == own / "hate.jsonl"
    texts = [e.output for e in exemplars_for(loaded.principle("hate"), loaded)]
    assert texts[-1] == "x y z"
    assert texts[0] == loaded.principle("hate").examples[0].output


def test_fingerprint_ignores_examples_but_not_statement() -> None:
    """Leaving an example out keeps a principle's calibration; rewording it does not."""
    p = load_constitution("base").principle("hate")
    assert fingerprint(p.model_copy(update={"examples": p.examples[1:]})) == fingerprint(p)
    assert fingerprint(p.model_copy(update={"statement": "Something else entirely."})) != (
        fingerprint(p))


def test_calibration_file_of_wrong_format_is_refused(tmp_path: Path) -> None:
    """A file that is not a calibration says to run `supervisor calibrate` again."""
    path = tmp_path / "x.calibration.json"
    path.write_text(json.dumps({"format": "other"}))
    with pytest.raises(ConstitutionError, match="supervisor calibrate"):
        read_calibration(path)


def test_calibration_of_another_encoder_is_not_found(tmp_path: Path) -> None:
    """A file fitted with fp32 vectors is not used by an int8 encoder, nor one from before
    the encoder version was recorded (its int8 vectors were quantized per tensor)."""
    source = tmp_path / "c.yaml"
    source.write_text("id: c\nversion: 1.0.0\nextends: base\n")
    loaded = load_constitution(source)
    calibration_path(loaded).write_text(json.dumps({
        "format": FORMAT, "constitution": {"id": "c"},
        "encoder": {"precision": "fp32", "version": "all-MiniLM-L6-v2-fp32"},
        "principles": {}}))
    assert find_calibration(loaded, "all-MiniLM-L6-v2-fp32") is not None
    found = find_calibration(loaded, "all-MiniLM-L6-v2-int8-per-channel")
    assert found is not None and found.constitution == "base"  # the shipped parent's file
    calibration_path(loaded).write_text(json.dumps({
        "format": FORMAT, "constitution": {"id": "c"}, "encoder": {"precision": "int8"},
        "principles": {}}))
    found = find_calibration(loaded, "all-MiniLM-L6-v2-int8-per-channel")
    assert found is not None and found.constitution == "base"


def test_windows_cover_a_long_text_in_order() -> None:
    """A short text is one window; a long one is cut at spaces into windows that keep
    every word, in order."""
    assert windows("short text") == ("short text",)
    text = " ".join(f"word{i}" for i in range(800))
    parts = windows(text, size=500)
    assert len(parts) > 1 and all(len(p) <= 500 for p in parts)
    assert " ".join(parts).split() == text.split()


def test_windows_of_a_text_are_about_equal() -> None:
    """A 1,000-character answer with 600-character windows is two halves, not 600 and a
    400-character tail: halves embedded side by side finish together."""
    text = ("The balance grows a little faster with monthly compounding. " * 17)[:1000]
    parts = windows(text, size=600)
    assert len(parts) == 2 and abs(len(parts[0]) - len(parts[1])) < 60
    many = windows(" ".join(f"word{i}" for i in range(800)), size=500)
    assert max(map(len, many)) - min(map(len, many)) < 60
