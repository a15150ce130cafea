"""What a decision record holds: provenance, text hashes, texts as `store_text` allows.

`store_text` (from the constitution): `none` keeps only sha256 hashes of the texts,
`redacted` (the default) keeps them with every identifier Presidio finds replaced by
<TYPE>, `full` keeps them as they were. Verdict evidence and finding spans go through
the same policy, since a quoted span can be an identifier. If redaction itself fails,
no text is stored and the record says why: a ledger must never hold what it was told
to keep out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from supervisor.decision import Decision
from supervisor.ledger.canonical import text_hash

Redactor = Callable[[str], str]


def decision_body(decision: Decision, *, store_text: str, redact: Redactor | None = None,
                  input_record: str | None = None) -> dict[str, Any]:
    """The body of a `decision` record for one stage of one supervision."""
    full = decision.to_dict()
    texts = {"prompt": decision.prompt, "original": decision.original,
             "output": decision.output}
    body: dict[str, Any] = {
        "stage": decision.stage,
        "action": full["action"],
        "released": decision.released,
        "reason": decision.reason,
        "violated": full["violated"],
        "flags": full["flags"],
        "unevaluated": full["unevaluated"],
        "provenance": full["provenance"],
        "usage": full["usage"],
        "timings_ms": full["timings_ms"],
        "context": full["context"],
        "text_sha256": {k: text_hash(v) for k, v in texts.items()},
        "store_text": store_text,
        "input_record": input_record,
    }
    keep = _policy(store_text, redact)
    body["texts"] = {k: keep(v) for k, v in texts.items()} if keep else None
    body["verdicts"] = [
        {**v, "evidence": [keep(e) for e in v["evidence"]] if keep else [],
         "rationale": keep(v["rationale"]) if keep else v["rationale"]}
        for v in full["verdicts"]
    ]
    body["revisions"] = [
        {**r, "text": keep(r["text"]) if keep else None,
         "text_sha256": text_hash(r["text"])}
        for r in full["revisions"]
    ]
    return body


def _policy(store_text: str, redact: Redactor | None) -> Redactor | None:
    if store_text == "full":
        return lambda text: text
    if store_text == "none":
        return None
    if redact is None:
        from supervisor.detectors.pii import redact_all

        redact = redact_all
    return redact
