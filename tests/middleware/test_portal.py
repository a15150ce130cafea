"""The portal: one loop where supervision runs, reachable from any thread or loop."""

from __future__ import annotations

import asyncio

import openai

from supervisor import supervised
from supervisor.constitution import Constitution
from supervisor.middleware.portal import Portal
from tests.fakes.openai_server import FakeOpenAI, completion
from tests.middleware.conftest import SIGN_OFF, decisions


def test_a_sync_client_works_inside_a_running_event_loop(rules: Constitution,
                                                         ledger_dir: str) -> None:
    """A sync wrapper called from async code (a running loop on this thread) still works."""
    fake = FakeOpenAI([completion("Hello.")])

    async def app() -> str:
        with fake.serve() as url:
            client = supervised(openai.OpenAI(base_url=url + "/v1", max_retries=0),
                                constitution=rules, ledger=ledger_dir)
            reply = client.chat.completions.create(model="m", messages=[
                {"role": "user", "content": "hi"}])
        return reply.choices[0].message.content or ""

    assert asyncio.run(app()) == f"Hello. {SIGN_OFF}"


def test_one_async_wrapper_serves_several_event_loops(rules: Constitution,
                                                      ledger_dir: str) -> None:
    """The same async wrapper (and its ledger) is used from two loops one after the other."""
    fake = FakeOpenAI([completion("One."), completion("Two.")])
    client = supervised(openai.AsyncOpenAI(base_url="http://fake.test/v1",
                                           http_client=fake.client(), max_retries=0),
                        constitution=rules, ledger=ledger_dir)

    async def ask() -> str:
        reply = await client.chat.completions.create(model="m", messages=[
            {"role": "user", "content": "hi"}])
        return reply.choices[0].message.content or ""

    assert [asyncio.run(ask()), asyncio.run(ask())] == [f"One. {SIGN_OFF}",
                                                        f"Two. {SIGN_OFF}"]
    assert len(decisions(ledger_dir)) == 4


def test_close_runs_closers_then_stops() -> None:
    """close() runs every registered closer on the portal's loop, then stops the thread."""
    portal = Portal()
    ran: list[bool] = []

    home = portal.loop

    async def closer() -> None:
        ran.append(asyncio.get_running_loop() is home)

    assert portal.run(asyncio.sleep(0, "ok")) == "ok"
    portal.on_close(closer)
    thread = portal._thread
    portal.close()
    assert ran == [True]
    assert thread is not None and not thread.is_alive()
