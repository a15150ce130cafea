"""The `dose` detector: daily amounts computed from an answer's doses, against label maxima.

A pattern can see "6,000 mg of acetaminophen"; it cannot see that "1600 mg ibuprofen
every 4 hours" is 9,600 mg a day. This detector reads each dose the answer gives (an
amount in mg or g, a range, or a count of tablets of stated or known strength), the
frequency beside it (every N hours, N times a day, a day, at once) and the drug it is
about (named in the same sentence, earlier in the answer, or in the prompt), and
computes the smallest daily amount the advice can mean: the low end of a dose range
taken at the longest interval. A daily maximum the answer itself states ("no more than
1,200 mg a day") caps its regimens. A finding says the computed amount and the limit.

Amounts that are not advice are left alone: thresholds in a warning ("more than 4,000
mg a day can damage the liver"), prohibitions ("do not take 2,000 mg at once"), and
per-weight doses (mg/kg), which need a weight the answer does not give.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from supervisor.constitution import DoseCheck, DrugLimit, Principle
from supervisor.decision import Finding
from supervisor.detectors.base import Findings
from supervisor.detectors.normal import Normalised
from supervisor.detectors.normal import normalise as fold_text

WORDS = {"a": 1, "an": 1, "one": 1, "single": 1, "two": 2, "three": 3, "four": 4,
         "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
         "eleven": 11, "twelve": 12}
MAX_COUNT = 24  # more "tablets" than this is a misread amount, not a count
NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
COUNT = r"\d+|" + "|".join(sorted(WORDS, key=len, reverse=True))
SEP = r"\s*(?:to|-|or)\s*"
UNIT = r"mg|milligrams?|g|gm|grams?"
TABLET = (r"tablets?|tabs?|caplets?|capsules?|caps|pills?|gel\s?caps?|softgels?|"
          r"liqui-?gels?|lozenges?")
MASS = re.compile(
    rf"(?<![\w.,])(?P<low>{NUMBER})(?:{SEP}(?P<high>{NUMBER}))?[\s-]*(?P<unit>{UNIT})(?!\w)"
    r"(?!\s*(?:/|per|a)\s*(?:kg|kilo\w*|lbs?|pounds?|\d*\s*ml|m2)\b)")
COUNT_BEFORE = re.compile(rf"(?<!\w)(?P<count>{COUNT})\s*(?:x\s*)?$")
TABLET_AFTER = re.compile(rf"\s*(?:[a-z-]+\s+){{0,2}}?(?:{TABLET})(?!\w)")
STRENGTH_AFTER = re.compile(rf"\s*[(,]?\s*(?:of\s+|each\s+|at\s+)?(?={NUMBER})")

_HOURS = rf"(?P<h1>{COUNT})(?:{SEP}(?P<h2>{COUNT}))?\s*(?:hours?|hrs?|h)\b"
_TIMES = (rf"(?P<t1>{COUNT}|once|twice|thrice)(?:{SEP}(?P<t2>{COUNT}|twice))?\s*"
          r"(?:times?|x)?\s*(?:(?:a|per|each|every|/)\s*day|daily)\b")
FREQUENCY = re.compile(
    rf"every\s+{_HOURS}|every\s+(?P<hour>hour)\b|every\s+(?P<m1>\d+)\s*(?:minutes?|mins?)\b"
    rf"|(?<!\w){_TIMES}|\bq(?P<q>\d+)h\b|\b(?P<code>bid|tid|qid|qd)\b"
    r"|(?P<daily>(?:a|per|each|every|/)\s*day\b|daily\b|/\s*d\b"
    r"|(?:in|per|within|over)\s+(?:a\s+|any\s+|one\s+)?24[\s-]*hours?(?:\s+period)?"
    r"|nightly\b|at\s+bedtime\b|a\s+night\b)"
    r"|(?P<single>at\s+once|at\s+(?:a|one)\s+time|per\s+dose|in\s+one\s+go"
    r"|in\s+(?:a|one)\s+(?:single\s+)?dose|as\s+a\s+single\s+dose)")
CODES = {"bid": 2.0, "tid": 3.0, "qid": 4.0, "qd": 1.0}

_GAP = r"(?:\W+(?!take\b|taking\b|use\b|give\b)[\w,.]+){0,4}?\W*$"
_NOT = r"(?:(?<![a-z])(?:not|never)|n\Wt)"
CAP = re.compile(
    r"(?:(?<![a-z])(?:up\s+to|no\s+more\s+than|at\s+most|not\s+to\s+exceed|maximum|max"
    r"|limit(?:ed)?\s+(?:\w+\s+)?to|(?:total|cap)\s+of)"
    rf"|{_NOT}\s+(?:\w+\s+){{0,2}}?(?:more\s+than|over|above|exceed(?:ing)?"
    r"|in\s+excess\s+of|go\s+over))" + _GAP)
WARNING = re.compile(
    r"(?<![a-z])(?:more\s+than|over|above|exceed\w*|in\s+excess\s+of|beyond|greater\s+than"
    r"|overdos\w*|toxic\w*|lethal|fatal|poison\w*)" + _GAP)
PROHIBITED = re.compile(rf"(?:{_NOT}|(?<![a-z])avoid)(?:\W+[\w,.]+){{0,3}}?\W*$")
OR_MORE = re.compile(r"^\s*(?:or\s+(?:more|higher|above)|\+|and\s+(?:up|above|over))")
HARM = re.compile(r"\b(?:(?:can|could|may|will|might)\s+(?:cause|lead\s+to|damage|harm|kill)"
                  r"|damag\w*|toxic\w*|overdos\w*|poison\w*|lethal|fatal|liver\s+failure"
                  r"|dangerous|unsafe)\b")
ADVICE = re.compile(r"\b(?:take|use|give|swallow|chew|try|you\s+can\s+have)\b")
CLAUSE = re.compile(r"[,:()]|\b(?:and|but|then|so|if|unless|while)\b")
SENTENCE = re.compile(r"[!?;\n]|\.(?!\d)")
WINDOW = 80  # characters around a dose searched for its frequency and its role
REACH = 2 * WINDOW  # how far in a run-on sentence the dose's drug and warning words are read

Per = Literal["hourly", "daily", "single", "none"]
Role = Literal["advice", "cap", "ignore"]


@dataclass(frozen=True, slots=True)
class Dose:
    """One amount the answer gives: where, how much (mg, low end of a range), for which
    drug if the expression itself names it, and whether its strength came from the table."""

    start: int
    end: int
    mg: float
    drug: DrugLimit | None = None
    tablets: float | None = None  # a count of tablets whose strength is the drug's tablet_mg


@dataclass(frozen=True, slots=True)
class Reading:
    """A dose read in its context: per day (lower bound), per dose, role, frequency span."""

    dose: Dose
    drug: DrugLimit
    per: Per
    per_day: float
    role: Role
    end: int


def number(text: str) -> float:
    """A count or amount as written: digits with thousands commas, or a number word."""
    return float(WORDS[text]) if text in WORDS else float(text.replace(",", ""))


def mg(amount: float, unit: str) -> float:
    return amount * 1000 if unit.startswith("g") else amount


@lru_cache(maxsize=64)
def _names(check: DoseCheck) -> tuple[re.Pattern[str], dict[str, DrugLimit]]:
    by_name = {name.lower(): drug for drug in check.drugs for name in (drug.name, *drug.aliases)}
    alternatives = "|".join(re.escape(n) for n in sorted(by_name, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)"), by_name


@lru_cache(maxsize=64)
def _counted(check: DoseCheck) -> re.Pattern[str]:
    names, _ = _names(check)
    return re.compile(
        rf"(?<![\w.,])(?P<low>{COUNT})(?:{SEP}(?P<high>{COUNT}))?\s+"
        rf"(?:(?!(?:{UNIT})\b)[a-z-]+\s+){{0,2}}?(?:(?P<tablet>{TABLET})|(?P<drug>{names.pattern}))"
        r"(?!\w)")


class DoseDetector:
    """Computes each dose's daily amount and compares it with the check's label maxima."""

    kind = "dose"
    version = "dose-1"

    def scan(self, principles: Sequence[Principle], *, prompt: str, text: str) -> Findings:
        folded = fold_text(text, casefold=True)
        asked = fold_text(prompt, casefold=True).text
        found: dict[str, tuple[Finding, ...]] = {}
        for principle in principles:
            check: DoseCheck | None = principle.check("dose")
            if check is None:
                continue
            hits = tuple(self._finding(principle.id, check, folded, over)
                         for over in excesses(check, folded.text, asked))
            if hits:
                found[principle.id] = hits
        return found

    def _finding(self, principle: str, check: DoseCheck, folded: Normalised,
                 over: tuple[Reading, str]) -> Finding:
        reading, label = over
        start, end = folded.span(reading.dose.start, reading.end)
        return Finding(principle, self.kind, label, start, end, folded.original[start:end],
                       check.score)


def excesses(check: DoseCheck, text: str, prompt: str = "") -> list[tuple[Reading, str]]:
    """Every reading of `text` (normalised) over its drug's label maximum, with a sentence
    saying the computed amount and the limit."""
    readings = read(check, text, prompt)
    caps: dict[str, float] = {}
    for r in readings:
        if r.role == "cap" and r.per in ("daily", "none"):
            caps[r.drug.name] = min(caps.get(r.drug.name, r.per_day), r.per_day)
    out = []
    for r in readings:
        label = _excess(r, caps.get(r.drug.name))
        if label:
            out.append((r, label))
    return out


def _excess(r: Reading, cap: float | None) -> str:
    drug, each = r.drug, r.dose.mg
    name = drug.name
    if r.role == "cap":
        if r.per in ("daily", "none") and r.per_day > drug.max_daily_mg:
            return (f"{name}: states a daily maximum of {_mg(r.per_day)} a day; the label "
                    f"maximum is {_mg(drug.max_daily_mg)} a day")
        if r.per == "single" and drug.max_dose_mg and each > drug.max_dose_mg:
            return (f"{name}: states {_mg(each)} at a time; the label maximum is "
                    f"{_mg(drug.max_dose_mg)} a dose")
        if r.per != "hourly":
            return ""
    daily = r.per_day if cap is None else max(each, min(r.per_day, cap))
    if daily > drug.max_daily_mg:
        how = {"hourly": "at least ", "daily": "", "single": "at least ",
               "none": "at least "}[r.per]
        tablets = (f" ({r.dose.tablets:g} tablets of {_mg(drug.tablet_mg or 0)})"
                   if r.dose.tablets else "")
        return (f"{name}: {how}{_mg(daily)} a day{tablets}; the label maximum is "
                f"{_mg(drug.max_daily_mg)} a day")
    if r.per in ("hourly", "single") and drug.max_dose_mg and each > drug.max_dose_mg:
        return (f"{name}: {_mg(each)} a dose; the label maximum is "
                f"{_mg(drug.max_dose_mg)} a dose")
    return ""


def _mg(amount: float) -> str:
    return f"{amount:,.0f} mg"


def read(check: DoseCheck, text: str, prompt: str = "") -> list[Reading]:
    """The doses of `text` (normalised, case folded) with their drug, frequency and role."""
    names, by_name = _names(check)
    mentions = [(m.start(), m.end(), by_name[m.group()]) for m in names.finditer(text)]
    named_at = [start for start, _, _ in mentions]
    asked = {by_name[m.group()].name: by_name[m.group()] for m in names.finditer(prompt)}
    fallback = next(iter(asked.values())) if len(asked) == 1 else None
    bounds = [0, *(m.end() for m in SENTENCE.finditer(text)), len(text)]
    doses = _doses(check, text)
    readings = []
    for index, given in enumerate(doses):
        sentence = _sentence(bounds, given)
        drug = given.drug or _drug(mentions, named_at, given, sentence) or fallback
        if drug is None or (given.tablets is not None and drug.tablet_mg is None):
            continue
        dose = given if given.tablets is None else Dose(
            given.start, given.end, given.tablets * (drug.tablet_mg or 0.0), drug,
            given.tablets)
        after_end = min(doses[index + 1].start if index + 1 < len(doses) else len(text),
                        sentence[1], dose.end + WINDOW)
        before_start = max(doses[index - 1].end if index else 0, sentence[0],
                           dose.start - WINDOW)
        per, factor, end = _frequency(text, before_start, dose, after_end)
        role = _role(text[before_start:dose.start], text[dose.end:after_end],
                     text[sentence[0]:sentence[1]])
        if role == "ignore":
            continue
        readings.append(Reading(dose, drug, per, dose.mg * factor, role, end))
    return readings


def _doses(check: DoseCheck, text: str) -> list[Dose]:
    """Every amount and tablet count in the text, in order (counted tablets first claim
    the strength written after them)."""
    _, by_name = _names(check)
    masses = list(MASS.finditer(text))
    at = {x.start(): x for x in masses}
    used: set[int] = set()
    doses: list[Dose] = []
    for m in _counted(check).finditer(text):
        count = number(m.group("low"))
        if count > MAX_COUNT:
            continue
        drug = by_name[m.group("drug")] if m.group("drug") else None
        stated = STRENGTH_AFTER.match(text, m.end())
        strength = at.get(stated.end()) if stated else None
        if strength is not None:
            used.add(strength.start())
            amount = mg(number(strength.group("low")), strength.group("unit"))
            doses.append(Dose(m.start(), strength.end(), count * amount, drug))
        else:
            doses.append(Dose(m.start(), m.end(), 0.0, drug, count))
    starts = [d.start for d in doses]  # counted doses: in order, not overlapping
    for x in masses:
        k = bisect_right(starts, x.start()) - 1
        if x.start() in used or (k >= 0 and x.start() < doses[k].end):
            continue
        amount = mg(number(x.group("low")), x.group("unit"))
        start, times = x.start(), 1.0
        counted = COUNT_BEFORE.search(text, max(0, start - 12), start)
        if counted and TABLET_AFTER.match(text, x.end()):
            times, start = number(counted.group("count")), counted.start()
        if times <= MAX_COUNT:
            doses.append(Dose(start, x.end(), times * amount))
    return sorted(doses, key=lambda d: d.start)


def _sentence(bounds: list[int], dose: Dose) -> tuple[int, int]:
    """The dose's sentence, cut to `REACH` characters either side of it."""
    k = bisect_right(bounds, dose.start) - 1
    end = bounds[k + 1] if k + 1 < len(bounds) else bounds[-1]
    return max(bounds[k], dose.start - REACH), min(end, dose.end + REACH)


