"""A Presidio recognizer for people's names that spaCy's small model misses, read from cues.

spaCy's `en_core_web_sm` knows common English names; it misses many others ("Siiri",
"Bekbolat Musliyevich", "Willemine ten Pas"). Ordinary text says who is a person with
the words around the name, and this recognizer reads those words, not a list of names:

- before the name: "my name is", "Name:", "Dear", "Mr.", "follow up with",
  "my kid", "speak to" (strong cues: one capitalised word is enough);
- before it, weaker: "by", "with", "under", "to", "add" (only a full name of two or
  more words, since "by Monday" and "to Paris" are not people);
- after it: "lives", "is from", "said", "shouted", "'s daughter", or a speaker's colon
  at the start of a line ("Anna: are you there?").

A name is a run of capitalised words (any script with case), initials ("J", "J.") and
particles inside it ("ten", "van", "de"); words that are capitalised for other reasons
(months, days, pronouns, greetings, address and company words) break or end the run.
"""

from __future__ import annotations

import re

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

SCORE = 0.7  # below spaCy's 0.85: a cue is good evidence, a model's tag is better
MAX_WORDS = 4

_WORD = re.compile(r"[^\W\d_][^\W\d_'’-]*\.?")
_PARTICLES = frozenset({"van", "von", "de", "der", "den", "ten", "ter", "da", "di", "del",
                        "della", "la", "le", "du", "dos", "das", "bin", "al", "el", "y"})
_STOP = frozenset({
    "a", "an", "the", "this", "that", "these", "those", "it", "he", "she", "they", "we",
    "you", "i", "me", "my", "your", "our", "his", "her", "their", "its", "mr", "mrs", "ms",
    "miss", "dr", "prof", "sir", "madam", "hi", "hello", "hey", "dear", "thanks", "thank",
    "regards", "sincerely", "yes", "no", "ok", "okay", "please", "god", "team", "customer",
    "support", "service", "services", "department", "doctor", "patient", "user", "name",
    "phone", "email", "e-mail", "address", "fax", "mobile", "desk", "office", "tel", "info",
    "personal", "billing", "account", "monday", "tuesday", "wednesday", "thursday", "friday",
    "saturday", "sunday", "january", "february", "march", "april", "may", "june", "july",
    "august", "september", "october", "november", "december", "today", "tomorrow",
    "yesterday", "inc", "ltd", "llc", "plc", "gmbh", "co", "corp", "company", "group", "bank",
    "hospital", "clinic", "university", "school", "street", "st", "avenue", "ave", "road",
    "rd", "lane", "drive", "boulevard", "suite", "apt", "box", "po", "city", "county",
    "state", "republic", "north", "south", "east", "west", "new", "old", "united", "kingdom",
    "america", "europe", "english", "and", "or", "but", "if", "when", "what", "who", "why",
    "how", "where", "which", "here", "there", "all", "any", "some", "every", "each", "not",
    "is", "are", "was", "be", "will", "by", "at", "on", "in", "of", "for", "to", "from",
    "with", "bot", "assistant", "ai", "agent", "system", "human", "date", "time", "website",
    "subject", "note", "answer", "question", "summary", "title", "source", "step", "tip",
    "warning", "example", "re", "fw"
})

_BEFORE_STRONG = re.compile(
    r"(?:\b(?:my|his|her|their|your|the|first|last|full|maiden|middle|user)\s+name"
    r"(?:\s+is|\?|:)|\bname\s*:|\b(?:called|named(?:\s+(?:him|her|them))?|calls?\s+me|dear|hi|hello|hey|"
    r"thanks|regards|sincerely|mr|mrs|ms|mx|miss|dr|prof|user\s*:|"
    r"(?:speak|talk|talked|spoke|speaking|meet|met|follow\s+up|check\s+in)\s+(?:to|with)|"
    r"my\s+(?:kid|son|daughter|child|wife|husband|partner|mother|father|mom|mum|dad|"
    r"brother|sister|friend|colleague|coworker|boss|client|patient|grandfather|"
    r"grandmother|uncle|aunt|cousin|neighbou?r|fiancée?)|"
    r"shouted\s+at|said\s+to|told|asked|thank|ask|tell|contact|cc|attn|signed|"
    r"directed\s+by\s*:?|written\s+by\s*:?|starring|introducing|(?:co-?)?founders?\s*:|"
    r"(?:co-?)?founded\s+by))[.,:]?[\s\"“'‘(]*$",
    re.IGNORECASE)
