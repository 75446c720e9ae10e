"""Charts drawn on the server as inline SVG: no JavaScript (the CSP allows none inline), no
CDN, and they render in any browser and in screenshots. Every label is escaped."""

from __future__ import annotations

import math
from datetime import datetime

from markupsafe import Markup, escape

from saas.money import exponent, format_money

PALETTE = ("#635bff", "#12805c", "#f79009", "#b42318", "#0ba5ec", "#7a5af8", "#667085", "#ee46bc")
STATUS_COLOURS = {"active": "#12805c", "trialing": "#0ba5ec", "past_due": "#f79009", "unpaid": "#b42318",
                  "incomplete": "#fdb022", "incomplete_expired": "#98a2b3", "canceled": "#667085",
                  "paused": "#7a5af8"}

W, H = 520, 220
LEFT, RIGHT, TOP, BOTTOM = 62, 14, 14, 30


def _nice_max(value: int) -> int:
    if value <= 0:
        return 1
    magnitude = 10 ** int(math.floor(math.log10(value)))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return int(step * magnitude)
    return int(10 * magnitude)


def _axis_label(amount: int, currency: str) -> str:
    # Whole units on the axis: "$1,200" reads better there than "$1,200.00".
    whole = amount // (10 ** exponent(currency))
    text = format_money(whole * 10 ** exponent(currency), currency)
    return text.split(".")[0] if exponent(currency) else text


def _frame(chart_id: str, title: str, body: list[str], width: int = W) -> Markup:
    return Markup(
        f'<svg class="chart" id="{escape(chart_id)}" viewBox="0 0 {width} {H}" width="100%" role="img" '
        f'aria-label="{escape(title)}" preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>" + "".join(body) + "</svg>")


def _grid(top_value: int, currency: str, width: int = W) -> list[str]:
    out = []
    plot_h = H - TOP - BOTTOM
    for i in range(5):
        y = TOP + plot_h * i / 4
        value = top_value * (4 - i) // 4
        out.append(f'<line x1="{LEFT}" x2="{width - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        out.append(f'<text x="{LEFT - 8}" y="{y + 4:.1f}" text-anchor="end" class="axis">'
                   f"{escape(_axis_label(value, currency))}</text>")
    return out


def _month_label(m: datetime) -> str:
    return m.strftime("%b") if m.month != 1 else m.strftime("%b %y")


def line_chart(chart_id: str, title: str, points: list[tuple[datetime, int]], currency: str,
               width: int = W) -> Markup:
    """One series over months (e.g. MRR), as an area under a line with a dot per month."""
    values = [v for _, v in points] or [0]
    top = _nice_max(max(values))
    plot_w, plot_h = width - LEFT - RIGHT, H - TOP - BOTTOM
    n = max(len(points), 1)
    step = plot_w / max(n - 1, 1)
    coords = [(LEFT + i * step, TOP + plot_h * (1 - v / top)) for i, (_, v) in enumerate(points)]
    body = _grid(top, currency, width)
    if coords:
        line = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        area = f"{coords[0][0]:.1f},{TOP + plot_h:.1f} {line} {coords[-1][0]:.1f},{TOP + plot_h:.1f}"
        body.append(f'<polygon points="{area}" class="area"/>')
        body.append(f'<polyline points="{line}" class="line"/>')
    for (x, y), (month, value) in zip(coords, points):
        body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.2" class="dot">'
                    f"<title>{escape(month.strftime('%B %Y'))}: {escape(format_money(value, currency))}</title></circle>")
        body.append(f'<text x="{x:.1f}" y="{H - 10}" text-anchor="middle" class="axis">{escape(_month_label(month))}</text>')
    return _frame(chart_id, title, body, width)


def stacked_bars(chart_id: str, title: str, rows: list[tuple[datetime, int, int]], currency: str,
                 names: tuple[str, str]) -> Markup:
    """Two series stacked per month (subscription and store revenue)."""
    totals = [a + b for _, a, b in rows] or [0]
    top = _nice_max(max(totals))
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM
    n = max(len(rows), 1)
    slot = plot_w / n
    bar = max(slot * 0.62, 2)
    body = _grid(top, currency)
    for i, (month, a, b) in enumerate(rows):
        x = LEFT + i * slot + (slot - bar) / 2
        base = TOP + plot_h
        for value, cls, name in ((a, "bar-a", names[0]), (b, "bar-b", names[1])):
            if value <= 0:
                continue
            h = plot_h * value / top
            base -= h
            body.append(f'<rect x="{x:.1f}" y="{base:.1f}" width="{bar:.1f}" height="{h:.1f}" rx="2" class="{cls}">'
                        f"<title>{escape(month.strftime('%B %Y'))} {escape(name)}: "
                        f"{escape(format_money(value, currency))}</title></rect>")
        body.append(f'<text x="{x + bar / 2:.1f}" y="{H - 10}" text-anchor="middle" class="axis">'
                    f"{escape(_month_label(month))}</text>")
    return _frame(chart_id, title, body)


def donut(chart_id: str, title: str, counts: dict[str, int]) -> Markup:
    """A ring split by share (the subscription status mix), with a legend beside it."""
    total = sum(counts.values())
    cx, cy, r, width = 110, H / 2, 72, 30
    circumference = 2 * math.pi * r
    body = [f'<circle cx="{cx}" cy="{cy}" r="{r}" class="ring"/>']
    offset = 0.0
    for i, (status, n) in enumerate(counts.items()):
        if not total or n <= 0:
            continue
        length = circumference * n / total
        colour = STATUS_COLOURS.get(status, PALETTE[i % len(PALETTE)])
        body.append(f'<circle cx="{cx}" cy="{cy}" r="{r}" fill="none" stroke="{colour}" stroke-width="{width}" '
                    f'stroke-dasharray="{length:.2f} {circumference - length:.2f}" '
                    f'stroke-dashoffset="{-offset:.2f}" transform="rotate(-90 {cx} {cy})">'
                    f"<title>{escape(status)}: {n}</title></circle>")
        offset += length
    body.append(f'<text x="{cx}" y="{cy - 2}" text-anchor="middle" class="donut-total">{total}</text>')
    body.append(f'<text x="{cx}" y="{cy + 18}" text-anchor="middle" class="axis">subscriptions</text>')
    for i, (status, n) in enumerate(counts.items()):
        y = 36 + i * 24
        colour = STATUS_COLOURS.get(status, PALETTE[i % len(PALETTE)])
        share = f"{100 * n / total:.0f}%" if total else "0%"
        body.append(f'<rect x="230" y="{y - 11}" width="13" height="13" rx="3" fill="{colour}"/>')
        body.append(f'<text x="252" y="{y}" class="legend">{escape(status.replace("_", " "))}</text>')
        body.append(f'<text x="{W - RIGHT}" y="{y}" text-anchor="end" class="legend num">{n} · {share}</text>')
    if not total:
        body.append(f'<text x="252" y="{cy}" class="legend">No subscriptions yet</text>')
    return _frame(chart_id, title, body)
