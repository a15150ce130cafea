"""`supervisor eval` and `supervisor calibrate`: measured quality of a supervisor.

`eval` drives the real Supervisor over a labelled dataset (the shared ones by name, or
a generic JSONL file) and prints precision, recall, F1, stop rates, latency, calls and
tokens; `calibrate` fits the semantic detector on a training split and writes the
calibration file beside the constitution.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from supervisor.constitution import Constitution, load_constitution
from supervisor.decision import Stage
from supervisor.evaluation.datasets import Dataset, Split, load_dataset
from supervisor.syncio import run_sync

SPLITS = ("test", "all", "train")


@click.command("eval")
@click.option("--dataset", "-d", required=True, metavar="NAME|FILE.jsonl",
              help="openai-moderation, xstest, presidio-synth, or a generic JSONL file.")
@click.option("--constitution", "-c", default="base", show_default=True,
              help="Constitution id or path.")
@click.option("--supervisor", "-s", multiple=True, metavar="MODEL",
              help="Judge model (e.g. anthropic:claude-haiku-4-5); local checks only if absent.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--report", "report_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Also write report.md and PNG charts to this folder.")
@click.option("--limit", type=click.IntRange(min=1), help="Only the first N items.")
@click.option("--split", type=click.Choice(SPLITS), default="all", show_default=True,
              help="test: the held-out part a calibration never saw.")
@click.option("--stage", type=click.Choice(("output", "input")), default="output",
              show_default=True, help="Check each item's text as an answer or as a prompt.")
@click.option("--data-root", type=click.Path(file_okay=False, path_type=Path),
              help="Folder of the shared datasets (default: ../shared/eval beside the repo).")
@click.option("--curve", is_flag=True,
              help="Also show what every semantic threshold moved up or down would flag.")
@click.option("--items", "items_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write one JSON line per item to this file: label, action, "
                   "principles fired, each signal's score and threshold.")
def evaluate(dataset: str, constitution: str, supervisor: tuple[str, ...], as_json: bool,
             report_dir: Path | None, limit: int | None, split: Split, stage: Stage,
             data_root: Path | None, curve: bool, items_path: Path | None) -> None:
    """Measure a supervisor on labelled data: precision, recall, F1, stop rates, latency."""
    loaded = load_constitution(constitution)
    if dataset == "presidio-synth":
        _presidio(loaded, data_root, limit, as_json)
        return
    data = load_dataset(dataset, loaded, root=data_root).split(split).head(limit)
    _warn_if_trained_on(loaded, data, split)
    if curve and not any(p.check("semantic") for p in loaded.stage(stage)):
        raise click.UsageError(f"{loaded.id} has no semantic checks at the {stage} stage, so "
                               "there is no curve to draw; leave out --curve")
    if items_path is not None and not items_path.parent.is_dir():
        raise click.UsageError(f"--items: folder {items_path.parent} does not exist; "
                               "create it or give a path in an existing folder")
    judge = _judge(supervisor)
    result = run_sync(_run(loaded, data, judge, stage, split, curve, items_path is not None))
    if items_path is not None:
        with items_path.open("w", encoding="utf-8") as handle:
            for traced in result.traces:
                handle.write(json.dumps(traced.to_json(), ensure_ascii=False) + "\n")
        Console(stderr=True).print(f"wrote {len(result.traces)} items to {items_path}")
    if report_dir is not None:
        from supervisor.evaluation.report import write_report

        write_report(result, report_dir)
    figures = result.to_json()
    if as_json:
        click.echo(json.dumps(figures, sort_keys=False))
    else:
        _print(figures, report_dir)


async def _run(loaded: Constitution, data: Dataset, judge: Any, stage: Stage,
               split: str, curve: bool, explain: bool) -> Any:
    from supervisor.evaluation.runner import evaluate as run_eval

    columns = ("[progress.description]{task.description}", BarColumn(),
               MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(f"{data.name} / {loaded.id}", total=len(data.items))
        return await run_eval(loaded, data, supervisor=judge, stage=stage,
                              split=split, curve=curve, explain=explain,
                              on_item=lambda _: progress.advance(task))


def _judge(refs: tuple[str, ...]) -> Any:
    if not refs:
        return None
    from supervisor.providers.registry import resolve

    return resolve(list(refs))


def _warn_if_trained_on(loaded: Constitution, data: Dataset, split: str) -> None:
    if split == "test":
        return
    from supervisor.detectors.calibration import SUFFIX
    from supervisor.detectors.exemplars import beside

    for path in beside(loaded, SUFFIX):
        names = {d.get("name") for d in json.loads(path.read_text()).get("datasets", [])}
        if data.name in names:
            Console(stderr=True).print(
                f"[yellow]warning[/] {path.name} was fitted on the training split of "
                f"{data.name}; use --split test for figures it has not seen")
        return


def _print(figures: dict[str, Any], report_dir: Path | None) -> None:
    console = Console()
    console.print(f"[bold]{figures['dataset']}[/] ({figures['split']}, {figures['items']} "
                  f"items) with {figures['constitution']}, supervisor "
                  f"{figures['supervisor'] or 'none (local checks)'}")
    console.print(f"precision {figures['precision']:.3f}  recall {figures['recall']:.3f}  "
                  f"F1 {figures['f1']:.3f}  safe stopped {figures['safe_stopped_rate']:.1%}  "
                  f"unsafe stopped {figures['unsafe_stopped_rate']:.1%}")
    latency = figures["latency_ms"]
    console.print(f"latency p50 {latency['p50']:.1f} ms  p95 {latency['p95']:.1f} ms  "
                  f"calls {figures['calls']}  tokens {figures['tokens']['input']} in / "
                  f"{figures['tokens']['output']} out")
    table = Table("principle", "precision", "recall", "F1", "tp", "fp", "fn", box=None)
    for pid, c in figures["per_principle"].items():
        table.add_row(pid, f"{c['precision']:.3f}", f"{c['recall']:.3f}", f"{c['f1']:.3f}",
                      str(c["tp"]), str(c["fp"]), str(c["fn"]))
    console.print(table)
    if "curve" in figures:
        _print_curve(console, figures["curve"])
    if report_dir is not None:
        console.print(f"report written to {report_dir / 'report.md'}")


def _print_curve(console: Console, curve: dict[str, Any]) -> None:
    console.print(f"\n[bold]semantic checks alone[/], every threshold moved by one shift "
                  f"({curve['violations']} violations, {curve['safe']} safe items):")
    table = Table("shift", "violations flagged", "safe flagged", box=None)
    for point in curve["points"]:
        table.add_row(f"{point['shift']:+.2f}", f"{point['violations_flagged']:.1%}",
                      f"{point['safe_flagged']:.1%}")
    console.print(table)
    from supervisor.evaluation.curve import reading

    console.print(f"most violations flagged {reading(curve)}. Read only: choose a setting "
                  "on training figures (supervisor calibrate)")


def _presidio(loaded: Constitution, data_root: Path | None, limit: int | None,
              as_json: bool) -> None:
    """PII spans are scored by `supervisor.evaluation.pii`; here they get eval's JSON shape."""
    from supervisor.evaluation.datasets import resolve_root
    from supervisor.evaluation.pii import TARGET, load_synth, score_pii, table

    path = resolve_root(data_root) / "presidio-synth" / "synth_dev_750.json"
    if not path.is_file():
        raise click.UsageError(f"{path} not found; pass --data-root to the folder that "
                               "holds presidio-synth/")
    scores = score_pii(load_synth(path, limit))
    target = [e for e in scores.entities if e.entity in TARGET]
    predicted, correct = sum(e.predicted for e in target), sum(e.correct for e in target)
    precision = correct / predicted if predicted else 0.0
    recall = scores.target_recall
    figures = {
        "precision": round(precision, 4), "recall": round(recall, 4),
        "f1": round(2 * precision * recall / (precision + recall), 4)
        if precision + recall else 0.0,
        "dataset": "presidio-synth", "items": scores.samples, "entities": list(TARGET),
        "per_entity": {e.entity: {"recall": round(e.recall, 4), "gold": e.gold,
                                  "precision": None if e.precision is None
                                  else round(e.precision, 4)} for e in scores.entities},
        "latency_ms": {"p50": round(scores.latency_p50_ms, 3),
                       "p95": round(scores.latency_p95_ms, 3)},
        "calls": 0, "tokens": {"input": 0, "output": 0}, "constitution": loaded.id,
    }
    if as_json:
        click.echo(json.dumps(figures))
        return
    for line in table(scores):
        click.echo(line)


