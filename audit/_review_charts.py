"""Chart geometry for the review pages: plain numbers the templates draw as inline SVG (no JS)."""

from __future__ import annotations

from typing import Any

__all__ = ["atom_bars", "rate_lines"]

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 44, 28, 12, 36


def rate_lines(series: list[dict[str, Any]], keys: dict[str, str]) -> dict[str, Any]:
    """Rates (0-1) per point of ``series`` as polylines; ``keys`` maps a series key to its CSS class."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    count = len(series)

    def x(i: int) -> float:
        return LEFT + (plot_w * i / (count - 1) if count > 1 else plot_w / 2)

    def y(rate: float) -> float:
        return TOP + plot_h * (1 - rate)

    lines = []
    for key, css in keys.items():
        points = [(x(i), y(p[key])) for i, p in enumerate(series) if p.get(key) is not None]
        lines.append(
            {
                "key": key,
                "css": css,
                "points": " ".join(f"{px:.1f},{py:.1f}" for px, py in points),
                "dots": [{"x": round(px, 1), "y": round(py, 1)} for px, py in points],
            }
        )
    step = max(1, count // 8)
    xlabels = [{"x": round(x(i), 1), "text": p["week"][5:]} for i, p in enumerate(series) if i % step == 0]
    ylabels = [{"y": round(y(v / 4), 1), "text": f"{v * 25}%"} for v in range(5)]
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "bottom": HEIGHT - BOTTOM,
        "label_y": HEIGHT - BOTTOM + 16,
        "lines": lines,
        "xlabels": xlabels,
        "ylabels": ylabels,
        "empty": count == 0,
    }


def atom_bars(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """One bar per atom: its adoption rate (width) and how often it was shown (label)."""
    bar_h, gap, label_w = 18, 8, 220
    plot_w = WIDTH - label_w - 60
    bars = []
    for i, row in enumerate(rows):
        rate = row.get("adoption_rate") or 0.0
        bars.append(
            {
                "atom": row["atom"],
                "y": i * (bar_h + gap),
                "text_y": i * (bar_h + gap) + 13,
                "x": label_w,
                "width": round(max(1.0, plot_w * rate), 1),
                "value_x": round(label_w + max(1.0, plot_w * rate) + 6, 1),
                "rate": rate,
                "shown": row["shown"],
            }
        )
    return {"width": WIDTH, "height": max(bar_h, len(rows) * (bar_h + gap)), "bars": bars, "bar_h": bar_h}
