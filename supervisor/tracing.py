"""OpenTelemetry tracing of supervisions: off by default, OTLP over HTTP when configured.

One supervision (`supervise`, `check_input`, `check_output`, `moderate`, `assess`) is one
root span, with a child per stage run, per detector run, for the judge call, each
revision round (and its rewrite call), the primary model's call and the ledger append.
Spans carry identifiers and figures only: action, constitution id and version, principle
ids (checked, violated), stage, record id, model name, token counts; their own start and
end give the durations. Never a text, prompt, evidence, rationale or error message: an
exception is named by its type.

Off (the default), nothing of OpenTelemetry is imported and every hook returns one shared
null span, so the hot path pays a function call. `configure("otlp")` (SUPERVISOR_TRACING)
builds the SDK's TracerProvider with a batch OTLP/HTTP (protobuf) exporter, which reads
the standard variables itself: OTEL_EXPORTER_OTLP_ENDPOINT (`/v1/traces` appended) or
OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, `..._HEADERS`, OTEL_SERVICE_NAME. An application that
already has a TracerProvider passes it to `enable` instead, and our spans join its traces.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from typing import (
    TYPE_CHECKING,
    Any,
    Concatenate,
    ParamSpec,
    Protocol,
    TypeAlias,
    TypeVar,
    runtime_checkable,
)

from supervisor.constitution import Constitution
from supervisor.decision import Decision, Usage, Verdict
from supervisor.errors import ConfigError
from supervisor.settings import TRACING

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
    from opentelemetry.trace import Tracer, TracerProvider

SCOPE = "supervisor"  # the instrumentation scope of every span
SERVICE = "constitutional-supervisor"  # service.name unless OTEL_SERVICE_NAME says otherwise
MODES = TRACING  # SUPERVISOR_TRACING

Value = str | bool | int | float | Sequence[str] | Sequence[int] | Sequence[float]


class Span(Protocol):
    """What a hook may do with its span: set attributes (identifiers and figures only)."""

    def set_attribute(self, key: str, value: Value) -> None:
        """Set one attribute."""
        ...


@runtime_checkable
class Traceable(Protocol):
    """What a supervision returns (a Decision or an Assessment), as far as a span shows it."""

    @property
    def verdicts(self) -> tuple[Verdict, ...]: ...

    @property
    def unevaluated(self) -> tuple[str, ...]: ...

    @property
    def usage(self) -> Usage: ...


class Supervised(Protocol):
    """The owner of a traced method: anything with a constitution (the Supervisor)."""

    constitution: Constitution


class _NullSpan:
    """Every hook's span while tracing is off: one shared object that records nothing."""

    __slots__ = ()

    def __enter__(self) -> _NullSpan:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def set_attribute(self, key: str, value: Value) -> None:
        return None


_NULL = _NullSpan()
_tracer: Tracer | None = None
_owned: SdkTracerProvider | None = None  # the provider `configure` built, to flush and shut
_inside: ContextVar[bool] = ContextVar("supervisor_tracing_inside", default=False)

S = TypeVar("S", bound=Supervised)
P = ParamSpec("P")
R = TypeVar("R")
Method: TypeAlias = Callable[Concatenate[S, P], Coroutine[Any, Any, R]]
Step: TypeAlias = Callable[P, Coroutine[Any, Any, R]]


# -- switching on and off -------------------------------------------------------------


