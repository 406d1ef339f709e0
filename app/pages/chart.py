"""Allegations per party as an SVG bar chart, drawn on the server (no script, no library).

Two bars per party: allegations it made and allegations it received. Every bar carries its
number as text, so the chart reads without colour; the chart has a title and a description for
screen readers, and the page shows the same counts in a table beside it. A party's name longer
than its column is cut with an ellipsis, the full name in its tooltip (and in the table).
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

from projections.views import PartyCounts

__all__ = ["allegations_chart", "label"]

_BAR = 18
_GAP = 6
_GROUP_GAP = 14
_LABEL_WIDTH = 120
_BAR_WIDTH = 220
_NUMBER_WIDTH = 40
#: What fits in the label column at 13 px (about 7 px a character, with a gap before the bars).
_LABEL_CHARACTERS = 15
_WIDTH = _LABEL_WIDTH + _BAR_WIDTH + _NUMBER_WIDTH
#: Dark enough for 4.5:1 against the white background (WCAG AA), told apart by a pattern too.
_MADE = "#1d4ed8"
_RECEIVED = "#b45309"


def label(name: str) -> str:
    """``name`` as the chart's label column holds it: cut with an ellipsis when too long."""
    if len(name) <= _LABEL_CHARACTERS:
        return name
    return name[: _LABEL_CHARACTERS - 1].rstrip() + "…"


def allegations_chart(chart_id: str, counts: Mapping[str, PartyCounts]) -> str:
    """The chart as an inline ``<svg>`` element; ``chart_id`` makes its ids unique on a page."""
    parties = sorted(counts)
    top = max([1, *(max(c.made, c.received) for c in counts.values())])
    legend = 24
    height = legend + len(parties) * (2 * _BAR + _GAP + _GROUP_GAP) + 4
    title = f"{chart_id}-title"
    desc = f"{chart_id}-desc"
    summary = "; ".join(
        f"{party}: made {counts[party].made}, received {counts[party].received}"
        for party in parties
    )
    parts = [
        f'<svg class="chart" viewBox="0 0 {_WIDTH} {height}" width="100%" role="img" '
        f'aria-labelledby="{title} {desc}" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{title}">Allegations per party</title>',
        f'<desc id="{desc}">{escape(summary) or "No allegations."}</desc>',
        f'<rect x="0" y="4" width="12" height="12" fill="{_MADE}"/>',
        '<text x="18" y="15" font-size="12" fill="#111">made</text>',
        f'<rect x="70" y="4" width="12" height="12" fill="{_RECEIVED}"/>',
        '<text x="88" y="15" font-size="12" fill="#111">received</text>',
    ]
    y = legend
    for party in parties:
        parts.append(
            f'<g class="label"><title>{escape(party)}</title>'
            f'<text x="0" y="{y + _BAR + 2}" font-size="13" fill="#111">{escape(label(party))}'
            "</text></g>"
        )
        for offset, value, colour, what in (
            (0, counts[party].made, _MADE, "made"),
            (_BAR + _GAP // 2, counts[party].received, _RECEIVED, "received"),
        ):
            width = round(_BAR_WIDTH * value / top)
            parts.append(
                f'<rect class="{what}" x="{_LABEL_WIDTH}" y="{y + offset}" width="{width}" '
                f'height="{_BAR}" fill="{colour}"/>'
            )
            parts.append(
                f'<text x="{_LABEL_WIDTH + width + 4}" y="{y + offset + _BAR - 4}" '
                f'font-size="12" fill="#111">{value}</text>'
            )
        y += 2 * _BAR + _GAP + _GROUP_GAP
    parts.append("</svg>")
    return "".join(parts)
