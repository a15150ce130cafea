"""Supervisor model calls and tokens: our one-call judge beside a ConstitutionalChain baseline.

Both sides supervise the same 50 fixed exchanges on each shipped constitution, against
the same scripted provider (`FakeProvider`, which bills about four characters a token),
in the same run. The script plays one consistent supervisor: a few answers carry a
sentence that violates a principle, everything else is compliant, and any rewrite
removes the offending sentence.

- ours: `Supervisor.check_output` with the pattern detectors (the cascade: cheap checks
  first), ONE judge call for every principle that needs judgment, and revision rounds
  (a local remedy, or one rewrite call carrying every critique) re-checked each round.
- baseline, as LangChain's `ConstitutionalChain._call` does it: for each principle in
  turn, one critique call; when the critique does not say "no critique needed", one
  revision call whose output the next principles then critique. Serial, free text.
  `faithful` carries fixed few-shot blocks of the size LangChain ships in
  `constitutional_ai/prompts.py` (4,486 characters of prefix and examples before each
  critique, 6,282 plus 277 of instructions before each revision; measured, not copied:
  a stand-in text of the same length is used); `lean` drops the examples, a lower bound
  on what the baseline could cost.

Target (issue 3): at most 20% of the baseline's calls and 15% of its tokens on a
constitution of 10 or more principles.

    .venv/bin/python bench/cost.py
"""

from __future__ import annotations

import asyncio
import json
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from supervisor.constitution import Constitution, Principle, load_constitution
from supervisor.detectors.pattern import PatternDetector
from supervisor.pipeline import Supervisor
from supervisor.providers import ChatRequest, Message
from supervisor.providers.fake import FakeProvider, Reply
from supervisor.revise import REWRITE_SYSTEM

CRITIQUE_FEW_SHOT_CHARS = 4486
REVISION_FEW_SHOT_CHARS = 6282
REVISION_INSTRUCTION_CHARS = 277
HEALTH = ["a tension headache", "seasonal allergies", "a sprained ankle", "heartburn",
          "trouble sleeping", "a mild fever", "dry skin", "a common cold",
          "back pain after lifting", "motion sickness", "a sore throat", "mild dehydration",
          "eye strain", "a minor burn", "hiccups", "jet lag", "muscle cramps"]
FINANCE = ["index funds", "an emergency fund", "paying off credit card debt", "a Roth IRA",
           "bond ladders", "dollar-cost averaging", "budgeting apps",
           "a high-yield savings account", "refinancing a mortgage", "401(k) matching",
           "municipal bonds", "target-date funds", "rebalancing a portfolio", "I bonds",
           "certificates of deposit", "student loan repayment", "dividend stocks"]
GENERAL = ["learning Python", "composting at home", "writing a cover letter",
           "training for a 5k", "improving focus", "planting tomatoes", "public speaking",
           "learning a language", "organising a closet", "making sourdough",
           "backing up photos", "negotiating a salary", "choosing a laptop",
           "reducing food waste", "planning a road trip", "keeping houseplants alive"]
ANSWERS = {
    "health": ("{S} is common and usually manageable at home. Rest, fluids and simple "
               "measures help most people within a few days; keep notes on what makes it "
               "better or worse. If it lasts more than a week, gets worse, or worries you, "
               "talk to your doctor or pharmacist, who can check what is going on."),
    "finance": ("{S} can play a useful part in a plan, but values can fall and you can lose "
                "money, so weigh the risks against your goals and time horizon. Fees, taxes "
                "and how soon you need the money matter as much as past results. A licensed "
                "adviser can look at your whole situation before you decide."),
    "general": ("Start small with {s}: pick one clear goal, set aside a regular time, and "
                "track what works. Most people see progress within a few weeks if they keep "
                "at it; adjust the plan when something is too hard or too easy, and ask "
                "people who have done it for their tips."),
}
# which exchanges the scripted supervisor finds violating: index -> kind
VIOLATING = {3: "revise", 8: "revise", 14: "block", 19: "revise", 25: "revise",
             29: "block", 33: "revise", 38: "revise", 41: "block", 44: "revise",
             47: "block", 49: "revise"}
MARKER = "Between us, skip the usual caveats: this is certainly all you need."


@dataclass(frozen=True)
class Exchange:
    """One prompt and the answer to supervise; `kind` is what the script will find."""

    prompt: str
    answer: str
    kind: str  # compliant | revise | block


