"""`replay --report DIR`: what a rule change does, for a compliance office to read.

Writes report.json (the figures; its sha256 goes in the ledger's `replay` record),
report.md and report.html (the same content, the HTML self-contained but for its two
charts), actions.png and principles.png (before and after, side by side), and flips.csv
(every record whose action flips). matplotlib runs on its Agg backend (no display).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import jinja2

SHOWN = 500  # flips and unreplayable records listed in the Markdown and HTML; all in JSON


def write_report(document: dict[str, Any], folder: Path) -> dict[str, str]:
    """Write the report files into `folder`; return each file's sha256 by name."""
    import matplotlib

    matplotlib.use("Agg")
    folder.mkdir(parents=True, exist_ok=True)
    _bars(document["actions"], "Decisions per action", folder / "actions.png")
    _bars(document["principles"], "Decisions each principle fired in",
          folder / "principles.png", horizontal=True)
    files = {
        "report.json": report_json(document),
        "report.md": markdown(document).encode(),
        "report.html": html(document).encode(),
        "flips.csv": _flips_csv(document["flips"]).encode(),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return {name: hashlib.sha256((folder / name).read_bytes()).hexdigest()
            for name in sorted([*files, "actions.png", "principles.png"])}


def report_json(document: dict[str, Any]) -> bytes:
    """The report's JSON bytes, the same in a file and in the ledger's sha256."""
    return (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False)
            + "\n").encode()


def markdown(d: dict[str, Any]) -> str:
    """The report as Markdown."""
    c, t = d["counts"], d["target"]
    lines = [
        f"# Replay under {t['id']} {t['version']}", "",
        *_intro(d), "",
        "| records | count |", "| --- | --- |",
        *(f"| {k.replace('_', ' ')} | {v} |" for k, v in c.items()), "",
    ]
    if d["caveats"]:
        lines += ["## Read this first", "", *(f"- {n}" for n in d["caveats"]), ""]
    lines += ["## Actions", "", "| action | before | after | change |",
              "| --- | --- | --- | --- |",
              *(f"| {a} | {v['before']} | {v['after']} | {_delta(v)} |"
                for a, v in d["actions"].items()),
              "", "![Decisions per action](actions.png)", "",
              "## Principles", "", "Decisions each principle fired in (violated, or revised "
              "away), among the replayed records.", "",
              "| principle | before | after | change |", "| --- | --- | --- | --- |",
              *(f"| {p} | {v['before']} | {v['after']} | {_delta(v)} |"
                for p, v in d["principles"].items()),
              "", "![Decisions each principle fired in](principles.png)", "",
              f"## Records that flip ({c['flipped']})", ""]
    if d["flips"]:
        lines += ["| seq | record | before | after | principles gained | principles lost |",
                  "| --- | --- | --- | --- | --- | --- |",
                  *(f"| {f['seq']} | {f['record']} | {f['before']} | {f['after']} | "
                    f"{', '.join(f['gained'])} | {', '.join(f['lost'])} |"
                    for f in d["flips"][:SHOWN]), ""]
        if len(d["flips"]) > SHOWN:
            lines += [f"The first {SHOWN} are shown; flips.csv and report.json list all.", ""]
    else:
        lines += ["None.", ""]
    skipped = d["not_replayable"]
    lines += [f"## Not replayable ({c['not_replayable']})", ""]
    if skipped["records"]:
        lines += ["| reason | records |", "| --- | --- |",
                  *(f"| {r} | {n} |" for r, n in skipped["by_reason"].items()), "",
                  "Principles that could not be re-judged, with how many records:", "",
                  *(f"- {p}: {n}" for p, n in skipped["by_principle"].items()), ""]
    else:
        lines += ["None: every selected record was replayed.", ""]
    return "\n".join(lines)


def _intro(d: dict[str, Any]) -> list[str]:
    t, run, source = d["target"], d.get("run") or {}, d.get("source") or {}
    model = f"supervisor model `{d['supervisor']}`" if d["supervisor"] else "local checks only"
    chosen = ", ".join(f"{k}={v}" for k, v in (source.get("filter") or {}).items() if v)
    return [
        f"Decision records of the ledger `{source.get('ledger', '?')}` "
        f"({chosen or 'every decision'}) re-decided under `{t['id']}` {t['version']} "
        f"(sha256 `{t['sha256']}`) with {model}; ran on {run.get('runner', '?')} "
        f"in {run.get('seconds', 0):.1f} s.",
    ]


def _delta(v: dict[str, int]) -> str:
    change = v["after"] - v["before"]
    return f"{change:+d}" if change else "0"


