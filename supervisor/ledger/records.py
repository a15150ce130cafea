"""What a decision record holds: provenance, text hashes, texts as `store_text` allows.

`store_text` (from the constitution): `none` keeps only sha256 hashes of the texts,
`redacted` (the default) keeps them with every identifier Presidio finds replaced by
<TYPE>, `full` keeps them as they were, `encrypted` keeps them as they were but sealed
under the subject's data key (supervisor.ledger.sealed), so an erasure can make them
unreadable. Verdict evidence and rationales, revision texts
and the request's context (an OpenAI `user`, an Anthropic `metadata.user_id`, whatever
a caller sends in `/v1/supervise`'s `context`) go through the same policy, since any of
them can quote an identifier (a context entry's name too): under `none` they are not
stored at all. The context's labels (`LABELS`: which application, key and route asked)
are kept as they are, since records are listed and filtered by them. If redaction
itself fails, no text is stored and the record says why: a ledger must never hold what
it was told to keep out.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from supervisor.decision import Decision
from supervisor.ledger.canonical import text_hash
from supervisor.ledger.sealed import TextKeys, keys_for

Redactor = Callable[[str], str]
# context keys the service fills with the names of who asked, stored under every policy
LABELS = frozenset({"app_id", "key", "route"})


def decision_body(decision: Decision, *, store_text: str, redact: Redactor | None = None,
                  input_record: str | None = None,
                  keys: TextKeys | None = None) -> dict[str, Any]:
    """The body of a `decision` record for one stage of one supervision.

    Under `encrypted` the body is what `none` keeps, plus the texts sealed with `keys`
    (default: the key store and master key of the process's settings).
    """
    if store_text == "encrypted":
        bare = decision_body(decision, store_text="none", input_record=input_record)
        return (keys or keys_for()).seal_decision(bare, decision.to_dict(), LABELS)
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
        "usage": full["usage"],  # every model call, the primary's included
        "primary_usage": full["primary_usage"],
        "timings_ms": full["timings_ms"],
        "text_sha256": {k: text_hash(v) for k, v in texts.items()},
        "store_text": store_text,
        "input_record": input_record,
    }
    policy = _policy(store_text, redact)
    keep = _once(policy) if policy else None
    body["context"] = _context(full["context"], keep)
    body["texts"] = {k: keep(v) for k, v in texts.items()} if keep else None
    body["verdicts"] = [
        {**v, "evidence": [keep(e) for e in v["evidence"]] if keep else [],
         "rationale": keep(v["rationale"]) if keep else None}
        for v in full["verdicts"]
    ]
    body["revisions"] = [
        {**r, "text": keep(r["text"]) if keep else None,
         "text_sha256": text_hash(r["text"])}
        for r in full["revisions"]
    ]
    return body


def _context(context: dict[str, str], keep: Redactor | None) -> dict[str, str]:
    """The request's context as the policy allows: the labels as given; any other entry,
    whose name can be an identifier as well as its value, redacted or (under `none`) left
    out."""
    stored: dict[str, str] = {}
    for key, value in context.items():
        if key in LABELS:
            stored[key] = value
        elif keep is not None:
            name = keep(key)
            while name in stored or name in LABELS:  # two names redacted alike
                name += "'"
            stored[name] = keep(value)
    return stored


def _policy(store_text: str, redact: Redactor | None) -> Redactor | None:
    if store_text == "full":
        return lambda text: text
    if store_text == "none":
        return None
    return redact or _redact_known


def _redact_known(text: str) -> str:
    """Presidio redaction; short strings are remembered, since records repeat them ("no
    local check found a violation" for every quiet principle) and a pass costs ms."""
    if not text.strip():
        return text
    if len(text) <= SHORT:
        return _redact_short(text)
    from supervisor.detectors.pii import redact_all

    return redact_all(text)


SHORT = 512  # longer strings are answers, rarely repeated, and would bloat the cache


@lru_cache(maxsize=4096)
def _redact_short(text: str) -> str:
    from supervisor.detectors.pii import redact_all

    return redact_all(text)


def _once(keep: Redactor) -> Redactor:
    """`keep` computed once per distinct string within one record (original == output)."""
    seen: dict[str, str] = {}

    def memo(text: str) -> str:
        if text not in seen:
            seen[text] = keep(text)
        return seen[text]

    return memo


REVIEW_VERDICTS = ("agree", "override", "note")


def review_body(decision: dict[str, Any], *, verdict: str, reviewer: str, note: str = "",
                text: str | None = None, redact: Redactor | None = None) -> dict[str, Any]:
    """The body of a `review` record: a person's verdict on a stored decision record.

    Never an edit: the decision stays as it was, and this record links to it by id and
    hash. An override carries the text the reviewer releases, stored under the decision's
    own `store_text` policy (with its sha256 always).
    """
    if decision.get("kind") != "decision":
        raise ValueError(f"record {decision.get('id')} is a {decision.get('kind')} record; "
                         "only decisions are reviewed")
    if verdict not in REVIEW_VERDICTS:
        raise ValueError(f"verdict {verdict!r}: use one of {', '.join(REVIEW_VERDICTS)}")
    if verdict == "override" and not (text or "").strip():
        raise ValueError("an override needs the text to release")
    if verdict != "override" and text:
        raise ValueError("only an override carries a text to release")
    if verdict == "note" and not note.strip():
        raise ValueError("a note needs its text in `note`")
    stored = decision.get("body") or {}
    keep = _policy(str(stored.get("store_text", "redacted")), redact)
    return {
        "decision": decision["id"],
        "decision_hash": decision["hash"],
        "decision_action": stored.get("action"),
        "verdict": verdict,
        "reviewer": reviewer,
        "note": (keep(note) if keep else None) if note else "",
        "note_sha256": text_hash(note) if note else None,
        "text": keep(text) if keep and text else None,
        "text_sha256": text_hash(text) if text else None,
    }