@click.command()
@click.option("--constitution", "-c", required=True, help="Constitution id or path.")
@click.option("--dataset", "-d", "datasets", multiple=True, required=True,
              metavar="NAME|FILE.jsonl", help="Labelled data (repeat for several sets).")
@click.option("--data-root", type=click.Path(file_okay=False, path_type=Path),
              help="Folder of the shared datasets (default: ../shared/eval beside the repo).")
@click.option("--dry-run", is_flag=True, help="Fit and report, but write no file.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def calibrate(constitution: str, datasets: tuple[str, ...], data_root: Path | None,
              dry_run: bool, as_json: bool) -> None:
    """Fit the semantic checks on a training split; report on the held-out split."""
    from supervisor.detectors.semantic import shared_semantic
    from supervisor.evaluation.calibrate import calibrate as fit

    loaded = load_constitution(constitution)
    if not any(p.check("semantic") for p in loaded.principles):
        raise click.UsageError(f"{loaded.id} has no semantic checks to calibrate; add "
                               "'- semantic: {threshold: 0.6}' to a principle's checks")
    data = [load_dataset(d, loaded, root=data_root) for d in datasets]
    with Console(stderr=True).status("embedding and fitting..."):
        result = fit(loaded, data, detector=shared_semantic().bind(loaded), write=not dry_run)
    figures: dict[str, Any] = {
        "path": result.path, "sha256": result.sha256,
        "principles": {f.principle: {"fitted": f.head is not None, "reason": f.reason,
                                     "threshold": f.head.threshold if f.head else None,
                                     **f.to_json()} for f in result.fits},
        **result.figures(),
    }
    if as_json:
        click.echo(json.dumps(figures))
        return
    console = Console()
    table = Table("principle", "threshold", "train rows (+)", "train CV F1", "held-out P",
                  "R", "F1", box=None)
    for f in result.fits:
        h = f.holdout
        table.add_row(f.principle, f"{f.head.threshold:.2f}" if f.head else f.reason,
                      f"{f.train_rows} ({f.train_positives})", f"{f.cv_f1:.3f}",
                      f"{h.precision:.3f}", f"{h.recall:.3f}", f"{h.f1:.3f}")
    console.print(table)
    sets = ", ".join(f"{name} {figure:.3f}" for name, figure in result.cv_sets.items())
    console.print(f"training split, any semantic principle (out-of-fold): F1 "
                  f"{result.cv_any:.3f}, the mean of {sets} (a set without violations: "
                  "share let through)")
    for name, c in result.holdout_any.items():
        if c.tp + c.fn == 0:  # no violation in the set: only over-blocking to report
            console.print(f"held-out {name} (no violations), any semantic principle: "
                          f"{c.false_positive_rate:.1%} of {c.fp + c.tn} stopped")
        else:
            console.print(f"held-out {name}, any semantic principle: precision "
                          f"{c.precision:.3f} recall {c.recall:.3f} F1 {c.f1:.3f}")
    if result.path:
        console.print(f"wrote {result.path} (sha256 {result.sha256})")
    sys.stdout.flush()
