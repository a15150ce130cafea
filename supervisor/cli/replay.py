"""`supervisor replay`: what another constitution would have decided on past traffic.

Selects decision records from the ledger (SUPERVISOR_LEDGER or `--ledger`) with the same
filters as `audit export` and the console, re-decides them under `--constitution` with
the local checks (and a supervisor model only with `--supervisor`), and prints the
changes; `--report DIR` writes them as Markdown and HTML with charts. Work runs on a
local process pool, or as Ray tasks with `--ray ADDRESS`. The ledger gains one `replay`
record naming the run (who, the filter, the target constitution, the counts, the
report's sha256) and the checkpoint that signs it; no decision is appended.
"""

from __future__ import annotations

import asyncio
import getpass
import hashlib
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from supervisor.constitution import Constitution, load_constitution
from supervisor.errors import ConfigError
from supervisor.ledger.export import Filter, select
from supervisor.replay import CHUNK, Local, Ray, Replay, Runner, Selection, replay, selection
from supervisor.replay.report import report_json, write_report
from supervisor.settings import Settings, current

FLIPS_PRINTED = 10


@click.command(name="replay")
@click.option("--constitution", "-c", "target", required=True, metavar="ID_OR_PATH",
              help="The constitution to replay under: a shipped id or a YAML path.")
@click.option("--ledger", default="", metavar="DIR_OR_URL",
              help="The ledger to replay (default: SUPERVISOR_LEDGER).")
@click.option("--since", default="", help="ISO time, e.g. 2026-11-01 (inclusive).")
@click.option("--until", default="",
              help="ISO time (inclusive); a bare date means the end of that day.")
@click.option("--action", type=click.Choice(["allow", "revise", "block", "escalate", "error"]),
              help="Only decisions that took this action.")
@click.option("--principle", default="",
              help="Only decisions where this principle fired (violated, or revised away).")
@click.option("--source-constitution", "source", default="", metavar="ID[@VERSION]",
              help="Only decisions made under this constitution, e.g. finance@1.3.0.")
@click.option("--app", default="", help="Only decisions of this application (app_id).")
@click.option("--supervisor", "-s", multiple=True, metavar="MODEL",
              help="Also re-ask this supervisor (judge) model; default: local checks only, "
                   "no model call.")
@click.option("--report", type=click.Path(file_okay=False), default=None, metavar="DIR",
              help="Write report.md, report.html, report.json, charts and flips.csv here.")
@click.option("--ray", "ray_address", default=None, metavar="ADDRESS",
              help="Run on a Ray cluster: HOST:PORT, ray://HOST:10001, 'auto', or 'local' "
                   "to start one here (needs the [replay] extra).")
@click.option("--workers", type=click.IntRange(1), default=None,
              help="Local processes (default: one per core).")
@click.option("--chunk", type=click.IntRange(1), default=CHUNK, show_default=True,
              help="Records per task.")
@click.option("--by", default="", help="Who runs the replay, for the ledger record "
                                      "(default: the login name).")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def replay_command(target: str, ledger: str, since: str, until: str, action: str | None,
                   principle: str, source: str, app: str, supervisor: tuple[str, ...],
                   report: str | None, ray_address: str | None, workers: int | None,
                   chunk: int, by: str, as_json: bool) -> None:
    """Re-decide past decisions under another constitution; report what changes."""
    settings = current()
    where = ledger or settings.ledger
    keep = Filter(since=since, until=until, action=action or "", principle=principle,
                  constitution=source, app=app, kind="decision")
    constitution = load_constitution(target)
    chosen = _selected(where, keep, constitution, settings)
    if not len(chosen):
        asked = ", ".join(f"{k}={v}" for k, v in _asked(keep).items())
        raise ConfigError(f"no decision records in the ledger at {where} match ({asked}); "
                          "widen --since/--until or drop a filter")
    runner: Runner = Ray(ray_address) if ray_address else Local(workers or 0)
    result = replay(chosen, constitution, supervisor=supervisor, runner=runner,
                    chunk=chunk, deadline_s=settings.deadline_s,
                    call_timeout_s=settings.call_timeout_s)
    document = {"source": {"ledger": where, "filter": _asked(keep)}, **result.figures(),
                "run": {"runner": result.runner, "tasks": result.tasks,
                        "seconds": round(result.seconds, 3),
                        "records_per_s": _rate(result)}}
    files = write_report(document, Path(report)) if report else {}
    digest = files.get("report.json") or hashlib.sha256(report_json(document)).hexdigest()
    body = _record_body(document, by or _login(), digest, files, report)
    record_id = asyncio.run(_append(where, settings, body))
    if as_json:
        click.echo(json.dumps({**document, "record": record_id, "report_sha256": digest},
                              indent=2, ensure_ascii=False))
    else:
        _show(Console(highlight=False, soft_wrap=True), document, result, record_id, report)


