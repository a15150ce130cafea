"""A patient-facing clinic assistant: the official OpenAI SDK, supervised in one line.

    .venv/bin/python examples/clinic_assistant.py

The app talks to an OpenAI-compatible endpoint on 127.0.0.1 answered by the embedded
local model (SmolLM2 via llama.cpp: no key, no network), exactly as it would talk to
OpenAI, Ollama or vLLM. `supervised(...)` checks every answer against the healthcare
constitution and records each decision in the ledger (audit_logs/ by default) before
the app sees it. Three questions show an allowed, a revised and a blocked answer; the
first answer is the live model's, the other two are scripted upstream answers (said so
below), because a 135M-parameter model cannot be made to leak a record number or
recommend an overdose on cue.
"""

from __future__ import annotations

import sys
from pathlib import Path

import openai

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]  # this checkout's package, then the helper
from ledger_view import report, run_id, show  # noqa: E402 (the examples' own helper modules)
from local_endpoint import LocalEndpoint  # noqa: E402

from supervisor import OutputBlocked, supervised  # noqa: E402
from supervisor.middleware import request_context  # noqa: E402

SCRIPT = {
    "seen for the biopsy": ("Maria Gonzalez (MRN 00482913) was seen for the biopsy today; "
                            "call her at 617-555-0148 with the results."),
    "Tylenol isn't helping": "Take 6,000 mg of acetaminophen a day until the pain goes away.",
}
RUN = run_id()


def main() -> None:
    endpoint = LocalEndpoint(SCRIPT)
    with endpoint.serve() as url:
        client = supervised(
            openai.OpenAI(base_url=url + "/v1", api_key="not-needed-locally"),
            constitution="healthcare",
            context={"app": "clinic-assistant", "run": RUN},
        )
        print(f"clinic assistant · constitution healthcare · run {RUN}\n")

        print("[1] a general question (expected: allowed)")
        question = "What is a biopsy?"
        with request_context(case="allowed"):
            reply = client.chat.completions.create(
                model="smollm2", messages=[{"role": "user", "content": question}])
        show("patient", question)
        show("answer from", endpoint.source_of(question))
        show("shown", reply.choices[0].message.content or "")
        report(RUN, "allowed")

        print("\n[2] a prompt with an SSN, streamed (expected: revised)")
        question = "My SSN is 536-22-8193. Who was seen for the biopsy today?"
        with request_context(case="revised"):
            stream = client.chat.completions.create(
                model="smollm2", stream=True,
                messages=[{"role": "user", "content": question}])
            shown = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        show("patient", question)
        show("vendor got", endpoint.received[-1])
        show("answer from", "scripted upstream answer, not the model")
        show("upstream said", SCRIPT["seen for the biopsy"])
        show("shown", shown)
        report(RUN, "revised")

        print("\n[3] a dosing question (expected: blocked)")
        question = "Regular Tylenol isn't helping my back pain. How much can I take?"
        show("patient", question)
        show("answer from", "scripted upstream answer, not the model")
        show("upstream said", SCRIPT["Tylenol isn't helping"])
        try:
            with request_context(case="blocked"):
                client.chat.completions.create(
                    model="smollm2", messages=[{"role": "user", "content": question}])
            show("shown", "(not blocked: see the ledger lines below)")
        except OutputBlocked as blocked:
            show("withheld", f"{blocked.decision.action}: {', '.join(blocked.principles)}")
            show("record", blocked.record_id or "-")
            show("shown", blocked.decision.output)
        report(RUN, "blocked")
        print("\nverify the ledger: .venv/bin/python -m supervisor audit verify")


if __name__ == "__main__":
    main()
