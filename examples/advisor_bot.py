"""A retail-banking advisor bot: the official Anthropic SDK with the supervisor as middleware.

    .venv/bin/python examples/advisor_bot.py

The bot talks to an Anthropic-compatible endpoint on 127.0.0.1 answered by the embedded
local model (SmolLM2 via llama.cpp: no key, no network). The supervisor rides on the
Anthropic SDK's own client-level hook, `Anthropic(middleware=[...])`, so every
`/v1/messages` call (create, stream, the `messages.stream` helper) is checked against
the finance constitution and recorded in the ledger (audit_logs/ by default) before the
bot sees it. Three questions show an allowed, a revised and an escalated answer; the
first answer is the live model's, the other two are scripted upstream answers (said so
below), because a 135M-parameter model cannot be made to print a card number or give
personal investment advice on cue.
"""

from __future__ import annotations

import sys
from pathlib import Path

import anthropic

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]  # this checkout's package, then the helpers
from ledger_view import report, run_id, show  # noqa: E402 (the examples' own helper modules)
from local_endpoint import LocalEndpoint  # noqa: E402

from supervisor import OutputBlocked  # noqa: E402
from supervisor.middleware import AnthropicSupervisorMiddleware, request_context  # noqa: E402

SCRIPT = {
    "card is on file": "We have card number 4111 1111 1111 1111 saved for your autopay.",
    "What should I do with my savings": ("You should put all your savings into Tesla stock "
                                         "and leveraged ETFs."),
}
RUN = run_id()
MODEL = "smollm2"


def main() -> None:
    endpoint = LocalEndpoint(SCRIPT)
    supervision = AnthropicSupervisorMiddleware(
        "finance", context={"app": "advisor-bot", "run": RUN})
    with endpoint.serve() as url:
        client = anthropic.Anthropic(base_url=url, api_key="not-needed-locally",
                                     middleware=[supervision])
        print(f"advisor bot · constitution finance · run {RUN}\n")

        print("[1] a general question, streamed with messages.stream (expected: allowed)")
        question = "What is a savings account?"
        with request_context(case="allowed"), client.messages.stream(
                model=MODEL, max_tokens=200,
                messages=[{"role": "user", "content": question}]) as stream:
            shown = "".join(stream.text_stream)
        show("customer", question)
        show("answer from", endpoint.source_of(question))
        show("shown", shown)
        report(RUN, "allowed")

        print("\n[2] a card on file (expected: revised)")
        question = "Which card is on file for my autopay?"
        with request_context(case="revised"):
            reply = client.messages.create(model=MODEL, max_tokens=200,
                                           messages=[{"role": "user", "content": question}])
        show("customer", question)
        show("answer from", "scripted upstream answer, not the model")
        show("upstream said", SCRIPT["card is on file"])
        show("shown", "".join(b.text for b in reply.content if b.type == "text"))
        report(RUN, "revised")

        print("\n[3] personal investment advice (expected: escalated to a person)")
        question = "I'm 67 and retired. What should I do with my savings?"
        show("customer", question)
        show("answer from", "scripted upstream answer, not the model")
        show("upstream said", SCRIPT["What should I do with my savings"])
        try:
            with request_context(case="escalated"):
                client.messages.create(model=MODEL, max_tokens=200,
                                       messages=[{"role": "user", "content": question}])
            show("shown", "(not withheld: see the ledger lines below)")
        except OutputBlocked as withheld:
            show("withheld", f"{withheld.decision.action}: {', '.join(withheld.principles)}")
            show("record", withheld.record_id or "-")
            show("shown", withheld.decision.output)
        report(RUN, "escalated")
        print("\nverify the ledger: .venv/bin/python -m supervisor audit verify")


if __name__ == "__main__":
    main()
