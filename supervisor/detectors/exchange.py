"""The `exchange` detector: reads the prompt and the answer together, not the topic.

A harm principle is broken by substantive help with a harmful request, not by its subject:
a refusal, a definition, history or a warning about a dangerous topic is compliant, and
an embedding of the answer alone cannot tell them apart ("I can't help you hurt anyone"
reads as violence). This detector reads three things:

    request    how much the prompt asks for harm (a jailbreak wrapper counts), a logistic
               head over the prompt's embedding: the mean of its windows and its last one,
               and cues of who or what a harm verb is aimed at (`request_cues`)
    refusal    cues that the answer declines ("I can't", "I'm sorry, but"), in its opening
               and anywhere, and its length
    exchange   a logistic head over the answer's opening window, its mean, the prompt's
               vectors and their element-wise products, and the refusal cues: how likely
               the answer is substantive compliance with a harmful request; it counts
               only where `request` reaches the model's request gate, so an ordinary
               question answered is never a violation

At the input stage a principle's `exchange` check fires when `request` reaches its
threshold; at the output stage when `exchange` does. Both heads, their thresholds and the
figures they were chosen by live in `<constitution>.exchange.json` beside the constitution,
written by `supervisor fit-exchange` (see `supervisor.evaluation.exchange_fit`). Every
finding carries the scores and thresholds it was decided by. An output with no prompt is
not an exchange: this detector leaves it to the others.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from supervisor.constitution import Constitution, Principle
from supervisor.decision import Finding
from supervisor.detectors.base import Findings
from supervisor.detectors.embedding import Encoder, Vectors, shared_encoder, windows
from supervisor.detectors.exemplars import beside
from supervisor.detectors.lexical import Terms
from supervisor.detectors.normal import normalise
from supervisor.detectors.request_cues import fired, request_cues
from supervisor.errors import ConstitutionError

FORMAT = "supervisor-exchange/3"  # /3 adds request cues, /2 term views; older files load
FORMATS = ("supervisor-exchange/1", "supervisor-exchange/2", FORMAT)
SUFFIX = ".exchange.json"
OPENING = 300  # characters of the answer in which a refusal usually shows
LONG = 3000  # answer length (characters) at which the length cue saturates
# Long digit runs (card, account, phone numbers) carry no meaning a principle judges, yet
# they pull a small encoder towards fraud and theft exemplars: a bank saying which card
# is on file read as illicit activity. Every view masks them alike (semantic's too).
NUMBER = re.compile(r"\d(?:[ .\-/]?\d){5,}")
REFUSAL = re.compile(
    r"\b(?:i'?m sorry|i am sorry|i apologi[sz]e|i can(?:no|')t|i cannot|i won'?t|i will not"
    r"|as an ai|i'?m not able|i am not able|i'?m unable|i am unable|not appropriate"
    r"|i must (?:decline|refuse)|against my (?:guidelines|principles|programming)"
    r"|(?:cannot|can't) (?:provide|help|assist|fulfil+|comply))", re.IGNORECASE)


def view(text: str) -> tuple[str, ...]:
    """The windows of a text as embedded: normal form, long digit runs masked.

    The same views the semantic detector embeds for an `output` check, so an answer
    checked by both is embedded once (the encoder caches by text).
    """
    return tuple(NUMBER.sub("<NUMBER>", w) for w in windows(normalise(text).text))


def refusal_cues(answer: str) -> npt.NDArray[np.float32]:
    """[a refusal phrase in the opening, one anywhere, length / LONG capped at 1]."""
    return np.array([bool(REFUSAL.search(answer[:OPENING])), bool(REFUSAL.search(answer)),
                     min(len(answer), LONG) / LONG], dtype=np.float32)


def part_of(part: str, prompt: str, answer: str) -> str:
    """The text of the exchange a term view reads: the answer's opening, the answer or
    the prompt."""
    if part == "opening":
        return answer[:OPENING]
    return answer if part == "answer" else prompt


def _unit(vector: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def request_features(prompt: Vectors) -> npt.NDArray[np.float32]:
    """What the request head reads: the prompt windows' mean direction and the last window."""
    return np.concatenate([_unit(prompt.mean(axis=0)), prompt[-1]]).astype(np.float32)


def request_input(prompt: Vectors, text: str, cues: bool) -> npt.NDArray[np.float32]:
    """The request head's features: `request_features`, and with `cues` the prompt's
    `request_cues` after them."""
    features = request_features(prompt)
    return np.concatenate([features, request_cues(text)]) if cues else features


def exchange_features(prompt: Vectors, answer: Vectors,
                      text: str) -> npt.NDArray[np.float32]:
    """What the exchange head reads (see the module docstring), from window vectors."""
    mean_p, last_p = _unit(prompt.mean(axis=0)), prompt[-1]
    opening, mean_a = answer[0], _unit(answer.mean(axis=0))
    return np.concatenate([opening, mean_a, mean_p, last_p, opening * last_p,
                           mean_a * mean_p, refusal_cues(text)]).astype(np.float32)


