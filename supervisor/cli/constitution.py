"""`supervisor constitution lint|test|show|diff`: for the people who write constitutions
(and `propose|approve|reject`, from `supervisor.cli.proposals`)."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.table import Table

from supervisor.cli.proposals import approve, propose, reject
from supervisor.constitution import Constitution, load_constitution
from supervisor.syncio import run_sync

if TYPE_CHECKING:
    from supervisor.providers import Provider
    from supervisor.selftest import SelfTest


@click.group()
def constitution() -> None:
    """Check, test, show and compare constitutions; propose and approve versions."""


@constitution.command()
@click.argument("ref")
def lint(ref: str) -> None:
    """Validate a constitution file (or shipped id); errors name the line and the fix."""
    loaded = load_constitution(ref)
    console = Console()
    console.print(f"[green]ok[/] {loaded.id} {loaded.version}: {len(loaded.principles)} "
                  f"principles, sha256 {loaded.sha256}")
    for warning in _warnings(loaded):
        console.print(f"[yellow]warning[/] {warning}")


def _warnings(loaded: Constitution) -> list[str]:
    warnings = []
    for p in loaded.principles:
        kinds = {e.expect for e in p.examples}
        if kinds != {"violated", "compliant"}:
            warnings.append(f"{p.id}: give at least one violated and one compliant example "
                            "so `constitution test` can check it")
        if p.kinds() == {"judge"}:
            warnings.append(f"{p.id}: judge is its only check, so it goes unevaluated when "
                            "no supervisor model is configured")
    return warnings


@constitution.command()
@click.argument("ref")
@click.option("--supervisor", "-s", multiple=True, metavar="MODEL",
              help="Judge model for principles that need one.")
@click.option("--json", "as_json", is_flag=True, help="Print results as JSON.")
@click.option("--deadline", type=click.FloatRange(min=0, min_open=True), default=None,
              metavar="SECONDS", help="Seconds to check one example, counted after the "
                                      "models load. Default: SUPERVISOR_DEADLINE or 30.")
def test(ref: str, supervisor: tuple[str, ...], as_json: bool, deadline: float | None) -> None:
    """Run the constitution's examples; exit 1 on any mismatch, error or unevaluated example.

    The models load first (said on stderr when slow); an example whose checks run past
    the deadline is an error row that says so.
    """
    from supervisor.cli.check import build_providers
    from supervisor.settings import current

    loaded = load_constitution(ref)
    _, judge = build_providers((), supervisor, need_primary=False)
    report = run_sync(_run_examples(loaded, judge, deadline or current().deadline_s))
    if as_json:
        click.echo(json.dumps({
            "constitution": report.constitution, "version": report.version, "ok": report.ok,
            "results": [asdict(r) for r in report.results],
        }, indent=2))
    else:
        console = Console()
        table = Table("principle", "#", "expect", "got", "source", box=None)
        for r in report.results:
            if r.outcome != "pass":
                table.add_row(r.principle, str(r.index), r.expect,
                              f"[red]{r.got}[/]", r.detail or r.source)
        if table.row_count:
            console.print(table)
        console.print(f"{report.constitution} {report.version}: {report.count('pass')} passed, "
                      f"{report.count('fail')} failed, {report.count('unevaluated')} "
                      f"unevaluated, {report.count('error')} errors")
    sys.exit(0 if report.ok else 1)


async def _run_examples(loaded: Constitution, judge: Provider | None,
                        deadline_s: float) -> SelfTest:
    """The examples, after the constitution's models load (each example's own exemplar
    matrices load before its own deadline, in `run_examples`)."""
    from supervisor.cli.progress import load_models
    from supervisor.pipeline import Supervisor
    from supervisor.selftest import run_examples

    await load_models(Supervisor(loaded, supervisor=judge))
    return await run_examples(loaded, supervisor=judge, deadline_s=deadline_s)


@constitution.command()
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="Print the resolved constitution as JSON.")
def show(ref: str, as_json: bool) -> None:
    """Show the resolved constitution (after extends) with its sha256."""
    loaded = load_constitution(ref)
    if as_json:
        click.echo(json.dumps({**json.loads(loaded.canonical), "sha256": loaded.sha256,
                               "extends": list(loaded.lineage)}, indent=2, ensure_ascii=False))
        return
    console = Console()
    console.print(f"[bold]{loaded.title}[/] ({loaded.id} {loaded.version})")
    console.print(f"sha256 {loaded.sha256}")
    if loaded.lineage:
        console.print("extends " + " <- ".join(loaded.lineage))
    d = loaded.defaults
    console.print(f"max_revisions={d.max_revisions} on_error={d.on_error} "
                  f"store_text={d.store_text} require_judge={d.require_judge}")
    table = Table("principle", "stage", "severity", "action", "checks", "cites")
    for p in loaded.principles:
        table.add_row(p.id, p.applies_to, p.severity, p.action,
                      ", ".join(c.kind for c in p.checks), "; ".join(p.citations))
    console.print(table)


@constitution.command()
@click.argument("old")
@click.argument("new")
def diff(old: str, new: str) -> None:
    """What changed between two constitutions: principles added, removed, changed."""
    a, b = load_constitution(old), load_constitution(new)
    before = {p.id: p.model_dump(mode="json") for p in a.principles}
    after = {p.id: p.model_dump(mode="json") for p in b.principles}
    console = Console()
    console.print(f"{a.id} {a.version} ({a.sha256[:12]}) -> {b.id} {b.version} "
                  f"({b.sha256[:12]})")
    for pid in sorted(after.keys() - before.keys()):
        console.print(f"[green]+ {pid}[/]")
    for pid in sorted(before.keys() - after.keys()):
        console.print(f"[red]- {pid}[/]")
    for pid in sorted(before.keys() & after.keys()):
        changed = sorted(k for k in after[pid] if before[pid].get(k) != after[pid][k])
        if changed:
            console.print(f"[yellow]~ {pid}[/]: {', '.join(changed)}")
    changed_defaults = {k: (v, b.defaults.model_dump()[k])
                        for k, v in a.defaults.model_dump().items()
                        if b.defaults.model_dump()[k] != v}
    for key, (was, now) in changed_defaults.items():
        console.print(f"[yellow]~ defaults.{key}[/]: {was!r} -> {now!r}")
    if a.sha256 == b.sha256:
        console.print("identical")


for _command in (propose, approve, reject):  # clients of a running service
    constitution.add_command(_command)
