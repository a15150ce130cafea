"""`supervisor check` (supervise an answer you already have) and `supervisor run` (ask the
primary model, then supervise its answer). Both append every stage's decision to the
ledger before printing; the exit status says which action was taken (docs/constitutions.md,
"Check an answer").

The models load first (with a line on stderr when that is slow), then the deadline
(`--deadline`, else SUPERVISOR_DEADLINE) starts; a supervision past it is an `error`
decision whose reason says so, never a traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

import click
from rich.console import Console

from supervisor import tracing
from supervisor.constitution import load_constitution
from supervisor.decision import Decision
from supervisor.pipeline import Supervisor
from supervisor.providers import Provider
from supervisor.settings import current
from supervisor.syncio import run_sync


def build_providers(primary: Sequence[str], supervisor: Sequence[str], *,
                    need_primary: bool) -> tuple[Provider | None, Provider | None]:
    """Resolve --primary/--supervisor (or their SUPERVISOR_* defaults) into Providers."""
    from supervisor.providers.registry import providers_from

    models = providers_from(current(), primary=primary, supervisor=supervisor,
                            need_primary=need_primary)
    return models.primary, models.supervisor


async def _supervise(constitution: str, prompt: str, output: str | None,
                     primary: Sequence[str], supervisor: Sequence[str],
                     context: dict[str, str], deadline: float | None) -> Decision:
    from supervisor.cli.progress import load_models
    from supervisor.ledger import open_ledger

    settings = current()
    loaded = load_constitution(constitution or settings.constitution)
    primary_model, judge = build_providers(primary, supervisor, need_primary=output is None)
    traced = tracing.configure(settings.tracing)  # SUPERVISOR_TRACING, as the service
    ledger = await open_ledger(settings.ledger, settings=settings)
    try:
        sup = Supervisor(loaded, supervisor=judge, primary=primary_model, ledger=ledger,
                         deadline_s=deadline or settings.deadline_s,
                         judge_token_cap=settings.judge_max_tokens)
        await load_models(sup)
        return await sup.supervise(prompt=prompt, output=output, context=context)
    finally:
        await ledger.close()
        if traced:  # a short-lived process: export before it exits
            tracing.flush()


def _finish(decision: Decision, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(decision.to_dict(), ensure_ascii=False, indent=2))
    else:
        from supervisor.cli.render import show_decision

        show_decision(Console(), decision)
    sys.exit(decision.action.exit_code)


def _context(pairs: Sequence[str]) -> dict[str, str]:
    context: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r}: write KEY=VALUE, e.g. app_id=clinic",
                                     param_hint="--context")
        context[key] = value
    return context


_constitution = click.option("--constitution", "-c", default="",
                             help="Shipped id (base, healthcare, finance) or a YAML path. "
                                  "Default: SUPERVISOR_CONSTITUTION or base.")
_supervisor = click.option("--supervisor", "-s", multiple=True, metavar="MODEL",
                           help="Supervisor (judge) model, e.g. anthropic:claude-haiku-4-5, "
                                "openai:gpt-4o-mini, local:smollm2. Repeat or comma-separate "
                                "for a fallback chain. Default: SUPERVISOR_SUPERVISOR_MODEL, "
                                "else local checks only.")
_json = click.option("--json", "as_json", is_flag=True, help="Print the decision as JSON.")
_ctx = click.option("--context", "context", multiple=True, metavar="KEY=VALUE",
                    help="Context recorded with the decision (app_id, user_ref, ...).")
deadline_option = click.option(
    "--deadline", type=click.FloatRange(min=0, min_open=True), default=None,
    metavar="SECONDS", help="Seconds for one supervision, counted after the models load. "
                            "Default: SUPERVISOR_DEADLINE or 30.")


@click.command()
@click.argument("text", required=False)
@click.option("--prompt", "-p", default="", help="The prompt the answer responds to.")
@_constitution
@_supervisor
@_json
@_ctx
@deadline_option
def check(text: str | None, prompt: str, constitution: str, supervisor: tuple[str, ...],
          as_json: bool, context: tuple[str, ...], deadline: float | None) -> None:
    """Supervise TEXT (an answer you already have; '-' or nothing reads stdin).

    Exit status: 0 allow, 10 revise, 11 block, 12 escalate, 13 error; 2 bad input.
    """
    if text is None or text == "-":
        if sys.stdin.isatty():
            raise click.UsageError("give the answer to check as TEXT, or pipe it on stdin")
        text = sys.stdin.read()
    if not text.strip():
        raise click.UsageError("the answer to check is empty")
    decision = run_sync(_supervise(constitution, prompt, text, (), supervisor,
                                   _context(context), deadline))
    _finish(decision, as_json)


@click.command()
@click.option("--prompt", "-p", required=True, help="What to ask the primary model.")
@click.option("--primary", multiple=True, metavar="MODEL",
              help="Primary model (default SUPERVISOR_PRIMARY_MODEL, else local:smollm2, "
                   "the embedded SmolLM2 model).")
@_constitution
@_supervisor
@_json
@_ctx
@deadline_option
def run(prompt: str, primary: tuple[str, ...], constitution: str,
        supervisor: tuple[str, ...], as_json: bool, context: tuple[str, ...],
        deadline: float | None) -> None:
    """Ask the primary model, supervise its answer, print what may be shown.

    Exit status: 0 allow, 10 revise, 11 block, 12 escalate, 13 error; 2 bad input.
    """
    if not prompt.strip():
        raise click.UsageError("--prompt is empty")
    decision = run_sync(_supervise(constitution, prompt, None, primary, supervisor,
                                   _context(context), deadline))
    _finish(decision, as_json)
