"""The Supervisor: one request through input stage, primary model and output stage.

Per stage (DESIGN.md, "Data flow"): local detectors first (cheap, in-process), then ONE
judge call for the principles that still need judgment, then the pure policy, then
revision rounds when asked (re-checked each time, at most `max_revisions`), then the
ledger record, durable before the decision is returned. A stage that did not run is
never claimed in the decision: no judge call, no judge template hash.

The deadline (`deadline_s`, SUPERVISOR_DEADLINE) starts only once the models this
supervision runs on are loaded (`Supervisor.load`, once per process, shared by
concurrent first requests; see supervisor.loading): it bounds the checks and calls of
one request, never a model's first load.
"""

from __future__ import annotations

import asyncio
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from supervisor import tracing
from supervisor.constitution import Constitution, Principle
from supervisor.decision import (
    Decision,
    Finding,
    Provenance,
    Revision,
    Ruling,
    Stage,
    Usage,
    Verdict,
)
from supervisor.deprecation import renamed
from supervisor.detectors import Calibrated, Detector, detectors_for
from supervisor.errors import DeadlineExceeded, ProviderError
from supervisor.judge import MAX_VERDICT_TOKENS, TEMPLATE_SHA256, judge, usage_of
from supervisor.loading import Loadable, load_detector
from supervisor.policy import cite, decide
from supervisor.providers import ChatRequest, Message, Provider
from supervisor.revise import Repair, apply_local, rewrite
from supervisor.syncio import run_sync


class DecisionLog(Protocol):
    """Where decisions are recorded; the Ledger implements it."""

    async def record(self, decision: Decision, *, store_text: str = "redacted") -> str:
        """Append the decision durably and return its record id."""
        ...


@dataclass(frozen=True, slots=True)
class Answer:
    """The primary model's answer: its text, what it spent and how long it took, or
    `error`, why it gave none (the supervision then records an `error` decision)."""

    text: str = ""
    usage: Usage = field(default_factory=Usage)
    took_ms: float = 0.0
    error: str = ""


@dataclass(frozen=True, slots=True)
class Assessment:
    """One round of checks without policy, revision or ledger: what each principle found.

    `error` is set when the judge's verdict was unusable; `judged` when the judge ran.
    """

    verdicts: tuple[Verdict, ...] = ()
    unevaluated: tuple[str, ...] = ()
    findings: tuple[Finding, ...] = ()
    usage: Usage = field(default_factory=Usage)
    judged: bool = False
    error: str = ""


@dataclass(frozen=True, slots=True)
class _Plan:
    """What one stage checks, worked out once per Supervisor: its principles, each one's
    check kinds, and the principles each detector sees (a server checks every request
    of a constitution with the same Supervisor, so none of this is redone per request)."""

    principles: tuple[Principle, ...]
    kinds: tuple[frozenset[str], ...]  # per principle, in order
    scans: tuple[tuple[str, Detector, tuple[Principle, ...]], ...]  # detectors with work


# how the reason of an error decision whose primary model failed begins
PRIMARY_FAILED = "primary model failed"
# what a deadline message names as the way to change it
DEADLINE_SETTING = "SUPERVISOR_DEADLINE"

