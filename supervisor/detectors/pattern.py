"""The `pattern` detector: regular expressions and phrase lists from the constitution.

Text is normalised before matching so that look-alike tricks do not slip past a phrase
list (see `normal`): Unicode NFKC (full-width and ligature forms fold to ASCII), dash and
space variants made plain, zero-width and other invisible format characters removed,
case folded. Phrases match on word boundaries; regular expressions are used as written
(case-insensitive). A finding's offsets and text are those of the original text, so a
`redact` remedy removes the characters that were written.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from supervisor.constitution import PatternCheck, Principle
from supervisor.decision import Finding
from supervisor.detectors.base import Findings
from supervisor.detectors.normal import Normalised
from supervisor.detectors.normal import normalise as fold_text


def normalise(text: str) -> str:
    """NFKC, dashes and spaces plain, invisible characters removed, case folded: what
    patterns are matched against."""
    return fold_text(text, casefold=True).text


@lru_cache(maxsize=256)
def compile_check(check: PatternCheck) -> re.Pattern[str] | None:
    """One alternation for all of a check's phrases and expressions, compiled once."""
    parts = [f"(?:{expression})" for expression in check.regex]
    for phrase in check.phrases:
        words = [re.escape(w) for w in normalise(phrase).split()]
        parts.append(r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)")
    return re.compile("|".join(parts), re.IGNORECASE) if parts else None


@lru_cache(maxsize=512)
def _any(expressions: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{e})" for e in expressions), re.IGNORECASE)


class PatternDetector:
    """Matches each principle's pattern check against the normalised text."""

    kind = "pattern"
    version = "pattern-2"

    def scan(self, principles: Sequence[Principle], *, prompt: str, text: str) -> Findings:
        folded = fold_text(text, casefold=True)
        normal = folded.text
        found: dict[str, tuple[Finding, ...]] = {}
        for principle in principles:
            check: PatternCheck | None = principle.check("pattern")
            if check is None:
                continue
            if check.when_prompt and not _any(check.when_prompt).search(normalise(prompt)):
                continue
            hits = self._present(principle.id, check, folded)
            if check.absent and not _any(check.absent).search(normal):
                hits += (Finding(principle.id, self.kind, "missing", 0, 0, "", check.score),)
            if hits:
                found[principle.id] = hits
        return found

    def _present(self, principle: str, check: PatternCheck, folded: Normalised
                 ) -> tuple[Finding, ...]:
        pattern = compile_check(check)
        if pattern is None:
            return ()
        spans = [folded.span(m.start(), m.end()) for m in pattern.finditer(folded.text)
                 if m.end() > m.start()]
        return tuple(Finding(principle, self.kind, "pattern", start, end,
                             folded.original[start:end], check.score)
                     for start, end in spans)
