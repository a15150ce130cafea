"""When an identifier is protected health information, and which dates and places identify.

PHI is an identifier linked to a person's health information (HIPAA, 45 CFR 160.103),
not a name on its own: "Harry Potter", "Hitler" or "Biden" in an answer is no disclosure,
"Maria Gonzalez was seen for the biopsy" is. `link` reads the words around each finding
of a principle whose check lists `linked_to_health` entities:

- a PERSON counts when its sentence, or the one after it in the same paragraph (where
  "He was admitted..." goes on), holds a health term (a diagnosis, treatment, visit,
  test, drug or dose) and either reads as a record ("patient", "MRN", "DOB",
  "admitted", "her chart") or names a full name ("Maria Gonzalez", "Ms. Lopez") that
  no sentence marks as public or invented ("fictional character", "actor",
  "president", "has spoken openly"). One bare word is too often no person at all
  ("Cocaine", "Native") or a public one ("Hitler"); a name with an institution's word
  in it ("Pulse Nightclub", "Parkland Memorial") is no person;
- a phone number, email, date or place counts when its sentence names a person who
  counts or reads as a record, or says whose it is ("her phone", "date of birth",
  "call her at") with a health term near; a date only when it is one that dates a
  person's life (below), a place only when it is smaller than a state.

Each counted identifier comes with a HEALTH_CONTEXT finding on the words that linked it,
so the verdict shows why it fired; redaction skips those (they are not identifiers).

`identifying_date` and `identifying_place` follow the Safe Harbor list (45 CFR
164.514(b)(2)(i)): every element of a date finer than the year, and ages over 89, are
identifiers; years, durations and dosing intervals ("every 6 hours", "a day") are not.
Geographic subdivisions smaller than a state are (street address, city, ZIP code);
states and countries are not. Ledger redaction uses the same two tests.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from supervisor.decision import Finding

CONTEXT = "HEALTH_CONTEXT"

# diagnoses, treatments, visits, tests and records: what makes a name health information
_HEALTH = re.compile(
    r"\b(?:patient|diagnos\w*|prognosis|treat(?:ed|ing|ment)\b|therap(?:y|ies|ist)|"
    r"prescri\w*|medication\w*|admitted|admission|discharg\w*|hospitali[sz]\w*|"
    r"surger(?:y|ies)|operat(?:ed|ion) on|biops(?:y|ies)|chemo\w*|radiation|dialysis|"
    r"transplant|(?-i:MRN|MRI|CT|HIV|AIDS|ICU|STDs?|STIs?)|medical\s+(?:record|history|"
    r"condition)s?|health\s+(?:record|history|condition)s?|chart|appointment|visit|"
    r"follow[- ]up|referr\w*|seen\s+(?:for|in|at|by)|lab\s+results?|test\s+results?|"
    r"blood\s+(?:test|work|pressure)|scan|x-?ray|ultrasound|mammogram|vaccin\w*|"
    r"tested\s+positive|positive\s+for|hepatitis|"
    r"cancer|tumou?r|leuk(?:a)?emia|lymphoma|diabet\w*|insulin|asthma|pneumonia|COVID\S*|"
    r"influenza|infection|sepsis|stroke|heart\s+(?:attack|failure|disease)|hypertension|"
    r"dementia|alzheimer\S*|parkinson\S*|epilep\w*|seizures?|depress\w*|anxiety|bipolar|"
    r"schizophren\w*|psychiatric|psychosis|mental\s+health|suicid\w*|overdos\w*|"
    r"addict\w*|alcoholi\w*|substance\s+(?:ab)?use|rehab\w*|detox|pregnan\w*|miscarr\w*|"
    r"abortion|syphilis|gonorrh\w*|chlamydia|fractur\w*|allerg\w*|"
    r"symptoms?|illness|disease|disorder|syndrome|injur(?:y|ies|ed)|ward|clinic|"
    r"hospital|oncolog\w*|cardiolog\w*|psychiatrist|physician|nurse|(?-i:INR|A1C|HbA1c)|"
    r"\d\s?mg|dos(?:e|es|age|ing)|warfarin|statins?|antidepressants?|antibiotics?|"
    r"opioids?|chemotherapy)\b",
    re.IGNORECASE)
# words that read as a record about a particular person
_RECORD = re.compile(
    r"\b(?:patient|(?-i:MRN|DOB)|date\s+of\s+(?:birth|death|service|admission|discharge)|"
    r"admitted|discharged|seen\s+(?:on|for|in|at|by)|(?:his|her)\s+(?:doctor|"
    r"physician|chart|record|results?|labs?|diagnosis|prescription|medication|"
    r"appointment|visit)|room\s+\d|bed\s+\d)\b",
    re.IGNORECASE)
# words that say whose a phone, email or address is: with a health term nearby, a record
_CONTACT = re.compile(
    r"\b(?:(?:his|her)\s+(?:phone|number|cell|mobile|email|e-mail|address)|"
    r"(?:call|reach|contact|text|email)\s+(?:her|him)\s+(?:at|on)|(?-i:DOB)|"
    r"date\s+of\s+(?:birth|death|service|admission|discharge)|admitted|discharged)\b",
    re.IGNORECASE)
# words inside a name that make it a place or an organisation, not a person
_NOT_A_PERSON = re.compile(
    r"\b(?:nightclub|club|territory|memorial|hospital|clinic|cent(?:er|re)|school|"
    r"university|college|foundation|institute|association|society|hotel|restaurant|"
    r"street|county|company|inc|corp|ltd|group|party|army|tribe|nations?|republic|"
    r"kingdom|empire|station|airport|museum|library|theat(?:er|re)|stadium)\b",
    re.IGNORECASE)
# words that mark a person as public or invented: not a patient of anyone here
_PUBLIC = re.compile(
    r"\b(?:fiction\w*|characters?|cartoons?|anime|manga|novels?|films?|movies?|"
    r"sitcoms?|comics?|franchise|saga|(?:tv|television)\s+series|the\s+books|actors?|"
    r"actress|singers?|musician|rapper|celebrit\w*|president|prime\s+minister|chancellor|senator|"
    r"politician|dictator|king|queen|prince|princess|emperor|pope|author|writer|athlete|"
    r"footballer|historical|historian|biograph\w*|memoir|publicly|public\s+figure|openly|"
    r"open\s+about|interviews?|reportedly|famous|well[- ]known|Nazi|F(?:ü|ue)hrer|regime|"
    r"poet|albums?|songs?|career|fans|legacy|assassinat\w*|shooter|gunman|perpetrator|"
    r"attacker|terroris\w*|extremis\w*|"
    r"massacre|government|campaign|elected|signed\s+(?:the\s+)?(?:law|bill|treaty)|"
    r"(?-i:Act))\b",
    re.IGNORECASE)
_TITLE = re.compile(r"\b(?:Mr|Mrs|Ms|Mx|Miss)\.?\s+$")
_ABBREVIATION = re.compile(r"(?:\b(?:Dr|Mr|Mrs|Ms|Mx|Jr|Sr|St|Prof|Mt|No|vs|etc|e\.g|"
                           r"i\.e|approx)|\b[A-Z])$")
_SENTENCE_END = re.compile(r"[.!?]+[\"”')\]]*(?=\s)|\n")

# --- Safe Harbor dates, ages and places ------------------------------------------------
_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|"
          r"aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?")
_CALENDAR = re.compile(
    r"\b(?:" + _MONTH + r"(?:\s+\d{1,2}(?:st|nd|rd|th)?)?|\d{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?"
    + _MONTH + r"|\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}|\d{1,2}/\d{1,2}|"
    r"(?:mon|tues|wednes|thurs|fri|satur|sun)day|birthday|christmas)\b", re.IGNORECASE)
_AGE = re.compile(
    r"\b(?P<n>\d{1,3})[- ](?:years?|yrs?|y)[- ]?(?:old|of\s+age)\b|"
    r"\b(?:aged?|age\s+of)\s+(?P<m>\d{1,3})\b|\b(?P<k>\d{1,3})\s*(?:yo|y/o)\b",
    re.IGNORECASE)
OLDEST_AGE_KEPT = 89  # Safe Harbor: ages over 89 are identifiers (grouped as 90 or older)
# US states, territories, countries, continents and regions larger than a state: kept
_ONE_WORD_PLACES = (
    "Alabama Alaska Arizona Arkansas California Colorado Connecticut Delaware Florida "
    "Georgia Hawaii Idaho Illinois Indiana Iowa Kansas Kentucky Louisiana Maine Maryland "
    "Massachusetts Michigan Minnesota Mississippi Missouri Montana Nebraska Nevada Ohio "
    "Oklahoma Oregon Pennsylvania Tennessee Texas Utah Vermont Virginia Washington "
    "Wisconsin Wyoming Guam Afghanistan Albania Algeria Andorra Angola Argentina Armenia "
    "Australia Austria Azerbaijan Bahamas Bahrain Bangladesh Barbados Belarus Belgium "
    "Belize Benin Bhutan Bolivia Botswana Brazil Brunei Bulgaria Burundi Cambodia "
    "Cameroon Canada Chad Chile China Colombia Comoros Congo Croatia Cuba Cyprus Czechia "
    "Denmark Djibouti Dominica Ecuador Egypt Eritrea Estonia Eswatini Ethiopia Fiji "
    "Finland France Gabon Gambia Germany Ghana Greece Grenada Guatemala Guinea Guyana "
    "Haiti Honduras Hungary Iceland India Indonesia Iran Iraq Ireland Israel Italy "
    "Jamaica Japan Jordan Kazakhstan Kenya Kiribati Korea Kosovo Kuwait Kyrgyzstan Laos "
    "Latvia Lebanon Lesotho Liberia Libya Liechtenstein Lithuania Luxembourg Madagascar "
    "Malawi Malaysia Maldives Mali Malta Mauritania Mauritius Mexico Micronesia Moldova "
    "Monaco Mongolia Montenegro Morocco Mozambique Myanmar Namibia Nauru Nepal "
    "Netherlands Nicaragua Niger Nigeria Norway Oman Pakistan Palau Palestine Panama "
    "Paraguay Peru Philippines Poland Portugal Qatar Romania Russia Rwanda Samoa Senegal "
    "Serbia Seychelles Singapore Slovakia Slovenia Somalia Spain Sudan Suriname Sweden "
    "Switzerland Syria Taiwan Tajikistan Tanzania Thailand Togo Tonga Tunisia Turkey "
    "Turkmenistan Tuvalu Uganda Ukraine Uruguay Uzbekistan Vanuatu Venezuela Vietnam "
    "Yemen Zambia Zimbabwe Africa Antarctica Asia Europe America Oceania Australasia "
    "Scandinavia Caribbean Balkans Scotland England Wales Britain Ontario Quebec Alberta "
    "Manitoba Saskatchewan Bavaria Catalonia Siberia Amazon Sahara Himalayas Alps "
    "US USA U.S. U.S.A. UK U.K. EU UAE USSR")
_LARGE_PLACES = frozenset(name.lower() for name in _ONE_WORD_PLACES.split()) | frozenset((
        "new hampshire", "new jersey", "new mexico", "new york state", "north carolina",
        "north dakota", "rhode island", "south carolina", "south dakota", "west virginia",
        "district of columbia", "puerto rico", "american samoa", "virgin islands",
        "united states", "united states of america", "the united states", "united kingdom",
        "the united kingdom", "great britain", "northern ireland", "european union",
        "south africa", "south korea", "north korea", "new zealand", "saudi arabia",
        "sri lanka", "costa rica", "el salvador", "dominican republic", "ivory coast",
        "czech republic", "united arab emirates", "papua new guinea", "sierra leone",
        "south sudan", "east timor", "burkina faso", "cape verde", "north macedonia",
        "bosnia and herzegovina", "trinidad and tobago", "the netherlands",
        "the philippines", "the bahamas", "latin america", "south america",
        "north america", "central america", "middle east", "the middle east",
        "southeast asia", "east asia", "western europe", "eastern europe",
        "sub-saharan africa", "british columbia", "nova scotia", "new south wales"))
_ADDRESS = re.compile(r"\d|\b(?:street|st|avenue|ave|road|rd|lane|ln|drive|dr|boulevard|"
                      r"blvd|court|ct|way|place|pl|apt|suite|unit|county|city|town|"
                      r"village|township|zip)\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Sentence:
    start: int
    end: int
    paragraph: int


def sentences(text: str) -> list[Sentence]:
    """Sentence spans of `text`, each with its paragraph number (a blank line starts one).

    A full stop after a title or an initial ("Dr.", "J.") does not end a sentence; a
    line break does, since answers list records one a line.
    """
    found: list[Sentence] = []
    start, paragraph = 0, 0
    for match in _SENTENCE_END.finditer(text):
        if match.group() != "\n" and _ABBREVIATION.search(text[start:match.start()]):
            continue
        if text[start:match.end()].strip():
            found.append(Sentence(start, match.end(), paragraph))
        if match.group() == "\n" and text[match.end():match.end() + 1] == "\n":
            paragraph += 1
        start = match.end()
    if text[start:].strip():
        found.append(Sentence(start, len(text), paragraph))
    return found


def identifying_date(value: str, text: str = "", start: int = 0) -> bool:
    """Whether a DATE_TIME span dates a person's life under Safe Harbor: it names a day
    or month (a calendar date, a weekday, a birthday), or it is an age over 89.

    Years alone, durations, frequencies and times ("2012", "every 6 hours", "a day",
    "72-year-old") are not. `text` and `start` let an age written just after the span
    ("91 years old" where the span is "91 years") be read whole.
    """
    around = value + text[start + len(value):start + len(value) + 12] if text else value
    age = _AGE.search(around)
    if age is not None and age.start() < len(value):
        number = next(g for g in age.group("n", "m", "k") if g)
        return int(number) > OLDEST_AGE_KEPT
    return _CALENDAR.search(value) is not None


def ages_over_89(text: str) -> list[tuple[int, int]]:
    """Spans of ages over 89 written in `text` ("92-year-old", "aged 95", "age of 101")."""
    spans = []
    for match in _AGE.finditer(text):
        number = next(g for g in match.group("n", "m", "k") if g)
        if int(number) > OLDEST_AGE_KEPT:
            spans.append((match.start(), match.end()))
    return spans


def identifying_place(value: str) -> bool:
    """Whether a LOCATION span is a subdivision smaller than a state: an address (it has a
    number or a street word) or a capitalised place that is not a state, country or
    larger region. A lowercase word is no place name ("dose of acetaminophen")."""
    words = value.strip(" ,.;:").split()
    if not words:
        return False
    if _ADDRESS.search(value):
        return True
    if not words[0][0].isupper():
        return False
    name = " ".join(words).lower()
    name = re.sub(r"^the\s+", "", name) if name not in _LARGE_PLACES else name
    return name not in _LARGE_PLACES and name.rstrip(".") not in _LARGE_PLACES


def link(text: str, hits: Sequence[Finding], linked: Iterable[str]) -> list[Finding]:
    """`hits` of one principle, with those of `linked` entities kept only where linked to
    health information (see the module docstring), each kept one followed by a
    HEALTH_CONTEXT finding on the words that linked it."""
    linked = frozenset(linked)
    if not any(h.label in linked for h in hits):
        return list(hits)
    cut = sentences(text)
    starts = [s.start for s in cut]
    kept: list[Finding] = []
    people = _counted_people(text, cut, [h for h in hits if h.label == "PERSON"]) \
        if "PERSON" in linked else {}
    for hit in hits:
        if hit.label not in linked:
            kept.append(hit)
            continue
        if hit.label == "PERSON":
            why = people.get((hit.start, hit.end))
        else:
            why = _contact_link(text, cut, starts, hit, people)
        if why is not None:
            kept.append(hit)
            kept.append(Finding(hit.principle, hit.detector, CONTEXT, why[0], why[1],
                                text[why[0]:why[1]], hit.score))
    return kept


def _at(starts: Sequence[int], offset: int) -> int:
    """Index of the sentence holding `offset` (the one before, between two sentences),
    from the sentences' `starts`."""
    return max(0, min(bisect_right(starts, offset) - 1, len(starts) - 1))


