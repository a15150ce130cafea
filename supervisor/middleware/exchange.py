"""One supervised exchange, whatever the vendor: screen the request, review the answer.

The vendor's shapes are behind `supervisor.wire.WireFormat` (Chat Completions,
Responses, Anthropic Messages), so the steps are written once and the wrappers and
middleware only move bytes: `prepare` runs the input stage on the request's user
messages (the newest is always checked and recorded; earlier turns resent as history
reuse this process's earlier decision on the same text), `release_body` /
`release_events` run the output stage on a whole answer or a whole held stream and
return the vendor-shaped data to show, or None when the vendor's own bytes may be shown
unchanged. All three are coroutines for the Guard's portal.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from supervisor.decision import Decision
from supervisor.middleware.guard import Guard
from supervisor.wire import WireFormat
from supervisor.wire.streams import Event


@dataclass(frozen=True, slots=True)
class Prepared:
    """A request after the input stage: what may be sent, and what the answer is checked
    against. `refusal` is set when the input stage withheld the prompt and `on_block` is
    "replace": answer with it and send nothing to the vendor."""

    request: dict[str, Any]
    prompt: str
    inbound: Decision | None
    context: dict[str, str] = field(default_factory=dict)
    refusal: str | None = None

    @property
    def model(self) -> str:
        """The model the request named (echoed in synthesised replies)."""
        return str(self.request.get("model") or "")

    @property
    def stream(self) -> bool:
        """Whether the caller asked for a stream."""
        return self.request.get("stream") is True


async def prepare(guard: Guard, wire: WireFormat, request: Mapping[str, Any],
                  context: dict[str, str]) -> Prepared:
    """Run the input stage on the request's user messages; raises OutputBlocked (or sets
    `refusal`) when a prompt is withheld."""
    texts = wire.user_texts(request)
    last = texts[-1][1] if texts else ""
    if not texts or not guard.screens_input:
        return Prepared(dict(request), last, None, context)
    *history, newest = texts
    decisions = await asyncio.gather(
        *(guard.screen(text, context, remember=True) for _, text in history),
        guard.screen(newest[1], context))
    for decision in (decisions[-1], *decisions[:-1]):
        if not decision.released:
            return Prepared(dict(request), last, decisions[-1], context,
                            refusal=guard.release(decision))
    changed = {pos: d.output for (pos, text), d in zip(texts, decisions, strict=True)
               if d.output != text}
    sent = wire.with_user_texts(request, changed) if changed else dict(request)
    return Prepared(sent, decisions[-1].output, decisions[-1], context)


async def release_body(guard: Guard, wire: WireFormat, body: Mapping[str, Any],
                       prepared: Prepared) -> dict[str, Any] | None:
    """Review a complete response; None when it may be shown as the vendor sent it."""
    answers = wire.answers(body)
    texts = await _released(guard, answers, prepared)
    return None if texts == answers else wire.with_answers(body, texts)


async def release_events(guard: Guard, wire: WireFormat, events: Sequence[Event],
                         prepared: Prepared) -> list[Event] | None:
    """Review a whole held stream; None when its own bytes may be replayed."""
    answers = wire.stream_answers(events)
    if wire.failed(events):  # the SDK raises the vendor's error; show no unverified text
        return wire.with_stream_answers(events, ["" for _ in answers])
    texts = await _released(guard, answers, prepared)
    return None if texts == answers else wire.with_stream_answers(events, texts)


async def _released(guard: Guard, answers: Sequence[str], prepared: Prepared) -> list[str]:
    async def one(answer: str) -> str:
        if not answer.strip():  # a tool call or an empty turn: no text for a person yet
            return answer
        decision = await guard.review(answer, prompt=prepared.prompt,
                                      context=prepared.context, inbound=prepared.inbound)
        return guard.release(decision)

    return list(await asyncio.gather(*(one(a) for a in answers)))