class Supervisor:
    """Checks answers against one constitution; async core with a sync facade.

    `supervisor` is the supervisor model, which judges the principles that need judgment
    and rewrites answers (None: local checks only); `primary` the model asked for answers
    when `supervise` is given none. `judge=` is the supervisor model's old name.
    """

    def __init__(
        self,
        constitution: Constitution,
        *,
        supervisor: Provider | None = None,
        primary: Provider | None = None,
        ledger: DecisionLog | None = None,
        detectors: Mapping[str, Detector] | None = None,
        deadline_s: float = 30.0,
        judge_token_cap: int = MAX_VERDICT_TOKENS,
        judge: Provider | None = None,
    ) -> None:
        self.constitution = constitution
        self.supervisor = renamed("Supervisor", "judge", judge, "supervisor", supervisor)
        self.primary = primary
        self.ledger = ledger
        self.detectors = dict(detectors_for(constitution) if detectors is None else detectors)
        self.deadline_s = deadline_s
        self.supervisor_token_cap = judge_token_cap
        self._plans: dict[tuple[int, ...], _Plan] = {}
        self._provenances: dict[bool, Provenance] = {}
        self._loaded = False  # every load this supervision needs has completed once

    @property
    def judge(self) -> Provider | None:
        """The supervisor model under its old name; use `supervisor`."""
        warnings.warn("Supervisor.judge is deprecated; use Supervisor.supervisor (the "
                      "supervisor model)", DeprecationWarning, stacklevel=2)
        return self.supervisor

    # -- loading ----------------------------------------------------------------------

    async def load(self) -> bool:
        """Load what this supervision runs on, once per process; True if it had to wait.

        The detectors' models (spaCy and Presidio, the encoder and this constitution's
        exemplar matrices) and a local judge or primary model. Every supervision awaits
        this before its deadline starts, so a caller need not; a server calls it at
        start-up and the CLI ahead of the first check, to show progress while it waits.
        """
        if self._loaded:  # loads run once per process; a Supervisor asks once
            return False
        principles, scope = self.constitution.principles, self.constitution.sha256
        waits = [load_detector(d, principles, scope=scope) for d in self.detectors.values()]
        for model in (self.supervisor, self.primary):
            if isinstance(model, Loadable):
                waits.append(model.load())
        waited = any(await asyncio.gather(*waits))
        self._loaded = True
        return waited

    @property
    def loads(self) -> tuple[str, ...]:
        """What `load` loads, for a progress line: detector kinds and local models."""
        kinds = [kind for kind, d in self.detectors.items() if callable(getattr(d, "warm", None))]
        local = [name for p in (self.supervisor, self.primary) if p is not None
                 for name in p.name.split(",") if name.startswith("local:")]
        return tuple(dict.fromkeys([*kinds, *local]))

    # -- public API -------------------------------------------------------------------

    @tracing.supervision("check_input")
    async def check_input(self, prompt: str, *,
                          context: Mapping[str, str] | None = None) -> Decision:
        """Supervise a prompt against the `applies_to: input` principles."""
        return await self._record(await self._stage("input", prompt="", text=prompt,
                                                    context=context))

    @tracing.supervision("check_output")
    async def check_output(self, output: str, *, prompt: str = "",
                           context: Mapping[str, str] | None = None,
                           input_decision: Decision | None = None) -> Decision:
        """Supervise an answer the caller already has against the output principles."""
        decision = await self._stage("output", prompt=prompt, text=output, context=context)
        return await self._record(replace(decision, input_decision=input_decision))

    @tracing.supervision("supervise")
    async def supervise(self, *, prompt: str, output: str | None = None,
                        messages: Sequence[Message] | None = None,
                        context: Mapping[str, str] | None = None,
                        max_tokens: int | None = None,
                        temperature: float | None = None) -> Decision:
        """The whole flow: input stage, primary model (when no output is given), output stage.

        `max_tokens` and `temperature` are passed to the primary model (the proxies take
        them from the app's request); None keeps the provider's defaults.
        """
        inbound: Decision | None = None
        if self.constitution.stage("input"):
            inbound = await self.check_input(prompt, context=context)
            if not inbound.released:
                return inbound
            if inbound.output != prompt:  # the prompt was revised (e.g. redacted)
                messages = _replace_last_user(messages, inbound.output)
                prompt = inbound.output
        if output is not None:
            return await self.check_output(output, prompt=prompt, context=context,
                                           input_decision=inbound)
        request = ChatRequest(messages=tuple(messages or (Message("user", prompt),)))
        if max_tokens is not None:
            request = replace(request, max_tokens=max_tokens)
        if temperature is not None:
            request = replace(request, temperature=temperature)
        answer = await self._generate(request)
        if answer.error:  # recorded like any other decision
            ruling = decide((), self.constitution, error=f"{PRIMARY_FAILED}: {answer.error}",
                            failure="primary")
            failed = self._conclude("output", prompt=prompt, original="", current="",
                                    ruling=ruling, timings={"primary": answer.took_ms},
                                    context=context)
            return await self._record(replace(failed, input_decision=inbound))
        decision = await self._stage("output", prompt=prompt, text=answer.text,
                                     context=context)
        return await self._record(replace(
            decision, usage=answer.usage + decision.usage, primary_usage=answer.usage,
            input_decision=inbound,
            timings_ms=(("primary", round(answer.took_ms, 3)), *decision.timings_ms)))

    @tracing.supervision("assess")
    async def assess(self, text: str, *, prompt: str = "",
                     stage: Stage = "output") -> Assessment:
        """Check `text` once against the stage's principles: verdicts only, nothing recorded.

        For callers that need raw verdicts (constitution tests, evaluation, moderation
        scores); a supervision that releases an answer goes through `supervise`.
        """
        principles = self.constitution.stage(stage)
        await self.load()
        try:
            async with asyncio.timeout(self.deadline_s):
                return await self._evaluate(principles, prompt, text, {})
        except TimeoutError:
            raise DeadlineExceeded(f"checking one text exceeded the {self.deadline_s:g} s "
                                   f"deadline; {DEADLINE_SETTING} sets it") from None

    @tracing.supervision("moderate")
    async def moderate(self, text: str, *, stage: Stage = "output",
                       context: Mapping[str, str] | None = None) -> Decision:
        """Classify `text` against the stage's principles and record it, without revising.

        For the moderation endpoint: the action is what policy would take (`revise` means
        a remedy applies), the verdicts are those of the text as given, and the output is
        the text unchanged unless policy withholds it.
        """
        decision = await self._stage(stage, prompt="", text=text, context=context,
                                     revise=False)
        return await self._record(decision)

    def supervise_sync(self, **kwargs: Any) -> Decision:
        """`supervise` for sync callers, in a notebook's running loop too (`run_sync`)."""
        return run_sync(self.supervise(**kwargs))

    # -- stages -----------------------------------------------------------------------

    @tracing.phase("stage")
    async def _stage(self, stage: Stage, *, prompt: str, text: str,
                     context: Mapping[str, str] | None, revise: bool = True) -> Decision:
        started = time.perf_counter()
        timings: dict[str, float] = {}
        principles = self.constitution.stage(stage)
        usage, revisions, current = Usage(), list[Revision](), text
        judged, unevaluated, verdicts = False, tuple[str, ...](), tuple[Verdict, ...]()
        try:
            if await self.load():  # before the clock: a model's first load is no check
                _add(timings, "load", started)
            async with asyncio.timeout(self.deadline_s):
                while True:
                    evaluation = await self._evaluate(principles, prompt, current, timings)
                    usage, judged = usage + evaluation.usage, judged or evaluation.judged
                    verdicts, unevaluated = evaluation.verdicts, evaluation.unevaluated
                    ruling = decide(verdicts, self.constitution, rounds=len(revisions),
                                    unevaluated=unevaluated, error=evaluation.error)
                    if not ruling.again or not revise:
                        break
                    tick = time.perf_counter()
                    with tracing.span("supervisor.revision", {
                            "supervisor.round": len(revisions) + 1,
                            "supervisor.principles.violated": ruling.principles}) as span:
                        repaired = await self._repair(ruling, evaluation, prompt, current,
                                                      revisions)
                        span.set_attribute("supervisor.method",
                                           repaired.method if repaired else "none")
                    _add(timings, "revise", tick)
                    if repaired is None:
                        ruling = decide(verdicts, self.constitution, rounds=len(revisions),
                                        unevaluated=unevaluated, unrepairable=True)
                        break
                    usage = usage + repaired.usage
                    revisions.append(Revision(len(revisions) + 1, ruling.principles,
                                              repaired.method, repaired.text))
                    current = repaired.text
        except TimeoutError:
            ruling = decide((), self.constitution, error=f"supervision exceeded its "
                            f"{self.deadline_s:g} s deadline ({DEADLINE_SETTING} sets it)")
        except ProviderError as exc:
            ruling = decide((), self.constitution, error=f"supervisor model failed: {exc}")
        timings["total"] = (time.perf_counter() - started) * 1000
        return self._conclude(stage, prompt=prompt, original=text, current=current,
                              ruling=ruling, verdicts=verdicts, unevaluated=unevaluated,
                              revisions=revisions, usage=usage, timings=timings,
                              context=context, judged=judged)

    async def _evaluate(self, principles: Sequence[Principle], prompt: str, text: str,
                        timings: dict[str, float]) -> Assessment:
        tick = time.perf_counter()
        plan = self._plan(principles)
        findings = await self._scan(plan, prompt, text)
        _add(timings, "detectors", tick)
        verdicts: list[Verdict] = []
        needs_judge: list[Principle] = []
        unevaluated: list[str] = []
        for p, kinds in zip(plan.principles, plan.kinds, strict=True):
            found = findings.get(p.id, ())
            local = kinds - {"judge"}
            if found:
                verdicts.append(_local_verdict(p, found))
            elif "judge" in kinds and self.supervisor is not None:
                needs_judge.append(p)
            elif local:
                verdicts.append(Verdict(p.id, False, 0.5, "no local check ("
                                        + ", ".join(sorted(local)) + ") found a violation",
                                        source="local"))
            else:
                unevaluated.append(p.id)
        flat = tuple(f for group in findings.values() for f in group)
        if not needs_judge or self.supervisor is None:
            return Assessment(tuple(verdicts), tuple(unevaluated), flat)
        tick = time.perf_counter()
        with tracing.span("supervisor.judge", {
                "supervisor.model": self.supervisor.name,
                "supervisor.principles.checked": [p.id for p in needs_judge]}) as span:
            judgement = await judge(self.supervisor, needs_judge, prompt=prompt, answer=text,
                                    token_cap=self.supervisor_token_cap)
            tracing.count(span, judgement.usage)
            span.set_attribute("supervisor.attempts", judgement.attempts)
            span.set_attribute("supervisor.principles.violated",
                               [v.principle for v in judgement.verdicts if v.violated])
            span.set_attribute("supervisor.verdict_valid", not judgement.error)
        _add(timings, "judge", tick)
        if judgement.error:
            return Assessment(tuple(verdicts), tuple(unevaluated), flat, judgement.usage,
                               True, judgement.error)
        by_id = {v.principle: v for v in (*verdicts, *judgement.verdicts)}
        ordered = tuple(by_id[p.id] for p in principles if p.id in by_id)
        return Assessment(ordered, tuple(unevaluated), flat, judgement.usage, True)

    @staticmethod
    async def _scan(plan: _Plan, prompt: str, text: str) -> dict[str, tuple[Finding, ...]]:
        """Every detector's findings for the plan's principles, merged in detector order.

        The detectors run side by side, each in a worker thread: PII spends its time in
        Python (spaCy, Presidio) while the semantic encoder's pass runs outside the GIL,
        so the supervision waits for the slower of them, not for their sum.
        """
        found = await asyncio.gather(*(
            asyncio.to_thread(_detect, kind, detector, subset, prompt=prompt, text=text)
            for kind, detector, subset in plan.scans))
        merged: dict[str, tuple[Finding, ...]] = {}
        for result in found:
            for pid, hits in result.items():
                merged[pid] = merged.get(pid, ()) + tuple(hits)
        return merged

    def _plan(self, principles: Sequence[Principle]) -> _Plan:
        """The plan for these principle objects (a stage's, or any a caller passes), made
        on first use and kept: the plan holds the principles, so their ids stay theirs."""
        key = tuple(map(id, principles))
        found = self._plans.get(key)
        if found is not None:
            return found
        ordered = tuple(principles)
        kinds = tuple(p.kinds() for p in ordered)
        scans = tuple((kind, detector, subset) for kind, detector in self.detectors.items()
                      if (subset := tuple(p for p, k in zip(ordered, kinds, strict=True)
                                          if kind in k)))
        plan = _Plan(ordered, kinds, scans)
        if len(self._plans) < 64:  # a stage's principles; copies made by tests add more
            self._plans[key] = plan
        return plan

    async def _repair(self, ruling: Ruling, evaluation: Assessment, prompt: str,
                      text: str, revisions: Sequence[Revision]) -> Repair | None:
        chosen = [self.constitution.principle(pid) for pid in ruling.principles]
        # a local remedy gets one chance; a principle still violated after it (a judge
        # still sees the problem a disclaimer cannot fix) goes to the rewrite instead
        tried = {pid for r in revisions if r.method == "local" for pid in r.principles}
        local = [p for p in chosen if p.remedy and p.remedy.local and p.id not in tried]
        needs_rewrite = [p for p in chosen if p not in local]
        if needs_rewrite and self.supervisor is None:
            return None
        revised = apply_local(text, local, evaluation.findings) if local else text
        if not needs_rewrite or self.supervisor is None:
            return Repair(revised, "local")
        verdict_of = {v.principle: v for v in evaluation.verdicts}
        return await rewrite(self.supervisor, prompt, revised,
                             [(p, verdict_of[p.id]) for p in needs_rewrite])

    async def _generate(self, request: ChatRequest) -> Answer:
        """Ask the primary model for the answer; its failure is the answer's `error`."""
        if self.primary is None:
            from supervisor.errors import ConfigError

            raise ConfigError("no output given and no primary model configured; pass the "
                              "answer to check, or configure a primary model (--primary)")
        tick = time.perf_counter()
        try:
            await self.load()  # a local model's first load is not the answer's time
            tick = time.perf_counter()
            async with asyncio.timeout(self.deadline_s):
                with tracing.span("supervisor.primary",
                                  {"supervisor.model": self.primary.name}) as span:
                    response = await self.primary.complete(request)
                    tracing.count(span, usage_of(response))
        except (ProviderError, TimeoutError) as exc:
            reason = str(exc) or (f"no answer within the {self.deadline_s:g} s deadline "
                                  f"({DEADLINE_SETTING} sets it)")
            return Answer(took_ms=(time.perf_counter() - tick) * 1000, error=reason)
        return Answer(response.text, usage_of(response), (time.perf_counter() - tick) * 1000)

    # -- conclusion -------------------------------------------------------------------

    def _conclude(self, stage: Stage, *, prompt: str, original: str, current: str,
                  ruling: Ruling, verdicts: tuple[Verdict, ...] = (),
                  unevaluated: tuple[str, ...] = (), revisions: Sequence[Revision] = (),
                  usage: Usage | None = None, timings: Mapping[str, float] | None = None,
                  context: Mapping[str, str] | None, judged: bool = False) -> Decision:
        defaults = self.constitution.defaults
        output = {"text": current, "original": original, "refusal": defaults.refusal,
                  "escalation": defaults.escalation}[ruling.shows]
        return Decision(
            action=ruling.action, stage=stage, prompt=prompt, original=original, output=output,
            verdicts=cite(verdicts, self.constitution),
            provenance=self._provenance(judged),
            revisions=tuple(revisions), unevaluated=unevaluated, flags=ruling.flags,
            reason=ruling.reason, released=ruling.released, failure=ruling.failure,
            usage=usage or Usage(),
            timings_ms=tuple((k, round(v, 3)) for k, v in (timings or {}).items()),
            context=tuple(sorted((context or {}).items())),
        )

    def _provenance(self, judged: bool) -> Provenance:
        cached = self._provenances.get(judged)
        if cached is None:
            cached = self._provenances[judged] = self._make_provenance(judged)
        return cached

    def _make_provenance(self, judged: bool) -> Provenance:
        c = self.constitution
        calibration = next((d.calibration_sha256(c) for d in self.detectors.values()
                            if isinstance(d, Calibrated)), None)
        return Provenance(
            constitution_id=c.id, constitution_version=c.version, constitution_sha256=c.sha256,
            primary=self.primary.name if self.primary else None,
            supervisor=self.supervisor.name if self.supervisor else None,
            judge_template_sha256=TEMPLATE_SHA256 if judged else None,
            detectors=tuple(sorted(d.version for d in self.detectors.values())),
            calibration_sha256=calibration,
        )

    async def _record(self, decision: Decision) -> Decision:
        if self.ledger is None:
            return decision
        store_text = self.constitution.defaults.store_text
        with tracing.span("supervisor.ledger.append", {"supervisor.stage": decision.stage,
                                                       "supervisor.store_text": store_text}
                          ) as span:
            record_id = await self.ledger.record(decision, store_text=store_text)
            span.set_attribute("supervisor.record_id", record_id)
        return replace(decision, record_id=record_id)


