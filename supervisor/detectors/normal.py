"""What every detector reads: text with look-alike characters folded, and the way back.

An identifier written with a non-breaking hyphen, an en dash or a minus sign, with
full-width digits or with zero-width characters inside (`536‑22‑8193`, `５３６-２２-８１９３`,
`536\u200b-22-8193`) reads as the same number to a person, but not to a regular
expression or to spaCy. `normalise` folds such text before a detector sees it: Unicode
NFKC (full-width and compatibility forms to their plain letters and digits), every dash
and minus variant to ASCII `-`, every space variant to ASCII space, zero-width and other
invisible format characters removed, and, for phrase matching, case folded.

The folding is done piece by piece (a character with the combining marks that follow
it), so each piece of the normalised text knows which characters of the original it
came from. `Normalised.span` maps a span a detector found back to the original text,
widening it to whole original characters: redacting that span removes every original
character of the identifier, the zero-width ones between its digits included. ASCII
text is its own normal form (nothing to fold, offsets unchanged), so detectors score
ordinary text as if it were not normalised.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass

# invisible format characters: soft hyphen, zero-width space/joiners, bidi marks and
# embeddings, word joiner and invisible operators, isolates, BOM, grapheme joiner
INVISIBLE = re.compile(
    r"[\u00ad\u034f\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
# hyphens, dashes and minus signs a reader takes for "-" (NFKC keeps most of them)
DASHES = "\u02d7\u058a\u1806\u2010\u2011\u2012\u2013\u2014\u2015\u2043\u2212" \
         "\u2796\u2e3a\u2e3b\ufe31\ufe32\ufe58\ufe63\uff0d"
# space separators (Unicode Zs) other than ASCII space
SPACES = "\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009" \
         "\u200a\u202f\u205f\u3000"
_PLAIN = str.maketrans({**{c: "-" for c in DASHES}, **{c: " " for c in SPACES}})
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
_FOLDED = re.compile(f"{INVISIBLE.pattern}|[{DASHES}{SPACES}]")  # what NFKC leaves to us


@dataclass(frozen=True, slots=True)
class Normalised:
    """A normalised text, the original it came from, and the map between their offsets.

    The map is a list of pieces in normalised order: piece k starts at normalised offset
    `starts[k]` and came from original characters `sources[k]` (start, end). A `copied`
    piece is the original unchanged, one character for one; any other piece is one
    original character with its combining marks, folded into one or more characters.
    Original characters that fold to nothing (zero-width ones) belong to no piece.
    """

    text: str
    original: str
    starts: tuple[int, ...] = ()
    sources: tuple[tuple[int, int], ...] = ()
    copied: tuple[bool, ...] = ()

    @property
    def identity(self) -> bool:
        """True when offsets are the same in both texts (nothing was added or removed).

        No pieces also means a text whose every character folded to nothing ("\xad"):
        its end still maps to the original's end."""
        return not self.starts and len(self.text) == len(self.original)

    def origin(self, index: int) -> int:
        """The original offset where normalised character `index` came from.

        `len(text)` (the end) maps to `len(original)`.
        """
        if self.identity:
            return index
        if index >= len(self.text):
            return len(self.original)
        k = bisect_right(self.starts, index) - 1
        start, _ = self.sources[k]
        return start + (index - self.starts[k]) if self.copied[k] else start

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span holding every character that normalised `[start, end)` came
        from, the invisible characters between them included."""
        if self.identity:
            return start, end
        if end <= start:
            at = self.origin(start)
            return at, at
        last = end - 1
        k = bisect_right(self.starts, last) - 1
        source_start, source_end = self.sources[k]
        stop = (source_start + (last - self.starts[k]) + 1) if self.copied[k] else source_end
        return self.origin(start), stop


def fold(piece: str, *, casefold: bool = False) -> str:
    """One piece (a character and its combining marks) as the detectors read it."""
    plain = INVISIBLE.sub("", unicodedata.normalize("NFKC", piece)).translate(_PLAIN)
    return plain.casefold() if casefold else plain


def normalise(text: str, *, casefold: bool = False) -> Normalised:
    """`text` folded for the detectors, with the offset map back to it (see the module)."""
    if text.isascii():
        return Normalised(text.lower() if casefold else text, text)
    parts: list[str] = []
    starts: list[int] = []
    sources: list[tuple[int, int]] = []
    copied: list[bool] = []
    length = 0  # of the normalised text so far

    def add(out: str, begin: int, end: int, same: bool) -> None:
        nonlocal length
        if not out:
            return
        if same and copied and copied[-1] and sources[-1][1] == begin:
            sources[-1] = (sources[-1][0], end)  # extend the copied piece before it
        else:
            starts.append(length)
            sources.append((begin, end))
            copied.append(same)
        parts.append(out)
        length += len(out)

    done = 0
    for run in _NON_ASCII.finditer(text):
        begin = run.start()
        if begin > done and unicodedata.combining(text[begin]):
            begin -= 1  # a combining mark belongs to the ASCII letter before it
        if begin > done:
            ascii_part = text[done:begin]
            add(ascii_part.lower() if casefold else ascii_part, done, begin, True)
        done, segment = run.end(), text[begin:run.end()]
        if (unicodedata.is_normalized("NFKC", segment) and not _FOLDED.search(segment)
                and not (casefold and segment.casefold() != segment)):
            add(segment, begin, done, True)  # already plain (most scripts): one piece
            continue
        for piece_start, piece_end in pieces(text, begin, run.end()):
            piece = text[piece_start:piece_end]
            out = fold(piece, casefold=casefold)
            add(out, piece_start, piece_end, out == piece and len(piece) == 1)
    if done < len(text):
        tail = text[done:]
        add(tail.lower() if casefold else tail, done, len(text), True)
    return Normalised("".join(parts), text, tuple(starts), tuple(sources), tuple(copied))


def pieces(text: str, begin: int, end: int) -> list[tuple[int, int]]:
    """`text[begin:end]` cut before every character that is not a combining mark."""
    cuts = [i for i in range(begin, end) if i == begin or not unicodedata.combining(text[i])]
    return list(zip(cuts, [*cuts[1:], end], strict=True)) if cuts else []