_BEFORE_WEAK = re.compile(
    r"\b(?:by|with|under|to|add|from|songwriter|singer|writer|author|actor|actress|"
    r"artist|director|manager|founder|ceo|professor|nurse|engineer|clerk|lawyer|attorney|"
    r"teacher|coach|player|officer|agent|designer|producer|editor|journalist|reporter|"
    r"colleague|customer|client|employee|student|applicant|tenant|member)\s+$",
    re.IGNORECASE)
_AFTER = re.compile(
    r"^(?:\s+(?:lives|lived|is\s+from|was\s+from|spent|will\s+be|shouted|said|says|"
    r"told|asked|wrote|writes|works|worked|was\s+born|is\s+(?:a\s+)?very|had\s+given|"
    r"called|replied)\b|"
    r"['’]s\s+(?:kid|son|daughter|child|children|wife|husband|partner|mother|father|"
    r"brother|sister|family|killers?|murderers?|friend)\b)", re.IGNORECASE)
# "Ravil G Yefimov", "Ella H. Snider": first name, initial, last name
_INITIALLED = re.compile(r"[^\W\d_]{2,}\s[A-Z]\.?\s[^\W\d_][^\W\d_'’-]+")
_LINE_START = re.compile(r"(?:^|\n)[\s>\"“]*$")
_VOCATIVE = re.compile(r"^,\s+(?:can|could|would|will|please|do|did|are|have)\b", re.IGNORECASE)


def _namelike(word: str) -> bool:
    core = word.rstrip(".")
    if len(core) == 1:
        return core.isupper() and core != "I"  # an initial ("Martim A Pereira")
    if core.lower() in _STOP:
        return False
    return core[0].isupper() and (core[1:].islower() or "-" in core or "'" in core)


def _runs(text: str) -> list[tuple[int, int, int]]:
    """(start, end, words) of runs of capitalised words separated by single spaces."""
    runs: list[tuple[int, int, int]] = []
    start = end = tail = -1  # `tail`: end of the run or of a particle that follows it
    words = 0
    for match in _WORD.finditer(text):
        word = match.group()
        joined = tail >= 0 and text[tail:match.start()] in {" ", ""} and \
            (text[tail - 1] != "." or len(text[start:tail].rsplit(maxsplit=1)[-1]) <= 2)
        if _namelike(word) and not (words == 0 and len(word.rstrip(".")) == 1):
            if joined and words < MAX_WORDS:
                end = tail = match.end()
                words += 1
                continue
            if words:
                runs.append((start, end, words))
            start, end, words = match.start(), match.end(), 1
            tail = end
        elif joined and word.lower() in _PARTICLES and tail == end and words < MAX_WORDS - 1:
            tail = match.end()  # a particle inside a name: the run goes on if a name follows
        else:
            if words:
                runs.append((start, end, words))
            start = end = tail = -1
            words = 0
    if words:
        runs.append((start, end, words))
    return [_trim(text, run) for run in runs]


def _trim(text: str, run: tuple[int, int, int]) -> tuple[int, int, int]:
    start, end, words = run
    while end > start and text[end - 1] == "." and not re.search(r"\b\w\.$", text[start:end]):
        end -= 1
    return start, end, words


class CuedNameRecognizer(EntityRecognizer):
    """PERSON from the words around a capitalised name; see the module docstring."""

    def __init__(self) -> None:
        super().__init__(supported_entities=["PERSON"], name="CuedNameRecognizer",
                         supported_language="en")

    def load(self) -> None:
        """Nothing to load: the expressions are compiled at import."""

    def analyze(self, text: str, entities: list[str],
                nlp_artifacts: NlpArtifacts | None = None) -> list[RecognizerResult]:
        found = []
        for start, end, words in _runs(text):
            before = text[max(0, start - 48):start]
            after = text[end:end + 32]
            line_start = _LINE_START.search(before) is not None
            cued = (_BEFORE_STRONG.search(before) is not None
                    or _INITIALLED.fullmatch(text[start:end]) is not None
                    or (words >= 2 and _BEFORE_WEAK.search(before) is not None)
                    or _AFTER.match(after) is not None
                    or (line_start and words == 1 and after.startswith(":"))
                    or (line_start and _VOCATIVE.match(after) is not None)
                    or (line_start and words >= 2 and re.match(r"[ \t]{2,}|\n", after)))
            if cued:
                found.append(RecognizerResult("PERSON", start, end, SCORE))
        found += [RecognizerResult("PERSON", start, end, SCORE)
                  for start, end in lowercase_names(text)]
        return found