def _near(cut: Sequence[Sentence], index: int) -> list[Sentence]:
    """The sentence and the one after it, in the same paragraph."""
    near = [cut[index]]
    if index + 1 < len(cut) and cut[index + 1].paragraph == cut[index].paragraph:
        near.append(cut[index + 1])
    return near


def _search(pattern: re.Pattern[str], text: str, parts: Iterable[Sentence]
            ) -> tuple[int, int] | None:
    for part in parts:
        match = pattern.search(text, part.start, part.end)
        if match is not None:
            return match.start(), match.end()
    return None


def _counted_people(text: str, cut: Sequence[Sentence], people: Sequence[Finding]
                    ) -> dict[tuple[int, int], tuple[int, int]]:
    """Span of each PERSON that counts -> span of the health words that linked it."""
    counted: dict[tuple[int, int], tuple[int, int]] = {}
    if not cut:
        return counted
    starts = [s.start for s in cut]
    # the sentences that mark someone public, read once for every name
    marked = [s for s in cut if _PUBLIC.search(text, s.start, s.end) is not None]
    public: dict[str, bool] = {}
    for person in people:
        name = text[person.start:person.end]
        if _NOT_A_PERSON.search(name):
            continue
        near = _near(cut, _at(starts, person.start))
        health = _search(_HEALTH, text, near)
        if health is None:
            continue
        record = _search(_RECORD, text, near)
        # one word ("Cocaine", "Native", "Hitler") is too often no patient, or no person:
        # it counts after a title ("Ms. Lopez") or beside a record ("patient Maria"), as
        # a public name never does
        titled = _TITLE.search(text, max(0, person.start - 6), person.start) is not None
        if record is None and len(name.split()) >= 2 and name not in public:
            public[name] = _public(text, marked, name)
        if record is None and ((len(name.split()) < 2 and not titled) or public.get(name)):
            continue
        counted[(person.start, person.end)] = record or health
    return counted


