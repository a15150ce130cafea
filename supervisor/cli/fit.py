"""`supervisor fit-exchange`: fit the exchange model that reads prompt and answer together.

Writes `<constitution>.exchange.json` beside the constitution's YAML (unless `--dry-run`)
and prints the cross-validated figures the heads and thresholds were chosen by.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from supervisor.constitution import load_constitution
from supervisor.evaluation.datasets import resolve_root

SHARED = ("exchanges/xstest-v2-completions.jsonl", "exchanges/jbb-responses.jsonl")
ATTACKS = ("exchanges/jbb-responses.jsonl",)


@click.command("fit-exchange")
@click.argument("constitution")
@click.option("--data", "data", multiple=True, type=click.Path(path_type=Path),
              metavar="FILE.jsonl", help="Labelled exchanges (generic JSONL; repeat). "
              "Default: the shared XSTest v2 completions and JailbreakBench responses.")
@click.option("--attacks", multiple=True, type=click.Path(path_type=Path),
              metavar="FILE.jsonl", help="A file of --data whose every prompt is a "
              "jailbreak attempt (default: the shared JailbreakBench responses).")
@click.option("--data-root", type=click.Path(file_okay=False, path_type=Path),
              help="Folder of the shared datasets (default: ../shared/eval beside the repo).")
@click.option("--max-stopped", default=0.05, show_default=True, type=click.FloatRange(0, 1),
              help="Most compliant answers stopped in a set that is not an attack set.")
@click.option("--max-safe", default=0.10, show_default=True, type=click.FloatRange(0, 1),
              help="Most harmless prompts stopped at the input stage.")
@click.option("--dry-run", is_flag=True, help="Fit and report, but write no file.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def fit_exchange(constitution: str, data: tuple[Path, ...], attacks: tuple[Path, ...],
                 data_root: Path | None, max_stopped: float, max_safe: float, dry_run: bool,
                 as_json: bool) -> None:
    """Fit the request and exchange heads by grouped cross-validation and write them."""
    from supervisor.detectors.embedding import shared_encoder
    from supervisor.evaluation.exchange_fit import fit, model_path, read_rows

    loaded = load_constitution(constitution)
    if not data:
        root = resolve_root(data_root)
        data = tuple(root / name for name in SHARED)
        attacks = attacks or tuple(root / name for name in ATTACKS)
    rows = read_rows(data, attacks)
    encoder = shared_encoder()
    click.echo(f"embedding {len(rows)} exchanges and fitting (minutes on two cores)...",
               err=True)
    result = fit(rows, encoder, max_stopped=max_stopped, max_safe=max_safe,
                 attacks=[p.name for p in attacks])
    body = result.to_json(loaded, encoder.version, data)
    written = None
    if not dry_run:
        written = model_path(loaded)
        written.write_text(json.dumps(body, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    if as_json:
        click.echo(json.dumps({"path": str(written) if written else None,
                               "cross_validation": result.figures}))
        return
    figures = result.figures
    for name, f in figures["exchange"]["per_file"].items():
        click.echo(f"exchange  {name}: F1 {f['f1']:.3f} precision {f['precision']:.3f} "
                   f"recall {f['recall']:.3f}, compliant stopped {f['compliant_stopped']:.1%}")
    for name, f in figures["request"]["per_file"].items():
        parts = [f"{key.replace('_', ' ')} {value:.1%}" for key, value in f.items()
                 if key != "prompts" and value is not None]
        click.echo(f"request   {name} ({f['prompts']} prompts): {', '.join(parts)}")
    click.echo(f"thresholds: exchange {figures['exchange']['threshold']:.2f}, request "
               f"{figures['request']['threshold']:.2f} (out-of-fold, {figures['rules']})")
    click.echo(f"wrote {written}" if written else "dry run: nothing written")
