"""Many supervised streams at once never mix their texts.

A known bug class in other guardrail libraries: per-request state kept on a shared
object, so concurrent streams see each other's chunks. Here every stream is held and
released on its own; 50 concurrent streams with distinct answers, half of them revised
(re-cut into new chunks) and half replayed, must each read back exactly their own.
"""

from __future__ import annotations

import asyncio
import re

import anthropic
import openai

from supervisor import supervised
from supervisor.constitution import Constitution
from tests.fakes.anthropic_server import FakeAnthropic, message
from tests.fakes.openai_server import FakeOpenAI, completion
from tests.fakes.scripted import Recorded, Reply
from tests.middleware.conftest import SIGN_OFF, decisions

CALLERS = 50


def answer_for(n: int) -> str:
    """Caller n's answer; odd callers lack the sign-off, so theirs is revised."""
    body = f"Answer for caller {n}: " + " ".join(f"w{n}x{i}" for i in range(12)) + "."
    return body if n % 2 else f"{body} {SIGN_OFF}"


def expected(n: int) -> str:
    """What caller n must read: its own answer, signed."""
    text = answer_for(n)
    return text if text.endswith(SIGN_OFF) else f"{text} {SIGN_OFF}"


def caller(recorded: Recorded) -> int:
    """Which caller sent this request (its number is in the prompt)."""
    match = re.search(r"caller (\d+)", str(recorded.json["messages"]))
    assert match is not None
    return int(match.group(1))


async def test_concurrent_openai_streams_keep_their_own_text(rules: Constitution,
                                                             ledger_dir: str) -> None:
    """50 concurrent AsyncOpenAI streams: each reads exactly its own released text."""

    def script(recorded: Recorded) -> Reply:
        return completion(answer_for(caller(recorded)))

    fake = FakeOpenAI(script)
    client = supervised(openai.AsyncOpenAI(base_url="http://fake.test/v1",
                                           http_client=fake.client(), max_retries=0),
                        constitution=rules, ledger=ledger_dir)

    async def one(n: int) -> str:
        stream = await client.chat.completions.create(
            model="gpt-4o-mini", stream=True,
            messages=[{"role": "user", "content": f"I am caller {n}"}])
        return "".join([c.choices[0].delta.content or "" async for c in stream
                        if c.choices])

    texts = await asyncio.gather(*(one(n) for n in range(CALLERS)))
    assert list(texts) == [expected(n) for n in range(CALLERS)]
    assert len(decisions(ledger_dir)) == 2 * CALLERS


async def test_concurrent_anthropic_streams_keep_their_own_text(rules: Constitution,
                                                                ledger_dir: str) -> None:
    """50 concurrent AsyncAnthropic messages.stream helpers: each its own text and message."""

    def script(recorded: Recorded) -> Reply:
        return message(answer_for(caller(recorded)))

    fake = FakeAnthropic(script)
    client = supervised(anthropic.AsyncAnthropic(base_url="http://fake.test",
                                                 http_client=fake.client(), max_retries=0),
                        constitution=rules, ledger=ledger_dir)

    async def one(n: int) -> tuple[str, str]:
        async with client.messages.stream(
                model="claude-haiku-4-5", max_tokens=200,
                messages=[{"role": "user", "content": f"I am caller {n}"}]) as stream:
            text = "".join([t async for t in stream.text_stream])
            final = await stream.get_final_message()
        # the SDK types content blocks as a union; these replies hold one text block
        return text, final.content[0].text  # type: ignore[union-attr]

    results = await asyncio.gather(*(one(n) for n in range(CALLERS)))
    assert [r[0] for r in results] == [expected(n) for n in range(CALLERS)]
    assert [r[1] for r in results] == [expected(n) for n in range(CALLERS)]
