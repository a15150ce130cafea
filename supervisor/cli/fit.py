"""`supervisor fit-exchange`: fit the exchange model that reads prompt and answer together.

Writes `<constitution>.exchange.json` beside the constitution's YAML (unless `--dry-run`)
and prints the cross-validated figures the heads and thresholds were chosen by.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import click

from supervisor.constitution import Constitution, load_constitution, shipped
from supervisor.detectors.exemplars import beside, exemplars_for
from supervisor.errors import ConfigError
from supervisor.evaluation.datasets import load_dataset, resolve_root
from supervisor.evaluation.exchange_fit import Row, harmless

SHARED = ("exchanges/xstest-v2-completions.jsonl", "exchanges/jbb-responses.jsonl")
ATTACKS = ("exchanges/jbb-responses.jsonl",)


@dataclass(frozen=True)
class FitInputs:
    """What `fit-exchange` fits on: the labelled exchanges, the extra prompts for the
    request head, and the files they came from (the attack sets by name, as `fit` asks)."""

    rows: list[Row]
    requests: list[Row]
    data: tuple[Path, ...]
    attacks: tuple[Path, ...]


def fit_inputs(constitution: Constitution, data: tuple[Path, ...] = (),
               attacks: tuple[Path, ...] = (), data_root: Path | None = None, *,
               ordinary: bool = True) -> FitInputs:
    """The command's inputs: the given data files (default: the shared exchange sets and
    their attack set under the data root) and, with `ordinary`, the everyday exchanges
    and prompts; bench scripts that re-run the fit call this too, so they fit on the
    same rows in the same order."""
    from supervisor.evaluation.exchange_fit import read_rows

    if not data:
        root = resolve_root(data_root)
        data = tuple(root / name for name in SHARED)
        attacks = attacks or tuple(root / name for name in ATTACKS)
    rows = [*read_rows(data, attacks), *(ordinary_exchanges() if ordinary else [])]
    requests = ordinary_texts(constitution, data_root) if ordinary else []
    return FitInputs(rows, requests, data, attacks)


def ordinary_texts(constitution: Constitution, data_root: Path | None) -> list[Row]:
    """Extra prompts for the request head: the moderation set's training split texts with
    no category and the compliant lines of the constitution's exemplar files (harmless),
    and the authored requests (see `authored_requests`)."""
    moderation = load_dataset("openai-moderation", constitution, root=data_root)
    clean = [i.output for i in moderation.split("train").items if not i.violation]
    compliant = [e.output for p in constitution.principles
                 for e in exemplars_for(p, constitution) if not e.violated]
    return [*harmless("openai-moderation (train, no category)", clean),
            *harmless(f"{constitution.id} exemplars (compliant)", compliant),
            *authored_requests(constitution)]


def ordinary_exchanges() -> list[Row]:
    """The compliant examples (with a prompt) of every shipped constitution's output
    principles: everyday exchanges of the domains served, which neither shared set has."""
    seen: dict[tuple[str, str], Row] = {}
    for cid in shipped():
        for principle in load_constitution(cid).stage("output"):
            for e in principle.examples:
                if e.expect == "compliant" and e.prompt.strip():
                    seen[(e.prompt, e.output)] = Row("shipped examples (compliant)", e.prompt,
                                                     e.output, False, None,
                                                     f"examples:{e.prompt}")
    return list(seen.values())


def authored_requests(constitution: Constitution) -> list[Row]:
    """Prompts written for the request head, `<id>.requests.jsonl` beside the constitution
    (nearest in the extends chain): one `{"prompt": ..., "prompt_label": safe|unsafe}` a
    line. Everyday questions ("How do I ...?") that the shared sets lack, and plain
    harmful requests."""
    path = next(beside(constitution, ".requests.jsonl"), None)
    if path is None:
        return []
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            label = raw["prompt_label"]
            if label not in ("safe", "unsafe"):
                raise ValueError(f"prompt_label is {label!r}")
            prompt = str(raw["prompt"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{path}:{number}: not an authored request ({exc}); each line "
                              "needs prompt and prompt_label safe|unsafe") from None
        rows.append(Row(path.name, prompt, "", False, label == "unsafe",
                        f"{path.name}:{prompt}"))
    return rows


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
@click.option("--ordinary/--no-ordinary", default=True, show_default=True,
              help="Also learn from ordinary texts: harmless prompts for the request head "
              "(the moderation set's training texts with no category, compliant exemplars, "
              "<id>.requests.jsonl) and the shipped constitutions' compliant examples as "
              "everyday exchanges.")
@click.option("--terms/--no-terms", default=True, show_default=True,
              help="Let the exchange head also read the words of the answer's opening, "
              "the answer and the prompt (TF-IDF term views), not only their embeddings.")
@click.option("--cues/--no-cues", default=True, show_default=True,
              help="Let the request head also read cues of who or what the prompt's harm "
              "is aimed at (supervisor.detectors.request_cues), not only its embedding.")
@click.option("--dry-run", is_flag=True, help="Fit and report, but write no file.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def fit_exchange(constitution: str, data: tuple[Path, ...], attacks: tuple[Path, ...],
                 data_root: Path | None, max_stopped: float, max_safe: float,
                 ordinary: bool, terms: bool, cues: bool, dry_run: bool,
                 as_json: bool) -> None:
    """Fit the request and exchange heads by grouped cross-validation and write them."""
    from supervisor.detectors.embedding import shared_encoder
    from supervisor.evaluation.exchange_fit import fit, model_path

    loaded = load_constitution(constitution)
    given = fit_inputs(loaded, data, attacks, data_root, ordinary=ordinary)
    encoder = shared_encoder()
    click.echo(f"embedding {len(given.rows)} exchanges and {len(given.requests)} other "
               "prompts, then fitting (this takes minutes)...", err=True)
    result = fit(given.rows, encoder, max_stopped=max_stopped, max_safe=max_safe,
                 attacks=[p.name for p in given.attacks], requests=given.requests,
                 terms=terms, cues=cues)
    body = result.to_json(loaded, encoder.version, given.data)
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
    click.echo(f"thresholds: exchange {figures['exchange']['threshold']:.2f} where the "
               f"request reaches {figures['exchange']['request_gate']:.2f}, request "
               f"{figures['request']['threshold']:.2f} (out-of-fold, {figures['rules']})")
    click.echo(f"wrote {written}" if written else "dry run: nothing written")