def _detect(kind: str, detector: Detector, principles: Sequence[Principle], *, prompt: str,
            text: str) -> Mapping[str, Sequence[Finding]]:
    """One detector's scan (in a worker thread), as a span of its own when tracing is on."""
    with tracing.span("supervisor.detector", {
            "supervisor.detector": kind,
            "supervisor.principles.checked": [p.id for p in principles]}) as span:
        found = detector.scan(principles, prompt=prompt, text=text)
        span.set_attribute("supervisor.principles.violated",
                           [pid for pid, hits in found.items() if hits])
        span.set_attribute("supervisor.findings", sum(len(hits) for hits in found.values()))
        return found


def _local_verdict(principle: Principle, found: tuple[Finding, ...]) -> Verdict:
    detectors = sorted({f.detector for f in found})
    # pii spans are identifiers: name their type, never quote them into the verdict
    evidence = tuple(dict.fromkeys(f"<{f.label}>" if f.detector == "pii" else f.text
                                   for f in found if f.label != "missing"))
    return Verdict(principle.id, True, max(f.score for f in found), _why(found),
                   source=",".join(detectors), evidence=evidence, findings=found)


def _why(found: tuple[Finding, ...]) -> str:
    """One readable sentence on what the local detectors saw (never a raw identifier)."""
    parts = []
    if any(f.label == "missing" for f in found):
        parts.append("required content is missing")
    matched = [f.text for f in found if f.detector == "pattern" and f.label != "missing"]
    if matched:
        parts.append("matched " + ", ".join(f'"{m}"' for m in dict.fromkeys(matched)))
    entities = sorted({f.label for f in found if f.detector not in ("pattern",)})
    if entities:
        detectors = ", ".join(sorted({f.detector for f in found if f.detector != "pattern"}))
        parts.append(f"{detectors} found {', '.join(entities)}")
    return "; ".join(parts)


def _replace_last_user(messages: Sequence[Message] | None,
                       text: str) -> tuple[Message, ...] | None:
    if not messages:
        return None
    items = list(messages)
    for index in range(len(items) - 1, -1, -1):
        if items[index].role == "user":
            items[index] = Message("user", text)
            break
    return tuple(items)


def _add(timings: dict[str, float], name: str, since: float) -> None:
    timings[name] = timings.get(name, 0.0) + (time.perf_counter() - since) * 1000
