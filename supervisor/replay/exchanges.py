"""Which stored decisions can be re-decided, and on what text.

A decision record keeps its texts as its constitution's `store_text` allowed
(supervisor.ledger.records). A stored text is exactly what the supervisor checked when its
sha256 equals the recorded `text_sha256` (`full`, or `redacted` with nothing found to
redact): such a record replays faithfully under any principle. A redacted text has
placeholders such as <US_SSN> where the identifiers were, which is exactly what a `pii`
check looks for, so a target principle with a pii check cannot be re-judged on it: the
record is counted as not replayable, naming those principles, instead of being guessed.
The other checks (pattern, semantic, judge) read the redacted text. Under `none`, or
after a failed redaction, no text is stored and the record cannot be replayed at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from supervisor.constitution import Constitution
from supervisor.decision import Stage
from supervisor.ledger.canonical import text_hash
from supervisor.ledger.export import fired

NO_TEXT = "no text stored (store_text: none)"
REDACTION_FAILED = "no text stored (redaction failed when it was recorded)"
REDACTED = "identifiers were redacted before storage; pii checks cannot be re-run"
NO_ANSWER = "no answer was checked (the primary model failed)"


@dataclass(frozen=True, slots=True)
class Replayable:
    """One stored decision to re-decide: the text it checked and what it decided then.

    `verbatim` is False when the text is the redacted one; `judged` when a supervisor
    model took part in the original decision.
    """

    record_id: str
    seq: int
    stage: Stage
    prompt: str
    text: str
    action: str
    fired: tuple[str, ...]
    verbatim: bool = True
    judged: bool = False


@dataclass(frozen=True, slots=True)
class Unreplayable:
    """A selected decision that cannot be re-decided faithfully, and why.

    `principles` are the target's principles that could not be re-judged on it (every
    principle of its stage when no text was stored).
    """

    record_id: str
    seq: int
    action: str
    reason: str
    principles: tuple[str, ...]


def exchange_of(record: dict[str, Any], target: Constitution) -> Replayable | Unreplayable:
    """What can be replayed of one decision record under `target`."""
    body = record.get("body") or {}
    stage: Stage = "input" if body.get("stage") == "input" else "output"
    action = str(body.get("action", ""))
    principles = tuple(p.id for p in target.stage(stage))
    texts = body.get("texts")
    if not isinstance(texts, dict):
        reason = REDACTION_FAILED if body.get("redaction_error") else NO_TEXT
        return Unreplayable(record["id"], record["seq"], action, reason, principles)
    prompt, text = str(texts.get("prompt") or ""), str(texts.get("original") or "")
    if not text and action == "error":
        return Unreplayable(record["id"], record["seq"], action, NO_ANSWER, ())
    hashes = body.get("text_sha256") or {}
    verbatim = (text_hash(prompt) == hashes.get("prompt")
                and text_hash(text) == hashes.get("original"))
    if not verbatim:
        blind = tuple(p.id for p in target.stage(stage) if "pii" in p.kinds())
        if blind:
            return Unreplayable(record["id"], record["seq"], action, REDACTED, blind)
    judged = bool((body.get("provenance") or {}).get("judge_template_sha256"))
    return Replayable(record["id"], record["seq"], stage, prompt, text, action,
                    tuple(fired(body)), verbatim=verbatim, judged=judged)