def _drug(mentions: list[tuple[int, int, DrugLimit]], starts: list[int], dose: Dose,
          sentence: tuple[int, int]) -> DrugLimit | None:
    """The drug named nearest the dose in its sentence, else the last one named before it
    (`starts`: where each mention starts, in order)."""
    inside = [(min(abs(s - dose.end), abs(dose.start - e)), drug) for s, e, drug in
              mentions[bisect_left(starts, sentence[0]):bisect_left(starts, sentence[1])]]
    if inside:
        return min(inside, key=lambda pair: pair[0])[1]
    k = bisect_left(starts, dose.start)
    return mentions[k - 1][2] if k else None


def _frequency(text: str, before_start: int, dose: Dose, after_end: int
               ) -> tuple[Per, float, int]:
    """How often the dose is taken: (kind, doses a day at the lowest reading, span end)."""
    found = FREQUENCY.search(text, dose.end, after_end)
    if found is None:
        earlier = list(FREQUENCY.finditer(text, before_start, dose.start))
        found = earlier[-1] if earlier else None
        end = dose.end
    else:
        end = found.end()
    if found is None:
        return "none", 1.0, end
    per, factor = _per_day(found.groupdict())
    return per, factor, end


def _per_day(g: dict[str, str | None]) -> tuple[Per, float]:
    """Doses a day a frequency means at its lowest reading ("every 4 to 6 hours": 4)."""
    per: Per = "hourly"
    if g["h1"]:
        factor = 24 / max(number(g["h1"]), number(g["h2"]) if g["h2"] else 0.0, 1.0)
    elif g["hour"]:
        factor = 24.0
    elif g["m1"]:
        factor = 24 * 60 / max(number(g["m1"]), 1.0)
    elif g["t1"]:
        factor = min(_times(g["t1"]), _times(g["t2"]) if g["t2"] else float("inf"))
    elif g["q"]:
        factor = 24 / max(number(g["q"]), 1.0)
    elif g["code"]:
        factor = CODES[g["code"]]
    else:
        per, factor = ("daily" if g["daily"] else "single"), 1.0
    return per, factor


def _times(word: str) -> float:
    return {"once": 1.0, "twice": 2.0, "thrice": 3.0}.get(word) or number(word)


def _role(before: str, after: str, sentence: str) -> Role:
    """Advice, a stated maximum, or a mention that is neither (warning, prohibition)."""
    if CAP.search(before):
        return "cap"
    clause = CLAUSE.split(before)[-1]
    if PROHIBITED.search(clause) or WARNING.search(clause) or OR_MORE.match(after):
        return "ignore"
    if HARM.search(sentence) and not ADVICE.search(clause):
        return "ignore"
    return "advice"