@dataclass(frozen=True, slots=True)
class Head:
    """sigmoid(weights . features + terms + bias), firing at `threshold`; `terms` are the
    head's term views (`lexical`), each adding what its text's words weigh."""

    weights: npt.NDArray[np.float64]
    bias: float
    threshold: float
    # the exchange head only: a prompt whose request score is below this is not a harmful
    # request, whatever the answer (an ordinary question answered is never a violation)
    request_gate: float = 0.0
    terms: tuple[Terms, ...] = ()
    # the request head only: its last weights read the prompt's `request_cues`
    cues: bool = False

    def score(self, features: npt.NDArray[np.float32], prompt: str = "",
              answer: str = "") -> float:
        return self.weigh(features, prompt, answer)[0]

    def weigh(self, features: npt.NDArray[np.float32], prompt: str = "", answer: str = "",
              count: int = 3) -> tuple[float, tuple[str, ...]]:
        """The score, and the `count` terms that pushed it up most (`'term' +weight`, for
        a reviewer), from one pass over each term view's text."""
        added: dict[str, float] = {}
        for view_ in self.terms:
            for term, value in view_.contributions(part_of(view_.part, prompt,
                                                           answer)).items():
                added[term] = added.get(term, 0.0) + value
        logit = float(features @ self.weights) + self.bias + sum(added.values())
        top = sorted(((v, t) for t, v in added.items() if v > 0), reverse=True)[:count]
        return (1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, logit)))),
                tuple(f"{t!r} +{v:.2f}" for v, t in top))

    def to_json(self) -> dict[str, Any]:
        return {"bias": round(self.bias, 8), "threshold": round(self.threshold, 6),
                "request_gate": round(self.request_gate, 6),
                "weights": [round(float(w), 8) for w in self.weights],
                "terms": [t.to_json() for t in self.terms], "cues": self.cues}


@dataclass(frozen=True, slots=True)
class Reading:
    """How one exchange reads: each signal's score, and the thresholds they meet."""

    request: float
    request_threshold: float
    exchange: float | None  # None without an answer to read (the input stage)
    exchange_threshold: float
    refusal_cue: str | None
    request_gate: float = 0.0
    words: tuple[str, ...] = ()  # the terms that weighed most towards compliance
    cues: tuple[str, ...] = ()  # the request cues that fired on the prompt

    @property
    def serving(self) -> float:
        """The exchange score, or 0 when the request is below the gate: how much the
        answer serves a harmful request."""
        if self.exchange is None or self.request < self.request_gate:
            return 0.0
        return self.exchange

    @property
    def harmful_request(self) -> bool:
        return self.request >= self.request_threshold

    @property
    def harmful_compliance(self) -> bool:
        return self.exchange is not None and self.serving >= self.exchange_threshold

    def explain(self) -> str:
        """One line a reviewer can read: every signal with its score and threshold."""
        parts = [f"request {self.request:.2f} (threshold {self.request_threshold:.2f})"]
        if self.cues:
            parts.append(f"cues {', '.join(self.cues)}")
        if self.exchange is not None:
            if self.request < self.request_gate:
                parts.append(f"request below the gate {self.request_gate:.2f}")
            parts.append(f"exchange {self.exchange:.2f} (threshold "
                         f"{self.exchange_threshold:.2f})")
            parts.append(f"refusal cue {self.refusal_cue!r}" if self.refusal_cue
                         else "no refusal cue")
            if self.words:
                parts.append(f"words {', '.join(self.words)}")
        return "; ".join(parts)


RECENT = 64  # readings kept by `ExchangeModel.read`, the process's last exchanges
_recent: OrderedDict[tuple[str, str, str, str | None], Reading] = OrderedDict()
_recent_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class ExchangeModel:
    """A loaded `<id>.exchange.json`: the request and exchange heads and their provenance."""

    path: str
    sha256: str
    encoder: str
    request: Head
    exchange: Head

    def read(self, encoder: Encoder, prompt: str, answer: str | None) -> Reading:
        """Embed the exchange's windows (cached by the encoder) and score both heads.

        One output check reads its exchange twice (the semantic gate, then an `exchange`
        principle), so the last readings are kept (`RECENT`).
        """
        key = (self.sha256, encoder.version, prompt, answer)
        with _recent_lock:
            found = _recent.get(key)
            if found is not None:
                _recent.move_to_end(key)
                return found
        reading = self._read(encoder, prompt, answer)
        with _recent_lock:
            _recent[key] = reading
            while len(_recent) > RECENT:
                _recent.popitem(last=False)
        return reading

    def _read(self, encoder: Encoder, prompt: str, answer: str | None) -> Reading:
        prompt_views = view(prompt)
        answer_views = view(answer) if answer is not None else ()
        vectors = encoder.encode([*prompt_views, *answer_views])
        prompt_vectors = vectors[:len(prompt_views)]
        request = self.request.score(
            request_input(prompt_vectors, prompt, self.request.cues), prompt)
        cues = fired(prompt) if self.request.cues else ()
        if answer is None:
            return Reading(request, self.request.threshold, None, self.exchange.threshold,
                           None, cues=cues)
        features = exchange_features(prompt_vectors, vectors[len(prompt_views):], answer)
        cue = REFUSAL.search(answer)
        score, words = self.exchange.weigh(features, prompt, answer)
        return Reading(request, self.request.threshold, score, self.exchange.threshold,
                       cue.group(0) if cue else None, self.exchange.request_gate, words, cues)


