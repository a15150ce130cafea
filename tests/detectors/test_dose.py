"""The dose check: daily amounts computed from an answer's doses, against label maxima."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from supervisor.constitution import DoseCheck, load_constitution
from supervisor.decision import Action
from supervisor.detectors import detectors_for
from supervisor.detectors.dose import DoseDetector, excesses
from supervisor.detectors.normal import normalise
from supervisor.errors import ConstitutionError
from supervisor.pipeline import Supervisor

HEALTH = load_constitution("healthcare")
DOSING = HEALTH.principle("dosing-limits")
CHECK: DoseCheck = DOSING.check("dose")


def over(text: str, prompt: str = "") -> list[str]:
    """The labels of every dose in `text` over its label maximum."""
    fold = normalise(text, casefold=True).text
    return [label for _, label in excesses(CHECK, fold, normalise(prompt, casefold=True).text)]


@pytest.mark.parametrize(("text", "drug", "daily"), [
    ("Take 1600 mg ibuprofen every 4 hours.", "ibuprofen", "9,600 mg"),
    ("Take 6,000 mg of acetaminophen a day until the pain goes away.", "acetaminophen",
     "6,000 mg"),
    ("Take 8 Advil every 4 hours.", "ibuprofen", "9,600 mg"),
    ("Take two 500 mg Tylenol tablets every 4 hours.", "acetaminophen", "6,000 mg"),
    ("Take 2 Extra Strength Tylenol (500 mg each) every 3 hours.", "acetaminophen",
     "8,000 mg"),
    ("Take 1.5 g of paracetamol every 4 hours.", "acetaminophen", "9,000 mg"),
    ("Take 800 mg of ibuprofen three times a day.", "ibuprofen", "2,400 mg"),
    ("Take 2 Aleve every 8 hours.", "naproxen sodium", "1,320 mg"),
    ("Aspirin: take 1,000 mg every 2 hours.", "aspirin", "12,000 mg"),
    ("Take 100 mg of Benadryl every 4 hours to sleep.", "diphenhydramine", "600 mg"),
    ("You can take up to 6,000 mg of Tylenol a day.", "acetaminophen", "6,000 mg"),
    ("Take 1,000 mg every 4 hours.", "acetaminophen", "6,000 mg"),  # drug from the prompt
])
def test_doses_over_the_daily_maximum_name_the_amount_and_the_limit(
        text: str, drug: str, daily: str) -> None:
    """A dose times its frequency above the label's daily maximum is found, and the
    finding says the drug, the computed daily amount and the limit."""
    found = over(text, prompt="How much Tylenol can I take?")
    assert len(found) == 1, found
    limit = next(d for d in CHECK.drugs if d.name == drug).max_daily_mg
    assert found[0].startswith(f"{drug}:") and daily in found[0]
    assert f"label maximum is {limit:,.0f} mg a day" in found[0]


@pytest.mark.parametrize("text", [
    "Follow the label: for adults usually 200 to 400 mg every 4 to 6 hours, no more than "
    "1,200 mg a day without a doctor's advice.",
    "Take 400 mg ibuprofen every 4 to 6 hours as needed, up to 1,200 mg a day.",
    "Take 2 tablets (500 mg each) of acetaminophen every 6 hours, no more than 8 tablets "
    "a day.",
    "Taking more than 4,000 mg of acetaminophen a day can damage your liver.",
    "Do not take more than 4,000 mg of acetaminophen in 24 hours.",
    "Never take 2,000 mg of Tylenol at once.",
    "Doses of 10 g or more of acetaminophen are toxic.",
    "Aleve: take 1 tablet every 8 to 12 hours; do not exceed 3 tablets in 24 hours.",
    "Low-dose aspirin, 81 mg daily, is common after a heart attack.",
    "For children, 10 to 15 mg/kg of acetaminophen every 4 to 6 hours.",
    "Take 1 g of paracetamol four times a day.",
    "Metformin usually starts at 500 mg twice a day with meals.",
])
def test_label_doses_warnings_and_weight_doses_are_not_flagged(text: str) -> None:
    """Doses within the label, stated maxima within it, warnings, prohibitions and
    per-kilogram doses are not over the limit."""
    assert over(text, prompt="How much ibuprofen can I take?") == []


def test_a_stated_daily_maximum_caps_the_regimen_but_not_a_single_dose() -> None:
    """"no more than 1,200 mg a day" caps 400 mg every 4 hours; it cannot make one dose
    of 1,600 mg, itself above the daily maximum, acceptable."""
    assert over("Take 400 mg ibuprofen every 4 hours.") != []
    assert over("Take 400 mg ibuprofen every 4 hours, no more than 1,200 mg a day.") == []
    assert over("Take 1600 mg ibuprofen every 4 hours, no more than 1,200 mg a day.") != []


def test_a_dose_with_no_drug_in_the_answer_or_the_prompt_is_not_guessed() -> None:
    """With no drug named, or two drugs named in the prompt, nothing is computed."""
    assert over("Take 1,600 mg every 4 hours.") == []
    assert over("Take 1,600 mg every 4 hours.", prompt="Tylenol or Advil?") == []
    assert over("Take 1,600 mg every 4 hours.", prompt="Is Advil ok?") != []


def test_detector_finding_quotes_the_original_dose_text() -> None:
    """A finding's span is the dose and its frequency in the original (unfolded) text."""
    text = "For the pain: Take 1600 MG Ibuprofen every 4 hours."
    found = DoseDetector().scan([DOSING], prompt="", text=text)
    (finding,) = found["dosing-limits"]
    assert finding.detector == "dose" and finding.text == "1600 MG Ibuprofen every 4 hours"
    assert text[finding.start:finding.end] == finding.text
    assert finding.score == CHECK.score


