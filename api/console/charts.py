"""Charts as inline SVG, drawn on the server: no script, no CDN, readable at a glance.

Two shapes cover the dashboard: columns over time (stacked when there are several
series, e.g. decisions by action) and horizontal bars (e.g. violations by principle).
Each chart carries a <title> and <desc> for screen readers, and every series is named
in a legend with its colour, so colour is never the only cue; the page also prints the
same figures as a table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT = 680, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 28, 44
COLORS = {"allow": "#2e7d32", "revise": "#1565c0", "block": "#c62828",
          "escalate": "#ef6c00", "error": "#6a1b9a"}
DEFAULT = "#455a64"
Format = Callable[[float], str]


def _count(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"


def _svg(title: str, desc: str, body: list[str]) -> Markup:
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
            f'width="100%" role="img" class="chart"><title>{escape(title)}</title>'
            f'<desc>{escape(desc)}</desc>')
    # every text part is escaped where it is built; numbers and colours are ours
    return Markup(head + "".join(body) + "</svg>")


def columns(buckets: Sequence[str], series: Mapping[str, Sequence[float]], *, title: str,
            fmt: Format = _count, colors: dict[str, str] | None = None) -> Markup:
    """Columns per bucket, stacking the series in order; an empty chart says so."""
    colors = colors or {}
    totals = [sum(values[i] for values in series.values()) for i in range(len(buckets))]
    peak = max(totals, default=0) or 1
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    body = [f'<text x="{LEFT}" y="16" class="chart-title">{escape(title)}</text>']
    for step in range(5):
        y = TOP + plot_h - plot_h * step / 4
        body.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
                    f'stroke="#ddd"/><text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" '
                    f'class="tick">{escape(fmt(peak * step / 4))}</text>')
    if not buckets:
        body.append(f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">'
                    'no decisions in this period</text>')
    slot = plot_w / max(len(buckets), 1)
    label_every = max(1, len(buckets) // 8)
    for i, bucket in enumerate(buckets):
        x, base = LEFT + i * slot + slot * 0.15, float(TOP + plot_h)
        for name, values in series.items():
            h = plot_h * values[i] / peak
            if h > 0:
                base -= h
                body.append(f'<rect x="{x:.1f}" y="{base:.1f}" width="{slot * 0.7:.1f}" '
                            f'height="{h:.1f}" fill="{colors.get(name, DEFAULT)}">'
                            f'<title>{escape(f"{bucket} {name}: {fmt(values[i])}")}</title>'
                            '</rect>')
        if i % label_every == 0:
            body.append(f'<text x="{x + slot * 0.35:.1f}" y="{TOP + plot_h + 16}" '
                        f'text-anchor="middle" class="tick">{escape(bucket)}</text>')
    desc = "; ".join(f"{b}: {fmt(t)}" for b, t in zip(buckets, totals, strict=True))
    return _svg(title, desc or "no data", body + _legend(list(series), colors))


def bars(items: Sequence[tuple[str, float]], *, title: str, fmt: Format = _count,
         color: str = DEFAULT) -> Markup:
    """Horizontal bars, largest first, each labelled with its name and value."""
    shown = sorted(items, key=lambda item: -item[1])[:10]
    peak = max((v for _, v in shown), default=0) or 1
    label_w, row = 200, (HEIGHT - TOP - 8) / max(len(shown), 1)
    body = [f'<text x="8" y="16" class="chart-title">{escape(title)}</text>']
    if not shown:
        body.append(f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">'
                    'none in this period</text>')
    for i, (name, value) in enumerate(shown):
        y = TOP + i * row
        w = (WIDTH - label_w - 80) * value / peak
        body.append(f'<text x="{label_w - 8}" y="{y + row * 0.6:.1f}" text-anchor="end" '
                    f'class="tick">{escape(name)}</text>'
                    f'<rect x="{label_w}" y="{y + row * 0.15:.1f}" width="{w:.1f}" '
                    f'height="{row * 0.7:.1f}" fill="{color}"/>'
                    f'<text x="{label_w + w + 6:.1f}" y="{y + row * 0.6:.1f}" '
                    f'class="tick">{escape(fmt(value))}</text>')
    desc = "; ".join(f"{n}: {fmt(v)}" for n, v in shown)
    return _svg(title, desc or "none", body)


def _legend(names: list[str], colors: dict[str, str]) -> list[str]:
    if len(names) < 2:
        return []
    out, x = [], LEFT
    for name in names:
        out.append(f'<rect x="{x}" y="{HEIGHT - 14}" width="10" height="10" '
                   f'fill="{colors.get(name, DEFAULT)}"/><text x="{x + 14}" '
                   f'y="{HEIGHT - 5}" class="tick">{escape(name)}</text>')
        x += 24 + 8 * len(name)
    return out