def configure(mode: str, *, endpoint: str | None = None) -> bool:
    """Turn tracing on as `mode` (SUPERVISOR_TRACING) says; return whether it is on.

    `otlp` builds an SDK TracerProvider exporting by OTLP/HTTP to `endpoint`, else to
    where the OTEL_EXPORTER_OTLP_* variables point (default http://localhost:4318), once
    per process. `off` changes nothing: an application's own `enable` stays in force.
    """
    global _owned  # noqa: PLW0603 - tracing is process-wide, like the SDK's own provider
    if mode not in MODES:
        raise ConfigError(f"SUPERVISOR_TRACING={mode!r}: use one of {', '.join(MODES)} "
                          "(otlp: export spans to OTEL_EXPORTER_OTLP_ENDPOINT)")
    if mode == "off" or _owned is not None:
        return _tracer is not None
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider as SdkProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        raise ConfigError(f"SUPERVISOR_TRACING=otlp needs the OpenTelemetry SDK ({exc.name} "
                          "is missing): pip install opentelemetry-sdk "
                          "opentelemetry-exporter-otlp-proto-http") from None
    provider = SdkProvider(resource=Resource.create({"service.name": SERVICE}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    enable(provider)
    _owned = provider
    return True


def enable(provider: TracerProvider) -> None:
    """Send our spans to `provider` (an application's own, or the one `configure` built)."""
    global _tracer  # noqa: PLW0603 - see configure
    _tracer = provider.get_tracer(SCOPE)


def enabled() -> bool:
    """Whether supervisions are traced now."""
    return _tracer is not None


def flush(timeout_s: float = 10.0) -> bool:
    """Export every finished span now (the batch exporter sends every few seconds)."""
    return _owned is None or _owned.force_flush(int(timeout_s * 1000))


def disable() -> None:
    """Stop tracing; the provider `configure` built exports what it holds and shuts down."""
    global _tracer, _owned
    owned, _tracer, _owned = _owned, None, None
    if owned is not None:
        owned.shutdown()


# -- hooks ----------------------------------------------------------------------------


def span(name: str, attributes: Mapping[str, Value] | None = None
         ) -> AbstractContextManager[Span]:
    """A child span of the current one around a block; the null span while tracing is off."""
    if _tracer is None:
        return _NULL
    return _opened(_tracer, name, attributes or {})


def supervision(name: str) -> Callable[[Method[S, P, R]], Method[S, P, R]]:
    """Decorate a Supervisor entry point: its call is a root span `supervisor.<name>`.

    Called from inside another traced entry point (`supervise` runs `check_output`), it
    opens no second root: its stages are children of the outer one.
    """

    def decorate(method: Method[S, P, R]) -> Method[S, P, R]:
        @functools.wraps(method)
        async def traced(owner: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
            if _tracer is None or _inside.get():
                return await method(owner, *args, **kwargs)
            constitution = owner.constitution
            with span(f"supervisor.{name}", {
                    "supervisor.constitution.id": constitution.id,
                    "supervisor.constitution.version": constitution.version}) as root:
                token = _inside.set(True)
                try:
                    result = await method(owner, *args, **kwargs)
                finally:
                    _inside.reset(token)
                describe(root, result)
                return result

        return traced

    return decorate


def phase(name: str) -> Callable[[Step[P, R]], Step[P, R]]:
    """Decorate a step of a supervision (a stage run): a child span described by its result."""

    def decorate(method: Step[P, R]) -> Step[P, R]:
        @functools.wraps(method)
        async def traced(*args: P.args, **kwargs: P.kwargs) -> R:
            if _tracer is None:
                return await method(*args, **kwargs)
            with span(f"supervisor.{name}") as step:
                result = await method(*args, **kwargs)
                describe(step, result)
                return result

        return traced

    return decorate


def describe(target: Span, outcome: object) -> None:
    """Set a Decision's or an Assessment's identifiers and figures on `target`."""
    if _tracer is None or not isinstance(outcome, Traceable):
        return
    target.set_attribute("supervisor.principles.checked",
                         [*(v.principle for v in outcome.verdicts), *outcome.unevaluated])
    target.set_attribute("supervisor.principles.violated",
                         [v.principle for v in outcome.verdicts if v.violated])
    target.set_attribute("supervisor.principles.unevaluated", list(outcome.unevaluated))
    count(target, outcome.usage)
    if isinstance(outcome, Decision):
        target.set_attribute("supervisor.action", str(outcome.action))
        target.set_attribute("supervisor.stage", outcome.stage)
        target.set_attribute("supervisor.released", outcome.released)
        target.set_attribute("supervisor.revisions", len(outcome.revisions))
        if outcome.revisions:
            target.set_attribute("supervisor.principles.revised", sorted(
                {pid for revision in outcome.revisions for pid in revision.principles}))
        if outcome.flags:
            target.set_attribute("supervisor.principles.flagged", list(outcome.flags))
        if outcome.record_id:
            target.set_attribute("supervisor.record_id", outcome.record_id)
        for step, took in outcome.timings_ms:
            target.set_attribute(f"supervisor.duration_ms.{step}", took)


def count(target: Span, usage: Usage) -> None:
    """Set token counts (OpenTelemetry's GenAI attribute names) and the number of calls."""
    if _tracer is None:
        return
    target.set_attribute("gen_ai.usage.input_tokens", usage.input_tokens)
    target.set_attribute("gen_ai.usage.output_tokens", usage.output_tokens)
    target.set_attribute("supervisor.calls", usage.calls)


@contextmanager
def _opened(tracer: Tracer, name: str, attributes: Mapping[str, Value]) -> Iterator[Span]:
    from opentelemetry.trace import Status, StatusCode

    # the SDK would record the exception's message, which may quote a text: type only
    with tracer.start_as_current_span(name, attributes=attributes, record_exception=False,
                                      set_status_on_exception=False) as opened:
        try:
            yield opened
        except BaseException as exc:
            opened.set_attribute("error.type", type(exc).__qualname__)
            opened.set_status(Status(StatusCode.ERROR, type(exc).__qualname__))
            raise
