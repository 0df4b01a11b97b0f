"""Badges as SVG in shields.io's flat style, drawn here: the broker never calls shields.io.

Labels, texts and colours follow pact_broker `lib/pact_broker/badges/service.rb`; the shape
follows its static `public/images/pact-*.svg` files.
"""

from __future__ import annotations

from html import escape
from typing import Literal

Colour = Literal["brightgreen", "red", "orange", "lightgrey"]
COLOURS: dict[Colour, str] = {
    "brightgreen": "#4c1",
    "red": "#e05d44",
    "orange": "#fe7d37",
    "lightgrey": "#9f9f9f",
}

# Verdana 11px: most characters are 6-8 px wide; narrow ones are counted as such so that
# short labels are not padded too much. Text never overflows: the width errs on the wide side.
_NARROW = set("fijlrtI.,:;!|()[]' ")
_WIDE = set("mwMW@%")


def _text_width(text: str) -> int:
    return round(sum(4 if c in _NARROW else 11 if c in _WIDE else 6.9 for c in text))


def svg(label: str, message: str, colour: Colour) -> str:
    # XML 1.0 cannot hold control characters: a label given as `?label=%00` must not break it.
    label, message = (
        "".join(c for c in text if c >= " " or c == "\t") for text in (label, message)
    )
    left, right = _text_width(label) + 10, _text_width(message) + 10
    total = left + right
    label_text, message_text = escape(label), escape(message)
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'
        f' width="{total}" height="20" role="img" aria-label="{label_text}: {message_text}">'
        f"<title>{label_text}: {message_text}</title>"
        '<linearGradient id="b" x2="0" y2="100%"><stop offset="0" stop-color="#bbb"'
        ' stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>'
        f'<clipPath id="a"><rect width="{total}" height="20" rx="3" fill="#fff"/></clipPath>'
        f'<g clip-path="url(#a)"><path fill="#555" d="M0 0h{left}v20H0z"/>'
        f'<path fill="{COLOURS[colour]}" d="M{left} 0h{right}v20H{left}z"/>'
        f'<path fill="url(#b)" d="M0 0h{total}v20H0z"/></g>'
        '<g fill="#fff" text-anchor="middle"'
        ' font-family="DejaVu Sans,Verdana,Geneva,sans-serif" font-size="11">'
        f'<text x="{left / 2}" y="15" fill="#010101" fill-opacity=".3">{label_text}</text>'
        f'<text x="{left / 2}" y="14">{label_text}</text>'
        f'<text x="{left + right / 2}" y="15" fill="#010101" fill-opacity=".3">{message_text}'
        f'</text><text x="{left + right / 2}" y="14">{message_text}</text></g></svg>'
    )


Status = Literal["success", "failed", "stale", "never"]
# pact_broker `badge_status` / `badge_color`.
_PACT_STATUS: dict[Status, tuple[str, Colour]] = {
    "success": ("verified", "brightgreen"),
    "failed": ("failed", "red"),
    "stale": ("changed", "orange"),
    "never": ("unknown", "lightgrey"),
}


def pact_status(status: Status) -> tuple[str, Colour]:
    return _PACT_STATUS[status]


def _initials(name: str) -> str:
    parts = [part for part in name.replace("_", " ").replace("-", " ").split() if part]
    if len(parts) == 1:
        word, parts = parts[0], []
        current = ""
        for char in word:
            if char.isupper() and current and not current[-1].isupper():
                parts.append(current)
                current = ""
            current += char
        parts.append(current)
    return "".join(part[0] for part in parts).lower() if len(parts) > 1 else name.lower()


def pact_title(consumer: str, provider: str, label: str | None, initials: bool) -> str:
    """`badge_title`: "consumer/provider pact", or one side with `label=consumer|provider`."""
    names = {
        "consumer": _initials(consumer) if initials else consumer,
        "provider": _initials(provider) if initials else provider,
    }
    chosen = names.get((label or "").lower(), f"{names['consumer']}/{names['provider']}")
    return f"{chosen} pact".lower()