_HTML = jinja2.Environment(autoescape=True).from_string("""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Replay under {{ t.id }} {{ t.version }}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.25rem .6rem;
text-align:left}th{background:#f3f3f3}.up{color:#b00}.down{color:#070}.note{background:#fff6d5;
padding:.5rem 1rem;border-left:4px solid #e0b000}code{font-size:.9em}img{max-width:100%}
</style></head><body>
<h1>Replay under {{ t.id }} {{ t.version }}</h1>
{% for line in intro %}<p>{{ line }}</p>{% endfor %}
<table>{% for k, v in d.counts.items() %}<tr><th>{{ k.replace('_', ' ') }}</th>
<td>{{ v }}</td></tr>{% endfor %}</table>
{% if d.caveats %}<div class="note"><strong>Read this first</strong><ul>
{% for n in d.caveats %}<li>{{ n }}</li>{% endfor %}</ul></div>{% endif %}
{% for title, rows, image in [("Actions", d.actions, "actions.png"),
                              ("Principles", d.principles, "principles.png")] %}
<h2>{{ title }}</h2><table><tr><th></th><th>before</th><th>after</th><th>change</th></tr>
{% for name, v in rows.items() %}{% set change = v.after - v.before %}<tr><td>{{ name }}</td>
<td>{{ v.before }}</td><td>{{ v.after }}</td>
<td class="{{ 'up' if change > 0 else 'down' if change < 0 else '' }}">{{ '%+d' % change if change
else 0 }}</td></tr>{% endfor %}</table><img src="{{ image }}" alt="{{ title }} before and after">
{% endfor %}
<h2>Records that flip ({{ d.counts.flipped }})</h2>
{% if d.flips %}<table><tr><th>seq</th><th>record</th><th>before</th><th>after</th>
<th>gained</th><th>lost</th></tr>{% for f in d.flips[:shown] %}<tr><td>{{ f.seq }}</td>
<td><code>{{ f.record }}</code></td><td>{{ f.before }}</td><td>{{ f.after }}</td>
<td>{{ f.gained|join(', ') }}</td><td>{{ f.lost|join(', ') }}</td></tr>{% endfor %}</table>
{% if d.flips|length > shown %}<p>The first {{ shown }} are shown; flips.csv and report.json
list all.</p>{% endif %}{% else %}<p>None.</p>{% endif %}
<h2>Not replayable ({{ d.counts.not_replayable }})</h2>
{% if d.not_replayable.records %}<table><tr><th>reason</th><th>records</th></tr>
{% for r, n in d.not_replayable.by_reason.items() %}<tr><td>{{ r }}</td><td>{{ n }}</td></tr>
{% endfor %}</table><p>Principles that could not be re-judged:</p><ul>
{% for p, n in d.not_replayable.by_principle.items() %}<li>{{ p }}: {{ n }}</li>{% endfor %}
</ul>{% else %}<p>None: every selected record was replayed.</p>{% endif %}
</body></html>
""")


def html(d: dict[str, Any]) -> str:
    """The report as one HTML page (charts beside it as PNG files)."""
    return _HTML.render(d=d, t=d["target"], intro=_intro(d), shown=SHOWN)


def _flips_csv(flips: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["seq", "record", "before", "after", "gained", "lost"])
    for f in flips:
        writer.writerow([f["seq"], f["record"], f["before"], f["after"],
                         ";".join(f["gained"]), ";".join(f["lost"])])
    return buffer.getvalue()


def _bars(rows: dict[str, dict[str, int]], title: str, path: Path, *,
          horizontal: bool = False) -> None:
    import matplotlib.pyplot as plt

    names = list(rows) or ["(none)"]
    before = [rows.get(n, {}).get("before", 0) for n in names]
    after = [rows.get(n, {}).get("after", 0) for n in names]
    places = list(range(len(names)))
    size = (7, 0.35 * max(len(names), 3) + 1.2) if horizontal else (6, 3.6)
    figure, axes = plt.subplots(figsize=size)
    draw = axes.barh if horizontal else axes.bar
    draw([p - 0.2 for p in places], before, 0.4, label="before", color="#8c8c8c")
    draw([p + 0.2 for p in places], after, 0.4, label="after", color="#4c72b0")
    if horizontal:
        axes.set_yticks(places, names)
        axes.invert_yaxis()
        axes.set_xlabel("decisions")
    else:
        axes.set_xticks(places, names)
        axes.set_ylabel("decisions")
    axes.set_title(title)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
