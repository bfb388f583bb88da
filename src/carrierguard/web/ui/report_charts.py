"""Bar charts as inline SVG, drawn on the server: no script, no font or file from outside.

Two shapes are enough for the regulator report: grouped vertical bars (categories along
the bottom, one bar per series) and horizontal bars (one labelled bar per item). Labels
are escaped here; the result is safe to insert into a page as markup.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

PALETTE = ("#0b5cad", "#1b7f3b", "#a86400", "#b3261e", "#6a3fa0", "#0f7c8c", "#5b6474")
FONT = "font-family='Hiragino Sans, Noto Sans CJK JP, Yu Gothic, sans-serif'"


@dataclass(frozen=True, slots=True)
class Series:
    label: str
    values: Sequence[float]


def _ticks(value: float) -> list[float]:
    """Axis ticks from 0 to a round top at or above ``value``, at most five steps."""
    if value <= 0:
        return [0.0, 1.0]
    raw = value / 4
    power = 10.0 ** math.floor(math.log10(raw))
    # Steps of 2.5 only from 25 up, so that counts get whole-number ticks.
    steps = (1, 2, 2.5, 5, 10) if power >= 10 else (1, 2, 5, 10)
    step = next(m * power for m in steps if m * power >= raw)
    if value >= 1:
        step = max(step, 1.0)
    count = math.ceil(value / step - 1e-9)
    return [step * i for i in range(count + 1)]


def _nice_max(value: float) -> float:
    return _ticks(value)[-1]


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}".rstrip("0")


def grouped_bars(
    title: str,
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    fmt: Callable[[float], str] = _number,
    width: int = 640,
    height: int = 260,
) -> Markup:
    """Vertical bars: for each category, one bar per series, with a legend on top."""
    legend, rows = _legend([s.label for s in series], 48, width - 12)
    left, right, top, bottom = 48, 12, 20 + 18 * rows, 28
    height += 18 * (rows - 1)
    plot_w, plot_h = width - left - right, height - top - bottom
    ticks = _ticks(max((v for s in series for v in s.values), default=0))
    top_value = ticks[-1]
    parts = [_open(title, width, height), legend]
    for value in ticks:  # gridlines and axis labels
        y = top + plot_h - plot_h * value / top_value
        parts.append(
            f"<line x1='{left}' x2='{width - right}' y1='{y:.1f}' y2='{y:.1f}' stroke='#d9dee7'/>"
            f"<text x='{left - 6}' y='{y + 4:.1f}' text-anchor='end' font-size='11' "
            f"fill='#5b6474'>{escape(fmt(value))}</text>"
        )
    slot = plot_w / max(len(categories), 1)
    bar = min(28.0, slot * 0.8 / max(len(series), 1))
    for c, category in enumerate(categories):
        x0 = left + slot * c + (slot - bar * len(series)) / 2
        for s, one in enumerate(series):
            value = one.values[c]
            h = plot_h * value / top_value
            x, y = x0 + bar * s, top + plot_h - h
            color = PALETTE[s % len(PALETTE)]
            parts.append(
                f"<rect x='{x:.1f}' y='{y:.1f}' width='{bar - 2:.1f}' height='{h:.1f}' "
                f"fill='{color}'><title>{escape(category)} · {escape(one.label)}: "
                f"{escape(fmt(value))}</title></rect>"
            )
            if value and bar >= 14:
                parts.append(
                    f"<text x='{x + (bar - 2) / 2:.1f}' y='{y - 3:.1f}' text-anchor='middle' "
                    f"font-size='10' fill='#1d2433'>{escape(fmt(value))}</text>"
                )
        parts.append(
            f"<text x='{left + slot * c + slot / 2:.1f}' y='{height - bottom + 16}' "
            f"text-anchor='middle' font-size='12' fill='#1d2433'>{escape(category)}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def horizontal_bars(
    title: str,
    items: Sequence[tuple[str, float]],
    *,
    fmt: Callable[[float], str] = _number,
    top_value: float | None = None,
    width: int = 640,
) -> Markup:
    """One labelled horizontal bar per item, its value written at its end."""
    label_w, right, row = 250, 70, 26
    height = max(len(items), 1) * row + 16
    top = top_value if top_value is not None else _nice_max(max((v for _, v in items), default=0))
    plot_w = width - label_w - right
    parts = [_open(title, width, height)]
    if not items:
        parts.append(
            f"<text x='{width / 2}' y='{height / 2 + 4}' text-anchor='middle' font-size='12' "
            "fill='#5b6474'>—</text>"
        )
    for i, (label, value) in enumerate(items):
        y = 8 + i * row
        w = plot_w * value / top if top else 0
        color = PALETTE[i % len(PALETTE)]
        parts.append(
            f"<text x='{label_w - 8}' y='{y + 15}' text-anchor='end' font-size='12' "
            f"fill='#1d2433'>{escape(label)}</text>"
            f"<rect x='{label_w}' y='{y + 3}' width='{plot_w}' height='16' fill='#f0f2f6'/>"
            f"<rect x='{label_w}' y='{y + 3}' width='{w:.1f}' height='16' fill='{color}'>"
            f"<title>{escape(label)}: {escape(fmt(value))}</title></rect>"
            f"<text x='{label_w + w + 6:.1f}' y='{y + 15}' font-size='12' "
            f"fill='#1d2433'>{escape(fmt(value))}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _open(title: str, width: int, height: int) -> str:
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {height}' "
        f"width='100%' role='img' aria-label='{escape(title)}' {FONT}>"
        f"<title>{escape(title)}</title>"
    )


def _legend(labels: Sequence[str], left: int, right: int) -> tuple[str, int]:
    """Legend entries left to right, wrapping to a new row; returns the markup and its rows."""
    parts, x, y = [], float(left), 8
    for i, label in enumerate(labels):
        width = 20 + 6.0 * _text_width(label)
        if x > left and x + width > right:
            x, y = float(left), y + 18
        parts.append(
            f"<rect x='{x:.1f}' y='{y}' width='12' height='12' fill='{PALETTE[i % len(PALETTE)]}'/>"
            f"<text x='{x + 16:.1f}' y='{y + 10}' font-size='12' fill='#1d2433'>"
            f"{escape(label)}</text>"
        )
        x += width + 10
    return "".join(parts), (y - 8) // 18 + 1


def _text_width(label: str) -> float:
    """Width in half-width units: CJK characters take two."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in label)