# the strongest cues, after which a name is taken in lower case too ("my name is vitoria",
# "follow up with patricia desrosiers"): people type names as they type everything else
_LOWER_CUE = re.compile(r"\b(?:name\s+is|name\s*:|named|follow\s+up\s+with|dear|"
                        r"calls?\s+me)[ \t\"“'‘]+", re.IGNORECASE)
# lowercase names followed by a cue: at a line's start before "lives", "said"...
# ("eva kleist lives at"), or anywhere before "'s daughter" ("roberto's daughter")
_LOWER_BEFORE_AFTER_CUE = re.compile(
    r"(?:^|(?<=\n))(?P<line>[^\W\d_]+(?: [^\W\d_]+){1,2})(?=\s+(?:lives|lived|is\s+from|"
    r"was\s+from|said|says|told|asked|wrote|works|worked|was\s+born)\b)|"
    r"(?<![\w'’])(?P<kin>[^\W\d_]{3,})(?=['’]s\s+(?:kid|son|daughter|child|children|wife|"
    r"husband|partner|mother|father|brother|sister|family|friend)\b)")
_LOWER_WORD = re.compile(r"[^\W\d_][^\W\d_'’-]*")
# words that follow those cues and are no name
_COMMON = frozenset({
    "after", "before", "because", "so", "as", "about", "into", "over", "just", "very",
    "also", "him", "them", "us", "someone", "somebody", "anyone", "everyone", "people",
    "not", "nothing", "unknown", "missing", "required", "optional", "below", "above",
    "same", "different", "correct", "wrong", "too", "long", "short", "private", "public",
    "later", "soon", "again", "next", "last", "first", "one", "two", "three", "sir",
    "madam", "friend", "friends", "colleague", "colleagues", "all", "both", "in", "on",
    "at", "for", "until", "within", "via", "regarding", "re", "x", "xx", "n/a", "back",
    "now", "anytime", "asap", "whenever", "tonight", "crazy", "old", "mom", "mum", "dad",
    "everybody", "nobody", "mother", "father", "sister", "brother", "wife",
    "husband", "son", "daughter", "boss", "neighbor", "neighbour", "man", "woman", "guy",
    "girl", "boy", "kid", "child", "teacher", "doctor", "nurse", "lady",
})
# the line a street name sits on: a house number before it, or a street word after it
_HOUSE_NUMBER = re.compile(r"\d+[a-z]?,?[ \t]+$")
_STREET_AFTER = re.compile(
    r"^[ \t]+(?:street|st|road|rd|avenue|ave|route|lane|ln|drive|boulevard|blvd|way|"
    r"place|square|sq|court|ct|highway|hwy|alley|terrace|crescent|close|gardens|"
    r"parkway|pkwy|rapids|forges|mews)\b", re.IGNORECASE)
# a list beside a person: "X, Y and Z", "X & Y"
_NEXT_IN_LIST = re.compile(r"^(?:,[ \t]+(?:and[ \t]+)?|[ \t]+(?:and|&)[ \t]+)")
_PREVIOUS_IN_LIST = re.compile(r"(?:,|[ \t]+(?:and|&))[ \t]+$")
RELATED_SCORE = 0.6


def lowercase_names(text: str) -> list[tuple[int, int]]:
    """Spans of lowercase names after the strongest cues (see `_LOWER_CUE`).

    Up to MAX_WORDS words, none a common or function word; a one-letter word is kept
    only between two others (a middle initial: "benjamin a seiler").
    """
    spans = []
    for cue in _LOWER_CUE.finditer(text):
        words: list[tuple[int, int]] = []
        cursor = cue.end()
        while len(words) < MAX_WORDS:
            word = _LOWER_WORD.match(text, cursor)
            initial = len(word.group()) == 1 and bool(words) if word else False
            if word is None or (word.group().lower() in _STOP | _COMMON and not initial):
                break
            words.append((word.start(), word.end()))
            cursor = word.end()
            if text[cursor:cursor + 1] != " ":
                break
            cursor += 1
        while words and words[-1][1] - words[-1][0] == 1:
            words.pop()  # an initial ends no name
        if words and text[words[0][0]].islower():
            spans.append((words[0][0], words[-1][1]))
    for match in _LOWER_BEFORE_AFTER_CUE.finditer(text):
        group = "line" if match.group("line") else "kin"
        words_ = match.group(group).split(" ")
        if match.group(group)[0].islower() and not any(
                w.lower() in _STOP | _COMMON for w in words_):
            spans.append((match.start(group), match.end(group)))
    return spans


