"""Small HTML building blocks for the report: every piece of text is escaped here, images are
inlined as base64 PNG data URIs, so the page is one self-contained file with no scripts."""

from __future__ import annotations

import base64
import html

import numpy as np

from ._png import encode_png, to_pixels

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1200px; color: #222; }
h1 { margin-bottom: 0.2em; }
section { border-top: 1px solid #ccc; padding-top: 0.5em; margin-top: 1.2em; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border: 1px solid #bbb; padding: 2px 8px; text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
table.confusion td { min-width: 2.2em; text-align: center; }
figure { display: inline-block; margin: 4px 8px 8px 0; vertical-align: top; }
figcaption { font-size: 0.8em; max-width: 260px; }
img { image-rendering: pixelated; image-rendering: crisp-edges; }
p.note { color: #555; font-size: 0.9em; }
div.row { display: flex; flex-wrap: wrap; gap: 0 2em; align-items: flex-start; }
div.row > section { flex: 0 0 auto; }
div.row > section#summary { flex: 1 1 560px; }
"""


def esc(text) -> str:
    """Text (a layer or class name from an untrusted file, a number) safe inside HTML, including
    attribute values."""
    return html.escape(str(text), quote=True)


def png_data_uri(image, scale: int = 1) -> str:
    return "data:image/png;base64," + base64.b64encode(encode_png(to_pixels(image, scale))).decode(
        "ascii"
    )


def auto_scale(image, target: int = 160, limit: int = 8) -> int:
    """An integer enlargement that makes the shorter side about ``target`` pixels."""
    side = min(np.asarray(image).shape[:2])
    return int(max(1, min(limit, target // max(side, 1))))


def img(image, alt: str, scale: int | None = None) -> str:
    s = auto_scale(image) if scale is None else scale
    return f'<img src="{png_data_uri(image, s)}" alt="{esc(alt)}">'


def figure(image, caption: str, scale: int | None = None) -> str:
    return f"<figure>{img(image, caption, scale)}<figcaption>{esc(caption)}</figcaption></figure>"


def _cell(c) -> str:
    if isinstance(c, tuple):  # (html, css style) for a shaded cell
        return f'<td style="{esc(c[1])}">{c[0]}</td>'
    return f"<td>{c}</td>"


def table(header, rows, cls: str | None = None) -> str:
    """A table of already-escaped cell HTML (use esc() on text); a cell may be (html, style)."""
    attr = f' class="{esc(cls)}"' if cls else ""
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in rows)
    return f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def section(section_id: str, title: str, body: str) -> str:
    return f'<section id="{esc(section_id)}"><h2>{esc(title)}</h2>{body}</section>\n'


def page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head>\n"
        f"<body><h1>{esc(title)}</h1>\n{body}</body></html>\n"
    )