def _public(text: str, marked: Sequence[Sentence], name: str) -> bool:
    """Whether one of the `marked` sentences (those with a word of fame or fiction)
    names this person (any word of the name)."""
    words = re.findall(r"[^\W\d_]{3,}", name)
    if not words:
        return False
    mention = re.compile(r"\b(?:" + "|".join(map(re.escape, words)) + r")\b")
    return any(mention.search(text, s.start, s.end) is not None for s in marked)


def _contact_link(text: str, cut: Sequence[Sentence], starts: Sequence[int], hit: Finding,
                  people: dict[tuple[int, int], tuple[int, int]]) -> tuple[int, int] | None:
    """Why a phone, email, date or place counts: a counted person or a record in its
    sentence (and a date or place that identifies at all)."""
    value = text[hit.start:hit.end]
    identifies = (identifying_date(value, text, hit.start) if hit.label == "DATE_TIME"
                  else identifying_place(value) if hit.label == "LOCATION" else True)
    if not cut or not identifies:
        return None
    index = _at(starts, hit.start)
    sentence = cut[index]
    for (start, end), why in people.items():
        if sentence.start <= start < sentence.end:
            return why if why[0] < start or why[0] >= end else (start, end)
    record = _search(_RECORD, text, [sentence])
    # "her phone", "date of birth": a record only where health information is near
    contact = _search(_CONTACT, text, [sentence])
    if record is None and contact is not None and \
            _search(_HEALTH, text, _near(cut, max(0, index - 1))) is None:
        contact = None
    return record or contact