def _selected(where: str, keep: Filter, target: Constitution,
              settings: Settings) -> Selection:
    """The matching records as a replay selection, read without opening the ledger for
    writing, and streamed: the records themselves are not all held at once."""
    from supervisor.ledger import open_store

    store = open_store(where, settings, read_only=True)
    try:
        return selection(select((json.loads(line) for line in store.lines()), keep), target)
    finally:
        store.close()


def _asked(keep: Filter) -> dict[str, str]:
    return {k: v for k, v in asdict(keep).items() if v}


def _rate(result: Replay) -> float:
    return round(len(result.outcomes) / result.seconds, 1) if result.seconds else 0.0


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in a bare container
        return "unknown"


def _record_body(document: dict[str, Any], by: str, digest: str, files: dict[str, str],
                 folder: str | None) -> dict[str, Any]:
    return {
        "by": by,
        "source": document["source"],
        "target": document["target"],
        "supervisor": document["supervisor"],
        "runner": document["run"]["runner"],
        "counts": document["counts"],
        "actions": document["actions"],
        "report_sha256": digest,
        "report_dir": str(Path(folder).resolve()) if folder else None,
        "report_files": files,
    }


async def _append(where: str, settings: Settings, body: dict[str, Any]) -> str:
    from supervisor.ledger import open_ledger

    ledger = await open_ledger(where, settings=settings)
    try:
        return (await ledger.append("replay", body)).id
    finally:
        await ledger.close()  # signs a checkpoint over the replay record


def _show(console: Console, d: dict[str, Any], result: Replay, record_id: str,
          folder: str | None) -> None:
    c, t = d["counts"], d["target"]
    console.print(f"[bold]replay under {t['id']} {t['version']}[/]: {c['replayed']} of "
                  f"{c['selected']} records re-decided on {result.runner} in "
                  f"{result.seconds:.1f} s; [bold]{c['flipped']} flip[/], "
                  f"{c['not_replayable']} not replayable")
    table = Table("action", "before", "after", box=None)
    for name, v in d["actions"].items():
        table.add_row(name, str(v["before"]), str(v["after"]))
    console.print(table)
    changed = {p: v for p, v in d["principles"].items() if v["before"] != v["after"]}
    if changed:
        console.print("principles that changed: " + ", ".join(
            f"{p} {v['before']}->{v['after']}" for p, v in changed.items()))
    for flip in d["flips"][:FLIPS_PRINTED]:
        changes = [f"{sign}{','.join(names)}" for sign, names in
                   (("+", flip["gained"]), ("-", flip["lost"])) if names]
        console.print(f"  {flip['seq']:>7} {flip['record']} {flip['before']} -> "
                      f"{flip['after']} {' '.join(changes)}")
    if len(d["flips"]) > FLIPS_PRINTED:
        console.print(f"  ... {len(d['flips']) - FLIPS_PRINTED} more in the report")
    skipped = d["not_replayable"]
    for reason, count in skipped["by_reason"].items():
        console.print(f"[yellow]not replayable[/]: {count} ({reason})")
    if skipped["by_principle"]:
        console.print("principles not re-judged: " + ", ".join(
            f"{p} ({n})" for p, n in skipped["by_principle"].items()))
    for note in d["caveats"]:
        console.print(f"[yellow]note[/]: {note}")
    console.print(f"ledger record {record_id}" + (f"; report in {folder}" if folder else ""))
