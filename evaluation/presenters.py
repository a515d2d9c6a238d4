"""Presentation of stored runs and maps: table rows, SVG charts, run differences, map SVG.

The charts are plain server-rendered SVG strings (no JavaScript, no front-end build); every
text that came from the database is escaped.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from evaluation.metrics import CUTOFFS, LIST_LENGTH
from evaluation.models import EvaluationRun

# tab10: one colour per genre on the map, per representation in the history.
PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip
NO_GENRE_COLOUR = "#b0b0b0"
FIGURES = {f"p{c}": f"precision@{c}" for c in CUTOFFS} | {"map": f"MAP@{LIST_LENGTH}"}


def figure_value(result: dict, figure: str) -> tuple[float | None, float | None]:
    """(value, chance) of ``figure`` ('p1', 'p5', 'p10', 'map') in a stored combo."""
    if figure == "map":
        return result.get("map"), result.get("map_chance")
    cutoff = figure[1:]
    return result["precision"].get(cutoff), result["chance"].get(cutoff)


def _fmt(value: float | None, spec: str = ".3f") -> str:
    return "–" if value is None else format(value, spec)


# --------------------------------------------------------------------------- charts


def bar_chart(figures: dict, figure: str) -> SafeString:
    """Horizontal bars: one group per representation/metric, a bar per boost, a tick at
    chance."""
    rows = [r for r in figures.get("results", []) if r["available"]]
    if not rows:
        return mark_safe("")
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(f"{r['representation']} / {r['metric']}", []).append(r)
    bar_h, gap, label_w, plot_w = 14, 10, 150, 420
    height = sum(len(g) * bar_h + gap for g in groups.values()) + 30
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {label_w + plot_w + 60} {height}" '
        f'aria-label="{escape(FIGURES[figure])} per representation and metric">'
    ]
    y = 5
    for label, results in groups.items():
        parts.append(
            f'<text x="{label_w - 6}" y="{y + bar_h * len(results) / 2 + 4:.0f}" '
            f'text-anchor="end">{escape(label)}</text>'
        )
        for r in results:
            value, chance = figure_value(r, figure)
            boosted = r.get("boosted", r["boost"] < 1)
            width = plot_w * (value or 0)
            colour = "#c2185b" if boosted else "#455a64"
            boost_label = f"boost {r['boost']:g}" if boosted else "boost off"
            parts.append(
                f'<rect x="{label_w}" y="{y}" width="{width:.1f}" height="{bar_h - 2}" '
                f'fill="{colour}"><title>{escape(label)}, {boost_label}: {_fmt(value)} '
                f"(chance {_fmt(chance)})</title></rect>"
                f'<text x="{label_w + width + 4:.1f}" y="{y + bar_h - 4}" class="value">'
                f"{_fmt(value)}</text>"
            )
            if chance is not None:
                cx = label_w + plot_w * chance
                parts.append(
                    f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{y - 1}" y2="{y + bar_h - 1}" '
                    'class="chance"/>'
                )
            y += bar_h
        y += gap
    axis_y = y + 2
    parts.append(
        f'<line x1="{label_w}" x2="{label_w + plot_w}" y1="{axis_y}" y2="{axis_y}" class="axis"/>'
    )
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        tx = label_w + plot_w * tick
        parts.append(
            f'<text x="{tx:.0f}" y="{axis_y + 14}" text-anchor="middle" class="tick">'
            f"{tick:g}</text>"
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))


def agreement_chart(figures: dict) -> SafeString:
    """Agreement ratio (neighbours / random) per metadata field and representation, boost
    off, one metric (cosine when evaluated); the line at 1 is chance."""
    rows = [r for r in figures.get("results", []) if r["available"] and not r.get("boosted")]
    metrics = {r["metric"] for r in rows}
    metric = "cosine" if "cosine" in metrics else (sorted(metrics) or [""])[0]
    rows = [r for r in rows if r["metric"] == metric]
    fields = sorted({name for r in rows for name, a in r["agreement"].items() if a["ratio"]})
    if not rows or not fields:
        return mark_safe("")
    bar_h, gap, label_w, plot_w, top = 12, 10, 150, 420, 1.5
    height = len(fields) * (len(rows) * bar_h + gap) + 30
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {label_w + plot_w + 60} {height}" '
        f'aria-label="metadata agreement ratios ({metric}, boost off)">'
    ]
    y = 5
    for name in fields:
        parts.append(
            f'<text x="{label_w - 6}" y="{y + bar_h * len(rows) / 2 + 4:.0f}" '
            f'text-anchor="end">{escape(name)}</text>'
        )
        for i, r in enumerate(rows):
            ratio = (r["agreement"].get(name) or {}).get("ratio")
            width = plot_w * min(ratio or 0, top) / top
            parts.append(
                f'<rect x="{label_w}" y="{y}" width="{width:.1f}" height="{bar_h - 2}" '
                f'fill="{PALETTE[i % len(PALETTE)]}"><title>{escape(r["representation"])}: '
                f"{escape(name)} ratio {_fmt(ratio, '.2f')}</title></rect>"
            )
            y += bar_h
        y += gap
    one = label_w + plot_w / top
    parts.append(f'<line x1="{one:.1f}" x2="{one:.1f}" y1="0" y2="{y}" class="chance"/>')
    parts.append(
        f'<text x="{one:.1f}" y="{y + 14}" text-anchor="middle" class="tick">1 = random</text>'
    )
    legend_x = label_w + plot_w + 8
    for i, r in enumerate(rows):
        parts.append(
            f'<text x="{legend_x - 40}" y="{12 + 14 * i}" fill="{PALETTE[i % len(PALETTE)]}" '
            f'class="legend">{escape(r["representation"])}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))


def history_chart(runs: list[EvaluationRun], figure: str, metric: str) -> SafeString:
    """One line per representation: ``figure`` (boost off, ``metric``) over the runs, oldest
    first."""
    series: dict[str, list[tuple[int, float]]] = {}
    for i, run in enumerate(runs):
        for r in run.figures.get("results", []):
            if r["available"] and not r.get("boosted") and r["metric"] == metric:
                value, _ = figure_value(r, figure)
                if value is not None:
                    series.setdefault(r["representation"], []).append((i, value))
    if len(runs) < 2 or not series:
        return mark_safe("")
    w, h, left, bottom = 560, 200, 40, 24
    step = (w - left - 80) / max(len(runs) - 1, 1)
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {w} {h + bottom}" '
        f'aria-label="{escape(FIGURES[figure])} over runs ({metric}, boost off)">',
        f'<line x1="{left}" x2="{left}" y1="0" y2="{h}" class="axis"/>',
        f'<line x1="{left}" x2="{w - 80}" y1="{h}" y2="{h}" class="axis"/>',
    ]
    for tick in (0, 0.5, 1.0):
        parts.append(
            f'<text x="{left - 4}" y="{h - h * tick + 4:.0f}" text-anchor="end" class="tick">'
            f"{tick:g}</text>"
        )
    for i, run in enumerate(runs):
        parts.append(
            f'<text x="{left + step * i:.0f}" y="{h + 16}" text-anchor="middle" class="tick">'
            f"#{run.pk}</text>"
        )
    for j, (name, points) in enumerate(sorted(series.items())):
        colour = PALETTE[j % len(PALETTE)]
        coords = " ".join(f"{left + step * i:.1f},{h - h * v:.1f}" for i, v in points)
        parts.append(
            f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2"/>'
        )
        for i, v in points:
            parts.append(
                f'<circle cx="{left + step * i:.1f}" cy="{h - h * v:.1f}" r="3" fill="{colour}">'
                f"<title>{escape(name)} run #{runs[i].pk}: {v:.3f}</title></circle>"
            )
        parts.append(
            f'<text x="{w - 74}" y="{14 + 14 * j}" fill="{colour}" class="legend">'
            f"{escape(name)}</text>"
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))


# --------------------------------------------------------------------------- tables


def result_rows(figures: dict) -> list[dict]:
    rows = []
    for r in figures.get("results", []):
        boosted = r.get("boosted", r["boost"] < 1)
        row = {
            "representation": r["representation"],
            "metric": r["metric"],
            "boost": f"{r['boost']:g}" if boosted else "off",
            "available": r["available"],
            "reason": r["reason"],
            "n_queries": r["n_queries"],
            "queries": r["queries"],
        }
        if r["available"]:
            row["figures"] = [
                (_fmt(figure_value(r, f)[0]), _fmt(figure_value(r, f)[1])) for f in FIGURES
            ]
            row["agreement"] = {
                name: _fmt(a["ratio"], ".2f") for name, a in sorted(r["agreement"].items())
            }
        rows.append(row)
    return rows


def agreement_fields(figures: dict) -> list[str]:
    return sorted({name for r in figures.get("results", []) for name in r["agreement"]})


@dataclass
class RunDifference:
    changes: list[tuple[str, str, str]]  # (what, in a, in b)
    deltas: list[tuple[str, str, str, str]]  # (combo, a, b, b - a) of precision@5


def _settings_changes(a: dict, b: dict) -> list[tuple[str, str, str]]:
    changes = []
    for key in sorted(set(a) | set(b)):
        if key == "feature_weights":
            wa, wb = a.get(key) or {}, b.get(key) or {}
            for name in sorted(set(wa) | set(wb)):
                if wa.get(name, 1.0) != wb.get(name, 1.0):
                    changes.append(
                        (f"weight of {name}", f"{wa.get(name, 1.0):g}", f"{wb.get(name, 1.0):g}")
                    )
        elif a.get(key) != b.get(key):
            changes.append((key.replace("_", " "), str(a.get(key, "–")), str(b.get(key, "–"))))
    return changes


def run_difference(a: EvaluationRun, b: EvaluationRun) -> RunDifference:
    """What differs between two finished runs: what they ran on, and their precision@5."""
    changes = []
    if a.model_name != b.model_name:
        changes.append(("model", a.model_name or "none", b.model_name or "none"))
    if a.catalog_size != b.catalog_size:
        changes.append(("catalog size", str(a.catalog_size), str(b.catalog_size)))
    changes += _settings_changes(a.settings, b.settings)
    for key in sorted(set(a.parameters) | set(b.parameters)):
        if a.parameters.get(key) != b.parameters.get(key):
            changes.append(
                (f"parameter {key}", str(a.parameters.get(key)), str(b.parameters.get(key)))
            )

    def by_combo(run: EvaluationRun) -> dict[str, float | None]:
        return {
            f"{r['representation']}/{r['metric']}"
            + (f" boost {r['boost']:g}" if r.get("boosted") else ""): r["precision"].get("5")
            for r in run.figures.get("results", [])
            if r["available"]
        }

    pa, pb = by_combo(a), by_combo(b)
    deltas = []
    for combo in sorted(set(pa) | set(pb)):
        va, vb = pa.get(combo), pb.get(combo)
        delta = f"{vb - va:+.3f}" if va is not None and vb is not None else "–"
        deltas.append((combo, _fmt(va), _fmt(vb), delta))
    return RunDifference(changes, deltas)


# --------------------------------------------------------------------------- the map


def map_svg(display: dict, highlights: list[dict], size: int = 760) -> SafeString:
    """The map as SVG: a linked circle per point (colour = curated genre, dark outline =
    predicted genre differs), k-NN edges in a group the page toggles, rings on highlights
    (dicts with x, y, label)."""
    pad = 10
    inner = size - 2 * pad

    def sx(v: float) -> float:
        return pad + v * inner

    def sy(v: float) -> float:
        return pad + (1 - v) * inner

    points, genres = display.get("points", []), display.get("genres", [])
    parts = [
        f'<svg class="map" id="catalog-map" role="img" viewBox="0 0 {size} {size}" '
        f'aria-label="map of {len(points)} catalog videos">'
    ]
    parts.append('<g class="edges">')
    for i, j in display.get("edges", []):
        a, b = points[i], points[j]
        parts.append(
            f'<line x1="{sx(a[1]):.1f}" y1="{sy(a[2]):.1f}" '
            f'x2="{sx(b[1]):.1f}" y2="{sy(b[2]):.1f}"/>'
        )
    parts.append('</g><g class="points">')
    radius = 5 if len(points) <= 300 else 3.5 if len(points) <= 1500 else 2.5
    # One reverse() for all points: at 3,000 points, one each took most of the page's time.
    href = reverse("search:video", args=[0]).replace("/0/", "/{}/")
    for vid, x, y, genre, agree, title in points:
        colour = PALETTE[genre % len(PALETTE)] if genre >= 0 else NO_GENRE_COLOUR
        genre_name = genres[genre] if genre >= 0 else "no genre"
        outline = ' class="disagree"' if agree == 0 else ""
        note = " · predicted genre differs" if agree == 0 else ""
        parts.append(
            f'<a href="{href.format(vid)}" data-video-id="{vid}">'
            f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" '
            f'r="{radius}" fill="{colour}"{outline}><title>{escape(title)} · '
            f"{escape(genre_name)}{note}</title></circle></a>"
        )
    parts.append('</g><g class="highlights">')
    for h in highlights:
        parts.append(
            f'<circle cx="{sx(h["x"]):.1f}" cy="{sy(h["y"]):.1f}" r="{radius + 6}" '
            f'class="highlight"><title>{escape(h["label"])}</title></circle>'
        )
    parts.append("</g></svg>")
    return mark_safe("".join(parts))


def genre_legend(display: dict) -> list[tuple[str, str]]:
    legend = [(PALETTE[i % len(PALETTE)], name) for i, name in enumerate(display.get("genres", []))]
    if any(p[3] < 0 for p in display.get("points", [])):
        legend.append((NO_GENRE_COLOUR, "no genre"))
    return legend