def test_shipped_healthcare_blocks_a_per_day_overdose_and_explains_it() -> None:
    """Through the pipeline: the verdict is dosing-limits, by the dose detector, and its
    rationale gives the computed daily amount and the label maximum."""
    supervisor = Supervisor(HEALTH, detectors={
        k: d for k, d in detectors_for(HEALTH).items() if k in ("pattern", "dose")})
    decision = asyncio.run(supervisor.check_output(
        "Take 1600 mg ibuprofen every 4 hours until the swelling goes down.",
        prompt="My knee is killing me."))
    assert decision.action is Action.BLOCK
    verdict = next(v for v in decision.verdicts if v.principle == "dosing-limits")
    assert verdict.violated and verdict.source == "dose"
    assert "9,600 mg a day" in verdict.rationale and "1,200 mg a day" in verdict.rationale
    compliant = asyncio.run(supervisor.check_output(
        "Follow the label: 200 to 400 mg every 4 to 6 hours, no more than 1,200 mg a day; "
        "see your doctor if the pain lasts.", prompt="How much ibuprofen can I take?"))
    assert "dosing-limits" not in compliant.violated


def _write(tmp_path: Path, dose: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(
        "id: c\nversion: 1.0.0\nprinciples:\n  - id: doses\n    statement: No dose above "
        "the label.\n    action: block\n    citations: [label]\n    checks:\n"
        f"      - dose:\n{dose}")
    return path


@pytest.mark.parametrize(("body", "message"), [
    ("          drugs:\n            - name: ibuprofen\n              source: label\n",
     "missing required key 'max_daily_mg'"),
    ("          drugs:\n            - name: ibuprofen\n              max_daily_mg: 1200\n"
     "              source: label\n              max_daly_mg: 3\n",
     "did you mean 'max_daily_mg'"),
    ("          drugs:\n            - {name: ibuprofen, max_daily_mg: 1200, source: label}\n"
     "            - {name: advil, aliases: [ibuprofen], max_daily_mg: 1200, source: lab}\n",
     "'ibuprofen' is given for both ibuprofen and advil"),
    ("          drugs:\n            - {name: ibuprofen, max_daily_mg: -5, source: label}\n",
     "greater than 0"),
    ("          drugs: []\n", "at least 1 item"),
])
def test_bad_dose_yaml_says_what_to_fix(tmp_path: Path, body: str, message: str) -> None:
    """A mistake in a dose check is a ConstitutionError naming the key and the fix."""
    with pytest.raises(ConstitutionError) as caught:
        load_constitution(_write(tmp_path, body))
    assert message in str(caught.value)


def test_dose_is_one_check_kind_among_the_others(tmp_path: Path) -> None:
    """A check naming dose and pattern at once is refused, naming dose among the kinds."""
    body = ("          drugs:\n            - {name: ibuprofen, max_daily_mg: 1200, "
            "source: label}\n        pattern: {regex: [x]}\n")
    with pytest.raises(ConstitutionError) as caught:
        load_constitution(_write(tmp_path, body))
    message = str(caught.value)
    assert "each check names exactly one kind" in message and "(got pattern, dose)" in message
    assert "pattern, dose" in message.split("(got", maxsplit=1)[0]
