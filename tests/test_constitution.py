"""Loading constitutions: schema, extends, hashing and errors that name line, key and fix."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from supervisor.constitution import load_constitution, shipped
from supervisor.errors import ConstitutionError

MINIMAL = """\
id: mini
version: 1.0.0
principles:
  - id: no-shouting
    statement: The answer does not shout at the user in capitals.
    action: flag
    citations: ["style guide 1"]
    checks:
      - pattern: {regex: ['[A-Z]{10,}']}
"""


def write(tmp_path: Path, text: str, name: str = "c.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_shipped_constitutions_load_and_extend_base() -> None:
    """base, healthcare and finance ship; the domain ones inherit base's principles."""
    assert {"base", "healthcare", "finance"} <= set(shipped())
    base = load_constitution("base")
    for cid in ("healthcare", "finance"):
        child = load_constitution(cid)
        assert child.lineage == (f"base@{base.version}",)
        assert {p.id for p in base.principles} <= {p.id for p in child.principles}


def test_every_shipped_principle_cites_and_has_two_examples_each_way() -> None:
    """Each shipped principle cites a rule and has two violating and two compliant examples."""
    for cid in shipped():
        for p in load_constitution(cid).principles:
            assert p.citations, p.id
            expects = [e.expect for e in p.examples]
            assert expects.count("violated") >= 2 and expects.count("compliant") >= 2, p.id


def test_base_principles_name_moderation_categories() -> None:
    """Base harm principles map to OpenAI moderation categories for /v1/moderations."""
    base = load_constitution("base")
    categories = {p.moderation_category for p in base.principles} - {None}
    assert {"sexual", "sexual/minors", "hate", "harassment", "violence", "self-harm",
            "illicit"} <= categories


def test_unknown_key_names_line_key_and_allowed_keys(tmp_path: Path) -> None:
    """A typo'd key (acton) is reported with its line and the keys that are allowed."""
    path = write(tmp_path, MINIMAL.replace("    action: flag", "    acton: flag"))
    with pytest.raises(ConstitutionError) as caught:
        load_constitution(path)
    message = str(caught.value)
    assert "line 6" in message and "'acton'" in message and "action" in message
    assert caught.value.line == 6 and str(path) in message


def test_bad_value_names_its_line(tmp_path: Path) -> None:
    """An action outside the allow-list is reported on its own line."""
    path = write(tmp_path, MINIMAL.replace("action: flag", "action: delete"))
    with pytest.raises(ConstitutionError) as caught:
        load_constitution(path)
    assert caught.value.line == 6 and "action" in str(caught.value)


def test_duplicate_principle_ids_are_refused(tmp_path: Path) -> None:
    """Two principles with one id is an error naming the second one's line."""
    body = MINIMAL + MINIMAL.split("principles:\n", 1)[1]
    with pytest.raises(ConstitutionError, match="used twice") as caught:
        load_constitution(write(tmp_path, body))
    assert caught.value.line == 10


def test_duplicate_yaml_keys_are_refused(tmp_path: Path) -> None:
    """A key given twice in one mapping is an error, not a silent last-one-wins."""
    with pytest.raises(ConstitutionError, match="appears twice"):
        load_constitution(write(tmp_path, MINIMAL.replace("version: 1.0.0",
                                                          "version: 1.0.0\nversion: 1.0.1")))


def test_extends_cycle_is_detected(tmp_path: Path) -> None:
    """a extends b extends a is refused with the cycle spelled out."""
    write(tmp_path, MINIMAL.replace("id: mini", "id: a\nextends: b.yaml"), "a.yaml")
    write(tmp_path, MINIMAL.replace("id: mini", "id: b\nextends: a.yaml"), "b.yaml")
    with pytest.raises(ConstitutionError, match="cycle"):
        load_constitution(tmp_path / "a.yaml")


def test_child_overrides_parent_principle_by_id(tmp_path: Path) -> None:
    """A child principle with a parent's id replaces it; defaults merge over the parent's."""
    write(tmp_path, MINIMAL, "parent.yaml")
    child = MINIMAL.replace("id: mini", "id: child\nextends: parent.yaml\n"
                            "defaults: {max_revisions: 1}").replace("action: flag",
                                                                    "action: block")
    loaded = load_constitution(write(tmp_path, child, "child.yaml"))
    assert loaded.principle("no-shouting").action == "block"
    assert loaded.defaults.max_revisions == 1 and loaded.defaults.on_error == "block"


def test_remedy_needs_revise_and_redact_needs_pii(tmp_path: Path) -> None:
    """Impossible combinations are refused with a fix: remedy without revise, redact without pii."""
    with pytest.raises(ConstitutionError, match="only applies when action is revise"):
        load_constitution(write(tmp_path, MINIMAL + "    remedy: {append: x}\n"))
    revise = MINIMAL.replace("action: flag", "action: revise") + "    remedy: {redact: true}\n"
    with pytest.raises(ConstitutionError, match="needs a pii check"):
        load_constitution(write(tmp_path, revise))


def test_invalid_regex_is_reported(tmp_path: Path) -> None:
    """A regex that does not compile is a load error, not a runtime crash."""
    with pytest.raises(ConstitutionError, match="does not compile"):
        load_constitution(write(tmp_path, MINIMAL.replace("[A-Z]{10,}", "[A-Z")))


def test_sha256_is_stable_and_content_sensitive(tmp_path: Path) -> None:
    """The hash ignores formatting but changes with any principle's content."""
    a = load_constitution(write(tmp_path, MINIMAL, "a.yaml"))
    reflowed = MINIMAL.replace('citations: ["style guide 1"]', "citations:\n      - style guide 1")
    b = load_constitution(write(tmp_path, reflowed, "b.yaml"))
    c = load_constitution(write(tmp_path, MINIMAL.replace("capitals", "CAPS"), "c.yaml"))
    assert a.sha256 == b.sha256 != c.sha256


def test_missing_file_lists_shipped_ids() -> None:
    """An unknown reference says which shipped ids exist."""
    with pytest.raises(ConstitutionError, match="healthcare"):
        load_constitution("no-such-constitution")


def test_not_a_mapping_and_bad_yaml(tmp_path: Path) -> None:
    """A list at top level or broken YAML is reported with a line."""
    with pytest.raises(ConstitutionError, match="mapping"):
        load_constitution(write(tmp_path, "- a\n- b\n"))
    with pytest.raises(ConstitutionError, match="line 2"):
        load_constitution(write(tmp_path, "id: x\n  version: [1\n"))


def test_yaml_11_words_stay_strings(tmp_path: Path) -> None:
    """`on:` and yes/no are strings (YAML 1.2 booleans), so `semantic: {on: output}` loads."""
    body = MINIMAL.replace("      - pattern: {regex: ['[A-Z]{10,}']}",
                        "      - pattern: {regex: ['[A-Z]{10,}']}\n"
                        "      - semantic: {threshold: 0.7, on: output}")
    body += ("    examples:\n      - {output: SHOUTING LOUDLY NOW, expect: violated}\n"
             "      - {output: no, expect: compliant}\n")
    loaded = load_constitution(write(tmp_path, body))
    p = loaded.principle("no-shouting")
    assert p.check("semantic").on == "output" and p.examples[1].output == "no"