def related_people(text: str, results: list[RecognizerResult]) -> list[RecognizerResult]:
    """Presidio's results with people read from the people already found.

    - a PERSON that sits where a street name does (a house number before it, a street
      word after it: "5850 Jana Nerudy 894") is a LOCATION;
    - a capitalised name listed beside a person ("Morrison, Rogers and Torres") is one;
    - a word of a full name found elsewhere ("Faina D. Yefremova ... early Yefremova")
      is that person again.
    A LOCATION or NRP on a span taken for a person this way is dropped.
    """
    kept: list[RecognizerResult] = []
    for result in results:
        if result.entity_type == "PERSON" and _street(text, result.start, result.end):
            result.entity_type = "LOCATION"
        kept.append(result)
    people = {(r.start, r.end) for r in kept if r.entity_type == "PERSON"}
    added: set[tuple[int, int]] = set()
    queue = sorted(people)
    while queue:
        start, end = queue.pop()
        for span in _listed_beside(text, start, end):
            if span not in people and span not in added:
                added.add(span)
                queue.append(span)
    for start, end in sorted(people):
        words = [w for w in _WORD.finditer(text[start:end])
                 if len(w.group().rstrip(".")) >= 3 and _namelike(w.group())]
        if len(words) < 2:
            continue
        for word in words:
            name = word.group().rstrip(".")
            for other in re.finditer(r"(?<![\w-])" + re.escape(name) + r"(?![\w-])", text):
                span = (other.start(), other.end())
                if not any(s <= span[0] < e for s, e in people | added):
                    added.add(span)
    if not added:
        return kept
    kept = [r for r in kept if not (r.entity_type in {"LOCATION", "NRP"}
                                    and any(s <= r.start < e or r.start <= s < r.end
                                            for s, e in added))]
    kept += [RecognizerResult("PERSON", s, e, RELATED_SCORE) for s, e in sorted(added)]
    return kept


def _street(text: str, start: int, end: int) -> bool:
    if any(c.isdigit() for c in text[start:end]):
        return True
    line_before = text[max(0, start - 12):start].rsplit("\n", 1)[-1]
    return (_HOUSE_NUMBER.search(line_before) is not None
            or _STREET_AFTER.match(text[end:end + 16]) is not None)


def _listed_beside(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Capitalised names in a list right before or after the name at start..end."""
    found = []
    after = _NEXT_IN_LIST.match(text[end:end + 8])
    if after is not None:
        run = _run_at(text, end + after.end())
        if run is not None:
            found.append(run)
    before = _PREVIOUS_IN_LIST.search(text[max(0, start - 8):start])
    if before is not None:
        head = start - (len(text[max(0, start - 8):start]) - before.start())
        run = _run_ending(text, head)
        if run is not None:
            found.append(run)
    return found


def _run_at(text: str, start: int) -> tuple[int, int] | None:
    """The name of one or two capitalised words starting at `start`, if there is one."""
    words = []
    cursor = start
    for _ in range(2):
        word = _WORD.match(text, cursor)
        if word is None or not _namelike(word.group()) or len(word.group()) < 2:
            break
        words.append(word)
        cursor = word.end() + 1
        if text[word.end():cursor] != " ":
            break
    if not words:
        return None
    start, end, _ = _trim(text, (words[0].start(), words[-1].end(), len(words)))
    return start, end


def _run_ending(text: str, end: int) -> tuple[int, int] | None:
    """The capitalised word ending at `end` (the one before ", " in a list)."""
    match = re.search(r"[^\W\d_][^\W\d_'’-]*$", text[max(0, end - 40):end])
    if match is None or not _namelike(match.group()) or len(match.group()) < 2:
        return None
    return end - len(match.group()), end