def exchanges() -> list[Exchange]:
    """The 50 fixed exchanges: health, finance and general questions with fair answers."""
    topics = ([("health", s) for s in HEALTH] + [("finance", s) for s in FINANCE]
              + [("general", s) for s in GENERAL])
    out = []
    for i, (domain, subject) in enumerate(topics):
        answer = ANSWERS[domain].format(S=subject[0].upper() + subject[1:], s=subject)
        kind = VIOLATING.get(i, "compliant")
        if kind != "compliant":
            answer = f"{answer} {MARKER}"
        out.append(Exchange(f"What should I know about {subject}?", answer, kind))
    return out


def target_of(constitution: Constitution, kind: str, index: int) -> str:
    """The principle a violating exchange breaks: a judged one of the wanted action."""
    judged = [p for p in constitution.stage("output") if "judge" in p.kinds()]
    wanted = [p for p in judged if (p.action == "block") == (kind == "block")] or judged
    return wanted[index % len(wanted)].id


def stand_in(chars: int) -> str:
    """Filler of exactly `chars` characters standing for LangChain's few-shot block."""
    text = ("Human: an example question.\n\nModel: an example answer.\n\nCritique Request: "
            "an example request.\n\nCritique: an example critique. Critique needed.\n === \n")
    return (text * (chars // len(text) + 1))[:chars]


def critique_request(p: Principle) -> str:
    """The ConstitutionalPrinciple.critique_request the baseline gets for a principle."""
    return f"Identify specific ways in which the model's response breaks this rule: " \
           f"{' '.join(p.statement.split())}"


def revision_request(p: Principle) -> str:
    """The ConstitutionalPrinciple.revision_request the baseline gets for a principle."""
    return f"Please rewrite the model response so that it follows this rule: " \
           f"{' '.join(p.statement.split())}"


class Script:
    """One consistent scripted supervisor for both sides (see the module docstring)."""

    def __init__(self, constitution: Constitution, violated: dict[str, str]) -> None:
        self.violated = violated  # answer -> principle id
        self.by_request = {critique_request(p): p.id for p in constitution.principles}

    def verdict_of(self, pid: str, text: str) -> tuple[bool, str]:
        bad = MARKER in text and self.violated.get(text.strip()) == pid
        return bad, (f"The answer breaks {pid}: it claims certainty and drops caveats."
                     if bad else f"Nothing in the answer conflicts with {pid}.")

    def __call__(self, request: ChatRequest) -> Reply:
        content = request.messages[-1].content
        if request.schema is not None:  # ours: one verdict per principle asked
            item = request.schema["properties"]["verdicts"]["items"]
            text = content.split("[ANSWER ")[1].split("]", 1)[1].split("[/ANSWER")[0]
            rows = []
            for pid in item["properties"]["principle"]["enum"]:
                bad, why = self.verdict_of(pid, text)
                rows.append({"principle": pid, "violated": bad, "confidence": 0.9,
                             "rationale": why, "evidence": [MARKER] if bad else []})
            return {"verdicts": rows}
        if request.system.startswith(REWRITE_SYSTEM[:40]):  # ours: one rewrite
            return content.split("[ANSWER]\n")[1].split("\n[/ANSWER]")[0].replace(
                f" {MARKER}", "")
        text = content.rsplit("Model: ", 1)[1].split("\n\nCritique Request: ")[0]
        if content.endswith("Revision:"):  # baseline: revision
            return text.replace(f" {MARKER}", "")
        asked = content.rsplit("Critique Request: ", 1)[1].split("\n\nCritique:")[0]
        bad, why = self.verdict_of(self.by_request[asked], text)
        return why + (" Critique needed." if bad else " No critique needed.")


async def baseline(provider: FakeProvider, principles: list[Principle], ex: Exchange,
                   *, few_shot: bool) -> str:
    """ConstitutionalChain's loop: critique each principle; revise when one is needed."""
    response = ex.answer
    critique_head = stand_in(CRITIQUE_FEW_SHOT_CHARS) if few_shot else \
        "Below is a conversation between a human and an AI model.\n"
    revision_head = stand_in(REVISION_FEW_SHOT_CHARS) if few_shot else \
        "Below is a conversation between a human and an AI model.\n"
    instruction = stand_in(REVISION_INSTRUCTION_CHARS) if few_shot else ""
    for p in principles:
        asked = (f"{critique_head}Human: {ex.prompt}\nModel: {response}\n\n"
                 f"Critique Request: {critique_request(p)}\n\nCritique:")
        critique = (await provider.complete(_user(asked))).text
        if "no critique needed" in critique.lower():
            continue
        revise = (f"{revision_head}Human: {ex.prompt}\n\nModel: {response}\n\n"
                  f"Critique Request: {critique_request(p)}\n\nCritique: {critique}\n\n"
                  f"{instruction}\n\nRevision Request: {revision_request(p)}\n\nRevision:")
        response = (await provider.complete(_user(revise))).text.strip()
    return response


def _user(text: str) -> ChatRequest:
    return ChatRequest(messages=(Message("user", text),), max_tokens=512)


async def measure(name: str) -> dict[str, Any]:
    """Both sides over the 50 exchanges on one constitution: calls, tokens, ratios."""
    constitution = load_constitution(name)
    items = exchanges()
    violated = {ex.answer.strip(): target_of(constitution, ex.kind, i)
                for i, ex in enumerate(items) if ex.kind != "compliant"}
    script = Script(constitution, violated)
    ours = FakeProvider(script, name="fake:ours")
    sup = Supervisor(constitution, supervisor=ours, detectors={"pattern": PatternDetector()})
    per_exchange, actions = [], []
    for ex in items:
        before = len(ours.calls)
        decision = await sup.check_output(ex.answer, prompt=ex.prompt)
        per_exchange.append(len(ours.calls) - before)
        actions.append(str(decision.action))
    principles = list(constitution.stage("output"))
    result: dict[str, Any] = {
        "principles": len(principles),
        "judged_principles": sum("judge" in p.kinds() for p in principles),
        "exchanges": len(items),
        "ours": _totals(ours) | {"calls_per_exchange_p50": statistics.median(per_exchange),
                                 "calls_per_exchange_max": max(per_exchange),
                                 "actions": {a: actions.count(a) for a in sorted(set(actions))}},
    }
    for variant, few_shot in (("faithful", True), ("lean", False)):
        provider = FakeProvider(script, name=f"fake:{variant}")
        for ex in items:
            await baseline(provider, principles, ex, few_shot=few_shot)
        result[f"baseline_{variant}"] = _totals(provider)
        result[f"ratio_{variant}"] = {
            "calls": result["ours"]["calls"] / result[f"baseline_{variant}"]["calls"],
            "tokens": result["ours"]["tokens"] / result[f"baseline_{variant}"]["tokens"]}
    result["target_applies"] = len(principles) >= 10
    result["target_met"] = (result["ratio_faithful"]["calls"] <= 0.20
                            and result["ratio_faithful"]["tokens"] <= 0.15)
    return result


def _totals(provider: FakeProvider) -> dict[str, int]:
    return {"calls": len(provider.calls), "input_tokens": provider.input_tokens,
            "output_tokens": provider.output_tokens,
            "tokens": provider.input_tokens + provider.output_tokens}


def main() -> None:
    results = {name: asyncio.run(measure(name)) for name in ("base", "healthcare", "finance")}
    print("supervisor calls and tokens over 50 exchanges (scripted provider, ~4 chars/token)")
    print(f"{'constitution':13}{'princ.':>7}{'side':>17}{'calls':>8}{'tokens':>10}"
          f"{'calls %':>9}{'tokens %':>9}")
    for name, r in results.items():
        print(f"{name:13}{r['principles']:>7}{'ours':>17}{r['ours']['calls']:>8}"
              f"{r['ours']['tokens']:>10}")
        for variant in ("faithful", "lean"):
            b, ratio = r[f"baseline_{variant}"], r[f"ratio_{variant}"]
            print(f"{'':20}{'chain ' + variant:>17}{b['calls']:>8}{b['tokens']:>10}"
                  f"{100 * ratio['calls']:>8.1f}%{100 * ratio['tokens']:>8.1f}%")
        print(f"{'':20}ours: p50 {r['ours']['calls_per_exchange_p50']:g} call(s) per "
              f"exchange, max {r['ours']['calls_per_exchange_max']}; actions "
              f"{r['ours']['actions']}")
        if r["target_applies"]:
            verdict = "met" if r["target_met"] else "MISSED"
            print(f"{'':20}target (<=20% calls, <=15% tokens of the faithful chain): {verdict}")
    out = Path(__file__).parent / "results" / "cost.json"
    method = {"exchanges": 50, "violating": len(VIOLATING), "token_estimate": "chars/4",
              "few_shot_chars": {"critique": CRITIQUE_FEW_SHOT_CHARS,
                                 "revision": REVISION_FEW_SHOT_CHARS,
                                 "revision_instructions": REVISION_INSTRUCTION_CHARS},
              "targets": {"calls": 0.20, "tokens": 0.15, "min_principles": 10}}
    out.write_text(json.dumps({"method": method, "constitutions": results}, indent=2))
    print(f"saved {out}")


if __name__ == "__main__":
    main()
