"""A shields-style badge: "ceasefire | holding 12 days", as a small standalone SVG.

Text widths are estimated from Verdana's average advance at 11 px (what shields.io badges use),
so the badge needs no font metrics and no library; the text is also the SVG's title.
"""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

__all__ = ["STATE_COLOURS", "badge_svg"]

#: Background per state, each at 4.5:1 or better against white text.
STATE_COLOURS = {
    "holding": "#166534",
    "contested": "#92400e",
    "pending": "#1e40af",
    "collapsed": "#991b1b",
    "expired": "#374151",
    "withdrawn": "#6b21a8",
    "none": "#4b5563",
    "lull": "#0f766e",
}
_LABEL_COLOUR = "#555"


def _width(text: str) -> int:
    return round(len(text) * 6.6) + 12


def badge_svg(label: str, message: str, state: str) -> str:
    left, right = _width(label), _width(message)
    total = left + right
    colour = STATE_COLOURS.get(state, STATE_COLOURS["none"])
    title = f"{label}: {message}"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" '
        f'role="img" aria-label={quoteattr(title)}>'
        f"<title>{escape(title)}</title>"
        '<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" '
        'stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>'
        f'<clipPath id="r"><rect width="{total}" height="20" rx="3" fill="#fff"/></clipPath>'
        f'<g clip-path="url(#r)"><rect width="{left}" height="20" fill="{_LABEL_COLOUR}"/>'
        f'<rect x="{left}" width="{right}" height="20" fill="{colour}"/>'
        f'<rect width="{total}" height="20" fill="url(#s)"/></g>'
        '<g fill="#fff" text-anchor="middle" '
        'font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">'
        f'<text x="{left / 2}" y="14">{escape(label)}</text>'
        f'<text x="{left + right / 2}" y="14">{escape(message)}</text></g></svg>'
    )
