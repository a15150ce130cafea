"""`eval --report DIR`: the figures as Markdown, with PNG charts a reviewer can glance at.

Three charts: F1 per principle, the confusion matrix of the any-principle decision, and
the histogram of per-item latency; with `--curve`, a fourth: the semantic checks'
operating curve (see `supervisor.evaluation.curve`). matplotlib runs on its Agg backend
(no display).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from supervisor.evaluation.curve import Curve, reading
from supervisor.evaluation.runner import Evaluation


def write_report(result: Evaluation, folder: Path) -> Path:
    """Write report.md, per_principle_f1.png, confusion.png, latency.png (and curve.png
    when the evaluation drew a curve); return report.md."""
    import matplotlib

    matplotlib.use("Agg")
    folder.mkdir(parents=True, exist_ok=True)
    figures = result.to_json()
    _f1_chart(figures["per_principle"], folder / "per_principle_f1.png")
    _confusion_chart(figures, folder / "confusion.png")
    _latency_chart([o.latency_ms for o in result.outcomes], folder / "latency.png")
    if result.curve is not None:
        _curve_chart(result.curve, folder / "curve.png")
    (folder / "results.json").write_text(json.dumps(figures, indent=2) + "\n")
    path = folder / "report.md"
    path.write_text(markdown(figures), encoding="utf-8")
    return path


def markdown(figures: dict[str, Any]) -> str:
    """The report's text: headline figures, per-principle table, provenance."""
    latency = figures["latency_ms"]
    lines = [
        f"# Evaluation: {figures['dataset']} ({figures['split']})",
        "",
        f"Constitution `{figures['constitution']}` (sha256 `{figures['constitution_sha256']}`),"
        f" calibration `{figures['calibration_sha256'] or 'none'}`, supervisor model "
        f"`{figures['supervisor'] or 'none (local checks only)'}`, stage "
        f"`{figures['stage']}`, {figures['items']} items.",
        "",
        "| figure | value |",
        "| --- | --- |",
        f"| precision | {figures['precision']:.3f} |",
        f"| recall | {figures['recall']:.3f} |",
        f"| F1 | {figures['f1']:.3f} |",
        f"| safe items stopped | {figures['safe_stopped_rate']:.1%} |",
        f"| unsafe items stopped | {figures['unsafe_stopped_rate']:.1%} |",
        f"| latency p50 / p95 | {latency['p50']:.1f} / {latency['p95']:.1f} ms |",
        f"| model calls | {figures['calls']} |",
        f"| tokens in / out | {figures['tokens']['input']} / {figures['tokens']['output']} |",
        "",
        "## Per principle",
        "",
        "| principle | precision | recall | F1 | tp | fp | fn | tn |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for pid, c in figures["per_principle"].items():
        lines.append(f"| {pid} | {c['precision']:.3f} | {c['recall']:.3f} | {c['f1']:.3f} | "
                     f"{c['tp']} | {c['fp']} | {c['fn']} | {c['tn']} |")
    lines += ["", "![F1 per principle](per_principle_f1.png)", "",
              "![Confusion matrix](confusion.png)", "", "![Latency](latency.png)", ""]
    if "curve" in figures:
        lines += _curve_section(figures["curve"])
    return "\n".join(lines)


def _curve_section(curve: dict[str, Any]) -> list[str]:
    lines = ["## Operating curve (semantic checks alone)", "",
             f"Every semantic threshold moved by one shift; {curve['violations']} violations "
             f"and {curve['safe']} safe items; {reading(curve)}. Read only: a setting is "
             "chosen on training figures (`supervisor calibrate`), never on this set.", "",
             "| shift | violations flagged | safe flagged |", "| --- | --- | --- |"]
    lines += [f"| {p['shift']:+.2f} | {p['violations_flagged']:.1%} | {p['safe_flagged']:.1%} |"
              for p in curve["points"]]
    return [*lines, "", "![Operating curve](curve.png)", ""]


def _f1_chart(per_principle: dict[str, Any], path: Path) -> None:
    import matplotlib.pyplot as plt

    names = list(per_principle)
    figure, axes = plt.subplots(figsize=(7, 0.4 * max(len(names), 3) + 1))
    axes.barh(names, [per_principle[n]["f1"] for n in names], color="#4c72b0")
    axes.set_xlim(0, 1)
    axes.set_xlabel("F1")
    axes.invert_yaxis()
    axes.set_title("F1 per principle")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _confusion_chart(figures: dict[str, Any], path: Path) -> None:
    import matplotlib.pyplot as plt

    cells = [[figures["tn"], figures["fp"]], [figures["fn"], figures["tp"]]]
    figure, axes = plt.subplots(figsize=(4, 3.6))
    axes.imshow(cells, cmap="Blues")
    for row in range(2):
        for col in range(2):
            axes.text(col, row, str(cells[row][col]), ha="center", va="center")
    axes.set_xticks([0, 1], ["allowed", "flagged"])
    axes.set_yticks([0, 1], ["compliant", "violation"])
    axes.set_xlabel("supervisor")
    axes.set_ylabel("label")
    axes.set_title("Any principle")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _latency_chart(values_ms: list[float], path: Path) -> None:
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 3.5))
    axes.hist(values_ms or [0.0], bins=40, color="#55a868")
    axes.set_xlabel("ms per item")
    axes.set_ylabel("items")
    axes.set_title("Supervision latency")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _curve_chart(curve: Curve, path: Path) -> None:
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(5, 4.5))
    safe = [p.safe_flagged for p in curve.points]
    caught = [p.violations_flagged for p in curve.points]
    axes.plot(safe, caught, marker=".", color="#4c72b0")
    zero = next((p for p in curve.points if p.shift == 0.0), None)
    if zero is not None:
        axes.scatter([zero.safe_flagged], [zero.violations_flagged], color="#c44e52",
                     zorder=3, label="as calibrated")
        axes.legend(loc="lower right")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.set_xlabel("safe items flagged")
    axes.set_ylabel("violations flagged")
    axes.set_title("Semantic checks, every threshold shifted")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