def find_model(constitution: Constitution, encoder: str) -> ExchangeModel | None:
    """The nearest exchange model in the extends chain fitted with this encoder version."""
    for path in beside(constitution, SUFFIX):
        loaded = read_model(path)
        if loaded.encoder == encoder:
            return loaded
    return None


def read_model(path: Path) -> ExchangeModel:
    """Load and check one exchange model file (cached until the file changes)."""
    return _read(str(path), path.stat().st_mtime_ns)


@lru_cache(maxsize=8)
def _read(path: str, mtime_ns: int) -> ExchangeModel:
    raw = Path(path).read_bytes()
    try:
        body = json.loads(raw)
        if body.get("format") not in FORMATS:
            raise ValueError(f"format is {body.get('format')!r}, expected {FORMAT!r}")
        return ExchangeModel(path, hashlib.sha256(raw).hexdigest(),
                             str(body["encoder"]["version"]), _head(body["request"]),
                             _head(body["exchange"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise ConstitutionError(f"not an exchange model ({exc}); run `supervisor "
                                "fit-exchange` again to rewrite it", path=path) from None


def _head(entry: dict[str, Any]) -> Head:
    weights = np.asarray([float(w) for w in entry["weights"]], dtype=np.float64)
    numbers = (*weights.tolist(), float(entry["bias"]), float(entry["threshold"]))
    if not all(math.isfinite(n) for n in numbers):
        raise ValueError("a head has a non-finite number")
    return Head(weights, float(entry["bias"]), float(entry["threshold"]),
                float(entry.get("request_gate", 0.0)),
                tuple(Terms.from_json(t) for t in entry.get("terms", ())),
                bool(entry.get("cues", False)))


class ExchangeDetector:
    """Findings for principles with an `exchange` check; see the module docstring."""

    kind = "exchange"

    def __init__(self, constitution: Constitution, encoder: Encoder | None = None) -> None:
        self.constitution = constitution
        self.encoder = encoder or shared_encoder()
        self._model: ExchangeModel | bool | None = False  # False: not looked up yet

    @property
    def version(self) -> str:
        """Detector, encoder and the model file's sha256 prefix, for the provenance."""
        if self._model is False:
            self._model = find_model(self.constitution, self.encoder.version)
        fitted = self._model.sha256[:16] if isinstance(self._model, ExchangeModel) else "none"
        return f"exchange-1/{self.encoder.version}/{fitted}"

    def warm(self) -> None:
        """Read the model file and load the encoder now, not in the first request."""
        self.model()
        self.encoder.encode(["warm"])

    def model(self) -> ExchangeModel:
        """The constitution's exchange model; a clear error when there is none."""
        if self._model is False:
            self._model = find_model(self.constitution, self.encoder.version)
        if not isinstance(self._model, ExchangeModel):
            raise ConstitutionError(
                f"{self.constitution.id} has exchange checks but no {self.constitution.id}"
                f"{SUFFIX} fitted with encoder {self.encoder.version}; run `supervisor "
                f"fit-exchange {self.constitution.id}`", path=self.constitution.path)
        return self._model

    def scan(self, principles: Sequence[Principle], *, prompt: str, text: str) -> Findings:
        checked = [p for p in principles if p.check("exchange") is not None]
        if not checked:
            return {}
        inputs = [p for p in checked if p.applies_to == "input"]
        outputs = [p for p in checked if p.applies_to == "output"] if prompt.strip() else []
        found: dict[str, tuple[Finding, ...]] = {}
        if inputs:  # the input stage's text is the prompt itself
            reading = self.model().read(self.encoder, text, None)
            for principle in inputs:
                if reading.request >= _threshold(principle, reading.request_threshold):
                    found[principle.id] = (_finding(principle, "harmful-request",
                                                    reading.request, reading, text),)
        if outputs:
            reading = self.model().read(self.encoder, prompt, text)
            score = reading.serving
            for principle in outputs:
                if score >= _threshold(principle, reading.exchange_threshold):
                    found[principle.id] = (_finding(principle, "harmful-compliance", score,
                                                    reading, text),)
        return found


_BOUND: dict[tuple[str, str], ExchangeDetector] = {}
_BINDING = threading.Lock()


def bound_exchange(constitution: Constitution) -> ExchangeDetector:
    """The process's exchange detector for this constitution (one per file and content)."""
    key = (constitution.sha256, constitution.path)
    with _BINDING:
        if key not in _BOUND:
            _BOUND[key] = ExchangeDetector(constitution)
        return _BOUND[key]


def _threshold(principle: Principle, fitted: float) -> float:
    own = principle.check("exchange").threshold
    return fitted if own is None else float(own)


def _finding(principle: Principle, rule: str, score: float, reading: Reading,
             text: str) -> Finding:
    evidence = reading.explain()
    return Finding(principle.id, "exchange", rule, 0, len(text), evidence, round(score, 6))
